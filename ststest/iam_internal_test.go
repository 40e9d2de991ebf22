package ststest

import (
	"testing"
	"time"
)

// FuzzParseGoogleDuration checks the emulator's reading of a
// generateAccessToken lifetime never panics and stays in range.
func FuzzParseGoogleDuration(f *testing.F) {
	for _, s := range []string{"3600s", "1.5s", "0s", "s", "-1s", "43200s", "1e9s", "NaNs", "Infs", "0x10s", "3600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseGoogleDuration(s)
		if ok && (d < 0 || d > 10*maxImpersonationLifetime+time.Second) {
			t.Fatalf("parseGoogleDuration(%q) = %v", s, d)
		}
	})
}
