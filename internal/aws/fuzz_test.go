package aws

import (
	"strings"
	"testing"
)

// FuzzRegionFromZone feeds metadata placement/availability-zone answers: a
// region comes back only when it is safe to place in a host name.
func FuzzRegionFromZone(f *testing.F) {
	for _, s := range []string{"us-east-2b", "eu-west-1a\n", "cn-north-1a", "us-gov-west-1c", "", "a", "us-east-2", "us-east-2B",
		"evil.com/x", "-a", "us-east-1-a", "<html>503</html>", strings.Repeat("a", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, zone string) {
		r, ok := RegionFromZone(zone)
		if !ok {
			return
		}
		if !ValidRegion(r) || strings.ContainsAny(r, "./:@?#") {
			t.Fatalf("RegionFromZone(%q) = %q, not a safe region", zone, r)
		}
	})
}
