//go:build unix

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stsgo/sts/internal/proctest"
	"github.com/stsgo/sts/ststest"
)

// TestExecutableEndsWithCommand: a credential executable still running
// when sts gives up (--timeout) or is interrupted (SIGINT, SIGTERM) is
// killed, with everything it started, before sts exits. The executable has
// a process group of its own, which no signal of the terminal reaches, and
// runs under the cache's refresh deadline, not the command's: left alone,
// it would outlive sts.
func TestExecutableEndsWithCommand(t *testing.T) {
	dir := t.TempDir()
	emu := ststest.NewServer(ststest.Options{})
	t.Cleanup(emu.Close)
	pidFile := filepath.Join(dir, "pids")
	script := proctest.SpawnScript(t, dir, pidFile)
	exe := map[string]any{"command": script, "timeout_millis": 120000}
	file := func(name string, extra map[string]any) string {
		m := map[string]any{
			"type": "external_account", "audience": testAudience, "token_url": emu.TokenURL(),
			"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
			"credential_source":  map[string]any{"executable": exe},
		}
		for k, v := range extra {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return writeFile(t, dir, name, string(b))
	}
	plain := file("exe.json", nil)
	imp := file("imp.json", map[string]any{"service_account_impersonation_url": emu.ImpersonationURL("sa@p.iam.gserviceaccount.com")})
	for _, c := range []struct {
		name string
		sig  syscall.Signal // 0: --timeout 1s
		args []string
	}{
		{"timeout", 0, []string{"token", "--credentials", plain}},
		{"SIGINT", syscall.SIGINT, []string{"token", "--credentials", plain}},
		{"SIGTERM", syscall.SIGTERM, []string{"token", "--credentials", plain}},
		{"impersonated/timeout", 0, []string{"token", "--credentials", imp}},
		{"impersonated/SIGTERM", syscall.SIGTERM, []string{"token", "--credentials", imp}},
		{"downscope/SIGINT", syscall.SIGINT, []string{"downscope", "--credentials", plain, "--boundary", writeFile(t, dir, "boundary.json",
			`{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/b","availablePermissions":["inRole:roles/storage.objectViewer"]}]}}`)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			timeout := "1m"
			if c.sig == 0 {
				timeout = "1s"
			}
			b := &blockers{emu: emu, files: map[string]string{"marker": pidFile}}
			cmd, stderr, _ := startBlocked(t, b, blockedCase{args: c.args, env: []string{"GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1"}}, "--timeout", timeout)
			pid, child, ok := proctest.ReadPids(t, pidFile, failAfter)
			if !ok {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("the executable never started; stderr %q", stderr.String())
			}
			if c.sig != 0 {
				if err := cmd.Process.Signal(c.sig); err != nil {
					t.Fatal(err)
				}
			}
			code := waitExit(t, cmd)
			if code == 0 || !strings.HasPrefix(stderr.String(), "sts "+c.args[0]+": ") {
				t.Errorf("exit %d, stderr %q", code, stderr.String())
			}
			if proctest.Alive(pid) {
				t.Errorf("the executable (pid %d) is still running after sts exited", pid)
			}
			if !proctest.WaitGone(pid, pid, failAfter) {
				t.Errorf("the executable's process group (%d) is still alive %v after sts exited", pid, failAfter)
			}
			if proctest.Alive(child) {
				t.Errorf("the executable's child (pid %d) is still running", child)
			}
		})
	}
}
