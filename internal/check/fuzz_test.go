package check

import (
	"strings"
	"testing"

	"github.com/stsgo/sts/internal/iam"
)

// FuzzImpersonationURL checks the service account read from a
// generateAccessToken URL: never a panic, a typed error, and a principal
// that round-trips through the endpoint built for it.
func FuzzImpersonationURL(f *testing.F) {
	for _, s := range []string{
		"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken",
		"http://127.0.0.1:8080/v1/projects/-/serviceAccounts/123456789:generateAccessToken",
		"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/:generateAccessToken",
		"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a%2Fb@p:generateAccessToken",
		"https://x/serviceAccounts/a:generateAccessToken",
		"http://example.com/v1/projects/-/serviceAccounts/a@b:generateAccessToken",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := ImpersonationURL("u", raw)
		if err != nil {
			if err.Field != "u" {
				t.Fatalf("error %v", err)
			}
			return
		}
		if p == "" || strings.ContainsAny(p, "/:?# ") {
			t.Fatalf("principal %q", p)
		}
		back, err := ImpersonationURL("u", iam.AccessTokenURL("googleapis.com", p))
		if err != nil || back != p {
			t.Fatalf("round trip of %q: %q, %v", p, back, err)
		}
	})
}
