package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestRewriteRefreshToken: the rotated refresh token replaces the value of
// the one member spelled refresh_token and nothing else; files where
// another spelling could keep the old token are refused and left as they
// are; links are written through; the mode stays.
func TestRewriteRefreshToken(t *testing.T) {
	const body = "{\n\t\"type\": \"external_account_authorized_user\",\n\t\"refresh_token\":\"old-refresh-1f2e\",  \"client_id\" : \"c\",\n\t\"x-user-note\": {\"keep\": [1, 2.50, \"\\u00e9\"]}\n}\n"
	const want = "{\n\t\"type\": \"external_account_authorized_user\",\n\t\"refresh_token\":\"new-refresh-9a8b\",  \"client_id\" : \"c\",\n\t\"x-user-note\": {\"keep\": [1, 2.50, \"\\u00e9\"]}\n}\n"
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}

	t.Run("only the value changes", func(t *testing.T) {
		p := write("plain.json", body, 0o640)
		if err := rewriteRefreshToken(p, "new-refresh-9a8b"); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if string(got) != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
		if st, _ := os.Stat(p); runtime.GOOS != "windows" && st.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, want 0640", st.Mode())
		}
	})

	for _, tc := range []struct{ name, content, reason string }{
		{"another case", `{"refresh_token":"old-refresh-1f2e","Refresh_Token":"old-refresh-1f2e"}`, "differ only in case"},
		{"only another case", `{"REFRESH_TOKEN":"old-refresh-1f2e"}`, `differs from "refresh_token" only in case`},
		{"kelvin sign", `{"refresh_token":"x","refresh_to\u212aen":"old-refresh-1f2e"}`, `\u212a`},
		{"long s", `{"refresh_token":"x","refre\u017fh_token":"old-refresh-1f2e"}`, `\u017f`},
		{"duplicate", `{"refresh_token":"x","refresh_token":"old-refresh-1f2e"}`, "duplicate key"},
		{"escaped duplicate", `{"refresh_token":"x","refresh_\u0074oken":"old-refresh-1f2e"}`, "duplicate key"},
		{"confusable", `{"refresh_token":"x","refresh-token":"old-refresh-1f2e"}`, `looks like "refresh_token"`},
		{"nested case pair", `{"refresh_token":"x","n":{"a":1,"A":2}}`, "n.A"},
		{"no member", `{"type":"external_account_authorized_user"}`, `no member "refresh_token"`},
		{"not a string", `{"refresh_token":["old-refresh-1f2e"]}`, "not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(strings.ReplaceAll(tc.name, " ", "-")+".json", tc.content, 0o600)
			err := rewriteRefreshToken(p, "new-refresh-9a8b")
			if err == nil || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err = %v, want %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), "new-refresh-9a8b") {
				t.Errorf("error quotes the new token: %v", err)
			}
			if got, _ := os.ReadFile(p); string(got) != tc.content {
				t.Errorf("refused file changed: %s", got)
			}
		})
	}

	t.Run("impersonated file", func(t *testing.T) {
		const imp = `{"type":"impersonated_service_account","service_account_impersonation_url":"x",` +
			`"source_credentials":{"type":"external_account_authorized_user","refresh_token":"old-refresh-1f2e","client_id":"c"}}`
		p := write("imp.json", imp, 0o600)
		if err := rewriteRefreshToken(p, "new-refresh-9a8b"); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != strings.Replace(imp, "old-refresh-1f2e", "new-refresh-9a8b", 1) {
			t.Errorf("got %s", got)
		}
	})

	t.Run("symlink", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("symbolic links need privileges on Windows")
		}
		target := write("target.json", body, 0o600)
		link := filepath.Join(dir, "link.json")
		if err := os.Symlink("target.json", link); err != nil {
			t.Fatal(err)
		}
		if err := rewriteRefreshToken(link, "new-refresh-9a8b"); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(target); string(got) != want {
			t.Errorf("target not updated: %s", got)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Errorf("link replaced: %v %v", st.Mode(), err)
		}
	})

	t.Run("hard link", func(t *testing.T) {
		p := write("hard.json", body, 0o600)
		if err := os.Link(p, filepath.Join(dir, "hard2.json")); err != nil {
			t.Skip(err)
		}
		err := rewriteRefreshToken(p, "new-refresh-9a8b")
		if runtime.GOOS != "windows" && (err == nil || !strings.Contains(err.Error(), "hard links")) {
			t.Errorf("err = %v, want a refusal", err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "hard2.json")); runtime.GOOS != "windows" && !bytes.Equal(got, []byte(body)) {
			t.Errorf("other name changed: %s", got)
		}
	})
}
