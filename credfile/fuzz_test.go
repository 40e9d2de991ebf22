package credfile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
)

// FuzzLoadCredentials checks that any input either loads or fails with a
// typed error starting "sts: " that does not quote the file's secrets.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "credentials", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"type":"external_account"`, `{"type":1}`,
		`{"type":"external_account","audience":"//x","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","credential_source":{"file":"f","url":"http://127.0.0.1"}}`,
		`{"type":"external_account_authorized_user","refresh_token":"SECRET-rt-xyz","client_id":"a","client_secret":"SECRET-cs-xyz","token_url":"http://x/"}`,
		`{"type":"external_account","audience":"//x","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","client_id":"a","client_secret":"SECRET-cs-abc","credential_source":{"executable":{"command":"'unterminated","timeout_millis":"9e99"}}}`,
		`{"type":"external_account","service_account_impersonation":{"token_lifetime_seconds":"1e400"}}`,
		`{"type":"external_account","token_url":"https://sts.googleapis.com/v1/token","TOKEN_URL":"https://evil.example/"}`,
		`{"type":"external_account","to\u212aen_url":"https://evil.example/","credential_source":{"file":"a","File":"b"}}`,
		`{"type":"authorized_user","client_id":"c","client_secret":"SECRET-cs-q","refresh_token":"SECRET-rt-q","token_uri":"http://127.0.0.1:1/token"}`,
		`{"type":"impersonated_service_account","service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@b.iam.gserviceaccount.com:generateAccessToken","source_credentials":{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r"}}`,
		`{"type":"service_account","client_email":"a@b.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"}`,
		`{"type":"external_account","subject_tokn_type":"x","audience":"//x","credential_source":{"fiel":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	env := fixture.EnvMap(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Load(data, Options{Getenv: env})
		if err == nil {
			if c.TokenSource() == nil || c.String() == "" || len(c.JSON()) == 0 {
				t.Fatal("loaded credentials are incomplete")
			}
			// No key of a loaded file hides another: each is printable
			// ASCII and no two differ only in case.
			var m map[string]json.RawMessage
			if json.Unmarshal(data, &m) == nil {
				for k := range m {
					for _, r := range k {
						if r <= ' ' || r >= 0x7f {
							t.Fatalf("loaded a file with key %q", k)
						}
					}
					for k2 := range m {
						if k != k2 && strings.EqualFold(k, k2) {
							t.Fatalf("loaded a file with keys %q and %q", k, k2)
						}
					}
				}
			}
			return
		}
		var ve *sts.ValidationError
		var se *sts.Error
		if !errors.As(err, &ve) && !errors.As(err, &se) {
			t.Fatalf("error %v is %T, want *sts.ValidationError or *sts.Error", err, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "sts: ") {
			t.Fatalf("error %q lacks the sts: prefix", msg)
		}
		// Secrets present only in their own field must not be quoted.
		var m map[string]any
		if json.Unmarshal(data, &m) != nil {
			return
		}
		for _, k := range []string{"client_secret", "refresh_token"} {
			s, _ := m[k].(string)
			if len(s) < 6 || countContaining(m, s) != 1 {
				continue
			}
			if !strings.Contains(msg, s) {
				continue
			}
			// The message may hold s as its own text ("googleapis.com"
			// holds "is.com"): it quotes the secret only if that text
			// goes away with the secret.
			m[k] = "\u0001other"
			other, _ := json.Marshal(m)
			if _, err2 := Load(other, Options{Getenv: env}); err2 == nil || !strings.Contains(err2.Error(), s) {
				t.Fatalf("error quotes %s: %q", k, msg)
			}
		}
	})
}

// countContaining counts the strings (keys and values) of v that contain s.
func countContaining(v any, s string) int {
	n := 0
	switch x := v.(type) {
	case string:
		if strings.Contains(x, s) {
			n++
		}
	case map[string]any:
		for k, e := range x {
			if strings.Contains(k, s) {
				n++
			}
			n += countContaining(e, s)
		}
	case []any:
		for _, e := range x {
			n += countContaining(e, s)
		}
	}
	return n
}
