package credfile

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

func TestLoadExecutable(t *testing.T) {
	srv := ststest.NewServer(ststest.Options{ValidateSubject: func(typ, tok string) error {
		if typ != sts.TokenTypeJWT || tok != fixture.ExecToken {
			return errors.New("unexpected subject")
		}
		return nil
	}})
	defer srv.Close()
	file := func(command string, timeoutMillis any) []byte {
		b, err := json.Marshal(map[string]any{
			"type":               "external_account",
			"audience":           fixture.ExecAud,
			"subject_token_type": sts.TokenTypeJWT,
			"token_url":          srv.TokenURL(),
			"credential_source": map[string]any{"executable": map[string]any{
				"command": command, "timeout_millis": timeoutMillis,
				"output_file": filepath.Join(t.TempDir(), "out.json"),
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	line := fixture.ExecCommandLine(t, sts.TokenTypeJWT, fixture.ExecToken)

	c, err := Load(file(line, 5000), Options{HTTPOptions: sts.HTTPOptions{HTTPClient: srv.Client()}, Getenv: fixture.AllowExecutables})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := c.TokenSource().Token(); err != nil || !tok.Valid() {
		t.Fatalf("Token: %v", err)
	}

	// Loading runs nothing; the gate is checked when a token is needed.
	c, err = Load(file(line, 5000), Options{HTTPOptions: sts.HTTPOptions{HTTPClient: srv.Client()}, Getenv: fixture.EnvMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.TokenSource().Token()
	var se *sts.Error
	if !errors.As(err, &se) || se.Op != "subject" || !strings.Contains(err.Error(), "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1") {
		t.Errorf("Token with executables not allowed: %v", err)
	}

	for _, tt := range []struct {
		command string
		timeout any
		field   string
	}{
		{`"/opt/unterminated --x`, 5000, "credential_source.executable.command"},
		{`/opt/prog trailing\`, 5000, "credential_source.executable.command"},
		{`/opt/prog`, 4000, "credential_source.executable.timeout_millis"},
	} {
		_, err := Load(file(tt.command, tt.timeout), Options{Getenv: fixture.AllowExecutables})
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("command %q timeout %v: %v, want a *sts.ValidationError for %s", tt.command, tt.timeout, err, tt.field)
		}
	}
}

// TestLoadExecutableCommandLine: a file's command line is split with
// quoting honoured, never through a shell; a line that cannot be split
// names the field.
func TestLoadExecutableCommandLine(t *testing.T) {
	src := func(command string) (*source, error) {
		return buildSource(&credentialSource{Executable: &executableSource{Command: &command}}, sts.TokenTypeJWT, &Options{})
	}
	s, err := src(`"/opt/my tools/fetch token" --audience 'a b' c\ d`)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.exe.Command; !slices.Equal(got, []string{"/opt/my tools/fetch token", "--audience", "a b", "c d"}) {
		t.Fatalf("got %q", got)
	}
	for _, bad := range []string{"", "   ", `"/opt/x`, `prog 'x`, `prog \`, `'' --flag`, "prog \x00"} {
		_, err := src(bad)
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != "credential_source.executable.command" || !strings.HasPrefix(err.Error(), "sts: invalid credential_source.executable.command: ") {
			t.Errorf("command %q: %v", bad, err)
		}
	}
	out := "out\x00put"
	_, err = buildSource(&credentialSource{Executable: &executableSource{Command: ptr("prog"), OutputFile: out}}, sts.TokenTypeJWT, &Options{})
	wantField(t, err, "credential_source.executable.output_file")
}

func ptr[T any](v T) *T { return &v }

// TestPlainHTTPRefusedForFileEndpoints: a file's endpoints take
// credentials only over https, or plain http to loopback hosts.
func TestPlainHTTPRefusedForFileEndpoints(t *testing.T) {
	const base = `{"type":"external_account","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","client_id":"` + fixture.ClientID + `","client_secret":"` + fixture.ClientSecret + `","credential_source":{"file":"/var/run/token"}}`
	const user = `{"type":"external_account_authorized_user","refresh_token":"` + fixture.RefreshToken + `","client_id":"` + fixture.ClientID + `","client_secret":"` + fixture.ClientSecret + `"}`
	load := func(base, key, u string) error {
		_, err := Load(fixture.Mutate(nil, base, key, u), Options{Getenv: fixture.EnvMap(nil)})
		return err
	}
	fields := map[string]func(u string) error{
		"token_url":      func(u string) error { return load(base, "token_url", u) },
		"token_info_url": func(u string) error { return load(base, "token_info_url", u) },
		"service_account_impersonation_url": func(u string) error {
			return load(base, "service_account_impersonation_url", strings.Replace(u, "/v1/token", "/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken", 1))
		},
		"token_url (authorized user)": func(u string) error {
			return load(user, "token_url", strings.Replace(u, "/v1/token", "/v1/oauthtoken", 1))
		},
		"revoke_url (authorized user)": func(u string) error { return load(user, "revoke_url", u) },
	}
	for name, try := range fields {
		for _, u := range fixture.InsecureURLs {
			err := try(u)
			var ve *sts.ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("%s = %q: err = %v, want a *sts.ValidationError", name, u, err)
				continue
			}
			if strings.Contains(err.Error(), fixture.ClientSecret) {
				t.Errorf("%s = %q: error shows the password: %v", name, u, err)
			}
		}
		for _, u := range fixture.LoopbackURLs {
			if err := try(u); err != nil {
				t.Errorf("%s = %q (loopback): %v", name, u, err)
			}
		}
	}
}
