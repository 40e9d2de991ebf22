package credfile

import (
	"encoding/json"
	"errors"
	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	} {
		f.Add([]byte(s))
	}
	env := fixture.EnvMap(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Load(data, Options{Getenv: env})
		if err == nil {
			if c.TokenSource() == nil || c.String() == "" || c.GoogleCredentials() == nil {
				t.Fatal("loaded credentials are incomplete")
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
			if strings.Contains(msg, s) {
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
