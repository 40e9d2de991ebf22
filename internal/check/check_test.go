package check

import (
	"strings"
	"testing"
	"time"
)

func TestAudience(t *testing.T) {
	for _, tc := range []struct {
		aud, want string
	}{
		{"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x", ""},
		{"", "must not be empty"},
		{"iam.googleapis.com/x", "full resource name"},
		{"//iam.googleapis.com/x y", "spaces or control"},
		{"//iam.googleapis.com/x\x7f", "spaces or control"},
		{"//iam.googleapis.com/x\n", "spaces or control"},
	} {
		err := Audience("Config.Audience", tc.aud)
		if tc.want == "" {
			if err != nil {
				t.Errorf("Audience(%q) = %v", tc.aud, err)
			}
			continue
		}
		if err == nil || err.Field != "Config.Audience" || !strings.Contains(err.Reason, tc.want) {
			t.Errorf("Audience(%q) = %v, want field Config.Audience and %q", tc.aud, err, tc.want)
		}
	}
}

func TestWorkforceAudience(t *testing.T) {
	const wf = "//iam.googleapis.com/locations/global/workforcePools/pool/providers/p"
	for _, tc := range []struct {
		aud, universe string
		want          bool
	}{
		{wf, "", true},
		{wf, "googleapis.com", true},
		{wf, "example.com", false},
		{"//iam.example.com/locations/global/workforcePools/pool/providers/p", "", true},
		{"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x", "", false},
		{"//iam.googleapis.com/locations//workforcePools/pool", "", false},
		{"//iam.googleapis.com/locations/global/workforcePools/", "", false},
		{"//sts.googleapis.com/locations/global/workforcePools/pool", "", false},
		{"", "", false},
	} {
		if got := WorkforceAudience(tc.aud, tc.universe); got != tc.want {
			t.Errorf("WorkforceAudience(%q, %q) = %t, want %t", tc.aud, tc.universe, got, tc.want)
		}
	}
}

func TestHeadersCaseDuplicates(t *testing.T) {
	if err := Headers("f", map[string]string{"Metadata": "True", "X-A": "1"}); err != nil {
		t.Errorf("distinct names: %v", err)
	}
	for range 20 { // map order must not change the answer
		err := Headers("f", map[string]string{"metadata": "a", "Metadata": "b", "X": "c"})
		if err == nil || err.Field != "f" || err.Reason != `header names "Metadata" and "metadata" differ only in case` {
			t.Fatalf("names differing in case: %v", err)
		}
	}
}

func TestHeader(t *testing.T) {
	for _, tc := range []struct {
		name, value, field string
	}{
		{"Metadata", "True", ""},
		{"X-Goog-Thing", "a b", ""},
		{"", "v", "f"},
		{"Bad Name", "v", "f"},
		{"Bad:Name", "v", "f"},
		{"Bad(Name)", "v", "f"},
		{"Bad\u00e9", "v", "f"},
		{"Authorization", "Bearer x\r\nInjected: 1", "f.Authorization"},
		{"Authorization", "x\x00", "f.Authorization"},
		{"Authorization", "x\x1b[0m", "f.Authorization"},
		{"Authorization", "x\x7f", "f.Authorization"},
		{"Metadata", "\u201cTrue\u201d", "f.Metadata"},
		{"X-Tab", "a\tb", ""},
	} {
		err := Header("f", tc.name, tc.value)
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("Header(%q) = %v", tc.name, err)
		case tc.field != "" && (err == nil || err.Field != tc.field):
			t.Errorf("Header(%q, %q) = %v, want field %s", tc.name, tc.value, err, tc.field)
		case err != nil && strings.Contains(err.Error(), tc.value) && tc.value != "v":
			t.Errorf("Header error quotes the value: %v", err)
		}
	}
}

func TestScopes(t *testing.T) {
	if err := Scopes("Config.Scopes", []string{"a", "https://x/y"}); err != nil {
		t.Fatal(err)
	}
	if err := Scopes("Config.Scopes", nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "a b", "a\tb", "a\x00"} {
		err := Scopes("Config.Scopes", []string{"ok", bad})
		if err == nil || err.Field != "Config.Scopes[1]" {
			t.Errorf("Scopes(%q) = %v, want Config.Scopes[1]", bad, err)
		}
	}
}

func TestURLs(t *testing.T) {
	for _, tc := range []struct {
		raw               string
		endpoint, source  bool
		wantReasonPartial string
	}{
		{"https://sts.googleapis.com/v1/token", true, true, ""},
		{"http://127.0.0.1:8080/v1/token", true, true, ""},
		{"http://[::1]:8080/x", true, true, ""},
		{"http://sts.localhost/x", false, true, "loopback"},
		{"http://localhost./x", false, true, "loopback"},
		{"http://localhost:8080/x", true, true, ""},
		{"http://169.254.169.254/x", false, true, "loopback"},
		{"ftp://example.com/x", false, false, "scheme"},
		{"", false, false, "empty"},
		{"/relative", false, false, "no host"},
		{"https://user:pw@example.com/", false, false, "user information"},
		{"https://exa mple.com/%zz", false, false, "valid URL"},
	} {
		e1, e2 := Endpoint("F", tc.raw), SourceURL("F", tc.raw)
		if (e1 == nil) != tc.endpoint || (e2 == nil) != tc.source {
			t.Errorf("%q: Endpoint = %v, SourceURL = %v", tc.raw, e1, e2)
		}
		for _, e := range []*Error{e1, e2} {
			if e != nil && strings.Contains(e.Reason, "pw") {
				t.Errorf("%q: error quotes the password: %v", tc.raw, e)
			}
		}
		if tc.wantReasonPartial != "" && e1 != nil && !strings.Contains(e1.Reason, tc.wantReasonPartial) && !strings.Contains(e2.Error(), tc.wantReasonPartial) {
			t.Errorf("%q: %v, want %q", tc.raw, e1, tc.wantReasonPartial)
		}
	}
}

func TestLoopbackAndDomain(t *testing.T) {
	for h, want := range map[string]bool{"localhost": true, "LOCALHOST.": false, "a.localhost": false, "127.1.2.3": true, "127.1": false,
		"::1": true, "[::1]": true, "example.com": false, "10.0.0.1": false, "": false} {
		if got := Loopback(h); got != want {
			t.Errorf("Loopback(%q) = %t", h, got)
		}
	}
	for d, want := range map[string]bool{"googleapis.com": true, "a-b.example": true, "com": false, ".com": false,
		"a.com.": false, "a_b.com": false, strings.Repeat("a.", 127) + "com": false} {
		if got := Domain(d); got != want {
			t.Errorf("Domain(%q) = %t", d, got)
		}
	}
	if err := Universe("U", ""); err != nil {
		t.Error(err)
	}
	if err := Universe("U", "bad domain"); err == nil || err.Field != "U" {
		t.Errorf("Universe = %v", err)
	}
}

func TestTimeoutsAndRetry(t *testing.T) {
	if err := ExecutableTimeout("T", 5*time.Second); err != nil {
		t.Error(err)
	}
	for _, d := range []time.Duration{0, 4 * time.Second, 121 * time.Second} {
		if err := ExecutableTimeout("T", d); err == nil || err.Field != "T" {
			t.Errorf("ExecutableTimeout(%v) = %v", d, err)
		}
	}
	if err := InteractiveTimeout("I", 30*time.Minute); err != nil {
		t.Error(err)
	}
	if err := InteractiveTimeout("I", 31*time.Minute); err == nil {
		t.Error("InteractiveTimeout(31m) accepted")
	}
	if err := NonNegative("X", -1); err == nil || err.Field != "X" {
		t.Errorf("NonNegative = %v", err)
	}
	for _, tc := range []struct {
		n        int
		ib, mb   time.Duration
		wantPath string
	}{
		{-1, 0, 0, "R.MaxAttempts"}, {21, 0, 0, "R.MaxAttempts"}, {0, -1, 0, "R.InitialBackoff"}, {0, 0, -1, "R.MaxBackoff"},
	} {
		if err := Retry("R", tc.n, tc.ib, tc.mb); err == nil || err.Field != tc.wantPath {
			t.Errorf("Retry(%d, %v, %v) = %v, want %s", tc.n, tc.ib, tc.mb, err, tc.wantPath)
		}
	}
	if err := Retry("R", 20, 0, 0); err != nil {
		t.Error(err)
	}
}

func TestPrincipalAndProject(t *testing.T) {
	if err := Principal("P", "sa@p.iam.gserviceaccount.com"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "a/b", "a b", "a:b", strings.Repeat("a", 321), "a\x01"} {
		if err := Principal("P", bad); err == nil || err.Field != "P" {
			t.Errorf("Principal(%q) = %v", bad, err)
		}
	}
	if err := ProjectID("Q", "my-project"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"a b", "a\n", strings.Repeat("a", 101)} {
		if err := ProjectID("Q", bad); err == nil {
			t.Errorf("ProjectID(%q) accepted", bad)
		}
	}
}

func TestErrorText(t *testing.T) {
	if got := Errorf("a.b", "must be %d", 3).Error(); got != "sts: invalid a.b: must be 3" {
		t.Errorf("text %q", got)
	}
}

func TestImpersonation(t *testing.T) {
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{{10 * time.Minute, true}, {12 * time.Hour, true}, {9 * time.Minute, false}, {13 * time.Hour, false}, {20*time.Minute + time.Millisecond, false}} {
		if err := ImpersonationLifetime("L", tc.d); (err == nil) != tc.ok {
			t.Errorf("ImpersonationLifetime(%v) = %v", tc.d, err)
		}
	}
	const ok = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p:generateAccessToken"
	if p, err := ImpersonationURL("U", ok); err != nil || p != "sa@p" {
		t.Errorf("ImpersonationURL = %q, %v", p, err)
	}
	for _, bad := range []string{
		"http://example.com/v1/projects/-/serviceAccounts/sa@p:generateAccessToken",
		"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p",
		"https://iamcredentials.googleapis.com/v1/sa@p:generateAccessToken",
		"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/:generateAccessToken",
	} {
		if _, err := ImpersonationURL("U", bad); err == nil || err.Field != "U" {
			t.Errorf("ImpersonationURL(%q) = %v", bad, err)
		}
	}
	if err := NonNegative("N", 0); err != nil {
		t.Error(err)
	}
}

// TestEndpointRemembersOnlyWhatPassed: an endpoint checked again (the memo
// of the last one that passed) still passes, and a bad one checked after it
// still fails, however they alternate.
func TestEndpointRemembersOnlyWhatPassed(t *testing.T) {
	good, bad := "https://sts.googleapis.com/v1/token", "http://sts.googleapis.com/v1/token"
	for range 3 {
		if err := Endpoint("f", good); err != nil {
			t.Fatalf("good: %v", err)
		}
		if err := Endpoint("f", bad); err == nil {
			t.Fatal("bad endpoint passed after a good one")
		}
		if err := Endpoint("f", bad); err == nil {
			t.Fatal("bad endpoint passed on its second check")
		}
	}
}
