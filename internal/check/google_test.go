package check

import (
	"strings"
	"testing"
)

func TestGoogleHost(t *testing.T) {
	for _, tc := range []struct {
		service, universe, host string
		want                    bool
	}{
		{ServiceSTS, "", "sts.googleapis.com", true},
		{ServiceSTS, "", "STS.GoogleAPIs.com.", true},
		{ServiceSTS, "", "sts.mtls.googleapis.com", true},
		{ServiceSTS, "", "us-east1.sts.googleapis.com", true},
		{ServiceSTS, "", "us-east1.sts.mtls.googleapis.com", true},
		{ServiceSTS, "", "sts.us-east1.googleapis.com", true},
		{ServiceSTS, "", "europe-west1-sts.googleapis.com", true},
		{ServiceSTS, "", "sts-myendpoint.p.googleapis.com", true},
		{ServiceSTS, "", "sts-myendpoint.p.mtls.googleapis.com", true},
		{ServiceSTS, "", "sts.me-central2.rep.googleapis.com", true},
		{ServiceSTS, "example.com", "sts.example.com", true},
		{ServiceIAMCredentials, "", "iamcredentials.googleapis.com", true},
		{ServiceIAMCredentials, "", "iamcredentials-psc.p.googleapis.com", true},
		{ServiceIAMCredentials, "", "iamcredentials.mtls.googleapis.com", true},
		{ServiceOAuth2, "", "oauth2.googleapis.com", true},
		{ServiceOAuth2, "", "accounts.google.com", true},

		{ServiceSTS, "", "googleapis.com", false},
		{ServiceSTS, "", "sts.googleapis.com.evil.example", false},
		{ServiceSTS, "", "evil.example", false},
		{ServiceSTS, "", "stsgoogleapis.com", false},
		{ServiceSTS, "", "xsts.googleapis.com", false},
		{ServiceSTS, "", "storage.googleapis.com", false},
		{ServiceSTS, "", "iamcredentials.googleapis.com", false},
		{ServiceIAMCredentials, "", "sts.googleapis.com", false},
		{ServiceSTS, "", "a.b.sts.googleapis.com", false},
		{ServiceSTS, "", "sts.a.b.c.googleapis.com", false},
		{ServiceSTS, "", "sts.a.rep.mtls.googleapis.com", false},
		{ServiceSTS, "", "sts-x.q.googleapis.com", false},
		{ServiceSTS, "", "-sts.googleapis.com", false},
		{ServiceSTS, "", "evil。sts.googleapis.com", false},
		{ServiceSTS, "", "sts.googleapis。com", false},
		{ServiceSTS, "", "ѕts.googleapis.com", false}, // Cyrillic dze
		{ServiceSTS, "", "sts..googleapis.com", false},
		{ServiceSTS, "", "sts.example.com", false},
		{ServiceSTS, "example.com", "sts.googleapis.com", false},
		{ServiceOAuth2, "example.com", "accounts.google.com", false},
		{ServiceSTS, "", "accounts.google.com", false},
		{"", "", "googleapis.com", false},
	} {
		if got := GoogleHost(tc.service, tc.universe, tc.host); got != tc.want {
			t.Errorf("GoogleHost(%q, %q, %q) = %t", tc.service, tc.universe, tc.host, got)
		}
	}
}

func TestFileEndpoint(t *testing.T) {
	for _, tc := range []struct {
		raw, service, universe string
		allowed                []string
		want                   string
	}{
		{"https://sts.googleapis.com/v1/token", ServiceSTS, "", nil, ""},
		{"https://sts.example.com/v1/token", ServiceSTS, "example.com", nil, ""},
		{"http://127.0.0.1:8080/v1/token", ServiceSTS, "", nil, ""},
		{"https://[::1]/v1/token", ServiceSTS, "", nil, ""},
		{"https://sts.corp.example/v1/token", ServiceSTS, "", []string{"sts.corp.example"}, ""},
		{"https://a.corp.example/v1/token", ServiceSTS, "", []string{"*.corp.example"}, ""},
		{"https://corp.example/v1/token", ServiceSTS, "", []string{"*.corp.example"}, `host "corp.example" is not a Google sts endpoint`},
		{"https://evil.example/v1/token", ServiceSTS, "", nil, `host "evil.example" is not a Google sts endpoint of universe "googleapis.com"`},
		{"https://sts.googleapis.com.evil.example/", ServiceSTS, "", nil, "not a Google sts endpoint"},
		{"https://iamcredentials.googleapis.com/v1/x", ServiceSTS, "", nil, "not a Google sts endpoint"},
		{"http://sts.googleapis.com/v1/token", ServiceSTS, "", nil, "plain http"},
		{"https://user:pw@sts.googleapis.com/v1/token", ServiceSTS, "", nil, "user information"},
		{"https://sts.googleapis.com/v1/token", ServiceSTS, "example.com", nil, `universe "example.com"`},
	} {
		err := FileEndpoint("token_url", tc.raw, tc.service, tc.universe, tc.allowed)
		if tc.want == "" {
			if err != nil {
				t.Errorf("FileEndpoint(%q) = %v", tc.raw, err)
			}
			continue
		}
		if err == nil || err.Field != "token_url" || !strings.Contains(err.Reason, tc.want) {
			t.Errorf("FileEndpoint(%q) = %v, want %q", tc.raw, err, tc.want)
		}
	}
}

func TestFileUniverse(t *testing.T) {
	for _, tc := range []struct {
		file, caller string
		ok           bool
	}{
		{"", "", true}, {"googleapis.com", "", true}, {"", "googleapis.com", true},
		{"Example.com", "example.com", true}, {"example.com", "", false}, {"", "example.com", false},
		{"evil.example", "example.com", false}, {"not a domain", "not a domain", false},
	} {
		err := FileUniverse("universe_domain", tc.file, tc.caller)
		if (err == nil) != tc.ok || (err != nil && err.Field != "universe_domain") {
			t.Errorf("FileUniverse(%q, %q) = %v", tc.file, tc.caller, err)
		}
	}
}

func TestAllowedHosts(t *testing.T) {
	if err := AllowedHosts("Options.AllowedHosts", []string{"sts.corp.example", "*.corp.example", "10.0.0.1", "[::1]", "::1"}); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "*", "*.com", "https://x.example", "x.example:443", "x.example/p", "a.*.example", "x y.example"} {
		err := AllowedHosts("Options.AllowedHosts", []string{"ok.example", bad})
		if err == nil || err.Field != "Options.AllowedHosts[1]" {
			t.Errorf("AllowedHosts(%q) = %v", bad, err)
		}
	}
}

func TestSourceHeaders(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		headers int
		ok      bool
	}{
		{"http://169.254.169.254/metadata/identity/oauth2/token", 1, true},
		{"http://[fd00:ec2::254]/latest", 1, true},
		{"http://metadata.google.internal/computeMetadata/v1/x", 1, true},
		{"http://127.0.0.1:9999/token", 1, true},
		{"https://idp.example/token", 2, true},
		{"http://idp.example/token", 0, true},
		{"http://idp.example/token", 1, false},
		{"http://10.0.0.1/token", 1, false},
		{"http://169.254.169.254.evil.example/x", 1, false},
		{"http://metadata.google.internal.evil.example/x", 1, false},
	} {
		err := SourceHeaders("credential_source.url", tc.raw, tc.headers)
		if (err == nil) != tc.ok || (err != nil && err.Field != "credential_source.url") {
			t.Errorf("SourceHeaders(%q, %d) = %v", tc.raw, tc.headers, err)
		}
	}
}

// FuzzGoogleHost: a host accepted for a universe ends with it after a dot
// and holds only lower-case-able ASCII labels.
func FuzzGoogleHost(f *testing.F) {
	for _, s := range []string{"sts.googleapis.com", "sts-x.p.mtls.googleapis.com", "evil.example", "sts.a.rep.googleapis.com", "x。sts.googleapis.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !GoogleHost(ServiceSTS, "", host) {
			return
		}
		h := strings.ToLower(strings.TrimSuffix(host, "."))
		if !strings.HasSuffix(h, ".googleapis.com") || !strings.Contains(h, "sts") {
			t.Fatalf("accepted %q", host)
		}
		for _, r := range h {
			if !(r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
				t.Fatalf("accepted %q with %q", host, r)
			}
		}
	})
}
