//go:build unix

package proctest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A credential executable that outlives its run: SpawnScript writes a
// shell script that starts a grandchild (sleep), records its own pid (the
// id of its process group, when it runs in a group of its own) and the
// grandchild's as "PID CHILD" in pidFile, then waits for the grandchild.
// Left alone it runs a minute.
func SpawnScript(t testing.TB, dir, pidFile string) string {
	t.Helper()
	p := filepath.Join(dir, "spawn.sh")
	script := "#!/bin/sh\nsleep 60 &\necho $$ $! > '" + pidFile + ".tmp'\nmv '" + pidFile + ".tmp' '" + pidFile + "'\nwait\n"
	if err := os.WriteFile(p, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// ReadPids waits (at most within) until SpawnScript's pidFile exists and
// returns the two pids in it; a cleanup kills both, should the test fail
// to. ok is false when the file never came.
func ReadPids(t testing.TB, pidFile string, within time.Duration) (pid, child int, ok bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		data, err := os.ReadFile(pidFile)
		if err == nil {
			f := strings.Fields(string(data))
			if len(f) == 2 {
				pid, _ = strconv.Atoi(f[0])
				child, _ = strconv.Atoi(f[1])
			}
			if pid <= 1 || child <= 1 {
				t.Fatalf("pid file holds %q", data)
			}
			t.Cleanup(func() {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				_ = syscall.Kill(child, syscall.SIGKILL)
			})
			return pid, child, true
		}
		if time.Now().After(deadline) {
			return 0, 0, false
		}
		time.Sleep(5 * time.Millisecond) // polling the file system: nothing tells when it comes
	}
}

// Alive reports whether process pid exists and is not a zombie (a dead
// process whose parent has not reaped it yet, which kill(pid, 0) still
// finds).
func Alive(pid int) bool {
	if st, ok := procStat(pid); ok {
		return st.state != 'Z'
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		return false // /proc is there and pid is not in it
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// GroupAlive reports whether a process of group pgid is alive (not a
// zombie). Without /proc, a zombie member counts as alive.
func GroupAlive(pgid int) bool {
	ents, err := os.ReadDir("/proc")
	if _, serr := os.Stat("/proc/self/stat"); err != nil || serr != nil {
		err := syscall.Kill(-pgid, 0)
		return err == nil || errors.Is(err, syscall.EPERM)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := procStat(pid); ok && st.pgrp == pgid && st.state != 'Z' {
			return true
		}
	}
	return false
}

// WaitGone waits at most within for process pid and every process of its
// group pgid to be gone (or zombies), and reports whether they are. The
// wait is for a death already under way (a SIGKILL sent): the kernel ends
// a killed process asynchronously.
func WaitGone(pid, pgid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for Alive(pid) || GroupAlive(pgid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond) // polling process state: nothing tells of a stranger's death
	}
	return true
}

type stat struct {
	state byte
	pgrp  int
}

// procStat reads /proc/PID/stat: "pid (comm) state ppid pgrp …", comm
// holding anything, parentheses included.
func procStat(pid int) (stat, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return stat{}, false
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return stat{}, false
	}
	return stat{state: f[0][0], pgrp: pgrp}, true
}
