package credfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/ttytest"
	"github.com/stsgo/sts/ststest"
)

const interactiveAud = "//iam.googleapis.com/locations/global/workforcePools/wf-pool/providers/exec"

// interactiveFile is a workforce file whose executable prompts for a
// password on the terminal (the test binary's "interact" mode).
func interactiveFile(t *testing.T, emu *ststest.Server, answer string) map[string]any {
	return map[string]any{
		"type":                        "external_account",
		"audience":                    interactiveAud,
		"subject_token_type":          sts.TokenTypeIDToken,
		"token_url":                   emu.TokenURL(),
		"workforce_pool_user_project": "example-project",
		"credential_source": map[string]any{"executable": map[string]any{
			"command":                    fixture.QuoteCommand(t, fixture.ExecHelper(t, "interact", answer)),
			"interactive_timeout_millis": 60000,
			"output_file":                filepath.Join(t.TempDir(), "out.json"),
		}},
	}
}

// TestLoadInteractiveExecutable: with Options.Terminal, a workforce file's
// executable runs on the terminal, prompts there, and its token (from the
// output file) is exchanged.
func TestLoadInteractiveExecutable(t *testing.T) {
	u, term := ttytest.StartUser(t, "Password: ", "hunter2")
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	c, err := Load(encodeMap(t, interactiveFile(t, emu, "hunter2")), Options{
		HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}, Getenv: fixture.AllowExecutables, Terminal: term,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := emu.Lookup(tok.AccessToken); !ok || info.Audience != interactiveAud {
		t.Errorf("token %+v", info)
	}
	u.Stop()
	if !strings.Contains(u.Transcript(), "Password: ") {
		t.Errorf("terminal showed %q, no prompt", u.Transcript())
	}
}

// TestLoadInteractiveRefused: an interactive load needs the interactive
// time-out, the output file, a workforce pool and a terminal; each missing
// one is a *sts.ValidationError naming it. Without a Terminal the same
// files load as before, and a terminal does not bother other sources.
func TestLoadInteractiveRefused(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	_, term := ttytest.StartUser(t, "", "")
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	exe := func(m map[string]any) map[string]any {
		return m["credential_source"].(map[string]any)["executable"].(map[string]any)
	}
	for _, tc := range []struct {
		name     string
		edit     func(m map[string]any)
		terminal *os.File
		field    string
	}{
		{"no interactive time-out", func(m map[string]any) { delete(exe(m), "interactive_timeout_millis") }, term,
			"credential_source.executable.interactive_timeout_millis"},
		{"no output file", func(m map[string]any) { delete(exe(m), "output_file") }, term, "credential_source.executable.output_file"},
		{"workload pool", func(m map[string]any) {
			m["audience"] = fixture.ExecAud
			delete(m, "workforce_pool_user_project")
		}, term, "audience"},
		{"not a terminal", func(map[string]any) {}, null, "credfile.Options.Terminal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := interactiveFile(t, emu, "hunter2")
			tc.edit(m)
			opts := Options{HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}, Getenv: fixture.AllowExecutables}
			if _, err := Load(encodeMap(t, m), opts); err != nil {
				t.Fatalf("without a terminal: %v", err)
			}
			opts.Terminal = tc.terminal
			_, err := Load(encodeMap(t, m), opts)
			var ve *sts.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("Load: %v; want a *sts.ValidationError for %s", err, tc.field)
			}
		})
	}
	file := map[string]any{
		"type": "external_account", "audience": fixture.ExecAud, "subject_token_type": sts.TokenTypeJWT,
		"token_url": emu.TokenURL(), "credential_source": map[string]any{"file": filepath.Join(t.TempDir(), "token")},
	}
	if _, err := Load(encodeMap(t, file), Options{Terminal: null}); err != nil {
		t.Errorf("file source with a terminal option: %v", err)
	}
}
