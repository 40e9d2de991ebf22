package metaserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/stsgo/sts"
)

// TestResolveLoopback: Listen's addresses follow the one loopback rule
// (internal/loopback holds its cases): literal loopback addresses and
// localhost from the hosts file, bound as the literal; anything else is a
// ValidationError for addr.
func TestResolveLoopback(t *testing.T) {
	dir := t.TempDir()
	hosts := func(data string) string {
		p := filepath.Join(dir, strconv.Itoa(len(data))+"-hosts")
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	std := hosts("# comment\n10.0.0.1 myhost\n127.0.0.1\tlocalhost localhost.localdomain\n::1 localhost ip6-localhost\n")
	for addr, want := range map[string]string{
		"127.0.0.1:8080":       "127.0.0.1:8080",
		"127.1.2.3:0":          "127.1.2.3:0",
		"[::1]:9":              "[::1]:9",
		"[::ffff:127.0.0.1]:9": "127.0.0.1:9",
		"localhost:80":         "127.0.0.1:80",
		"LocalHost:80":         "127.0.0.1:80",
	} {
		got, err := resolveLoopback(addr, std)
		if err != nil || got.String() != want {
			t.Errorf("resolveLoopback(%q) = %v, %v; want %s", addr, got, err, want)
		}
	}
	if got, err := resolveLoopback("localhost:1", hosts("::1 localhost # v6\n")); err != nil || got.String() != "[::1]:1" {
		t.Errorf("localhost as ::1: %v, %v", got, err)
	}
	bad := map[string]string{
		"0.0.0.0:8080":      std,
		":8080":             std,
		"10.0.0.1:80":       std,
		"[::]:80":           std,
		"[fe80::1%eth0]:80": std,
		"example.com:80":    std,
		"127.0.0.1":         std,
		"127.0.0.1:http":    std,
		"127.0.0.1:70000":   std,
		"LocalHost.:80":     std, // not the bare name: a resolver may ask DNS
		"foo.localhost:80":  std,
		"127.1:80":          std,
		"localhost:80":      hosts("10.0.0.1 localhost\n"),
		"localhost:81":      hosts(""),
		"localhost:82":      filepath.Join(dir, "missing"),
		"localhost:83":      hosts("10.0.0.9 localhost\n::1 localhost # v6\n"), // a non-loopback entry too
	}
	for addr, h := range bad {
		_, err := resolveLoopback(addr, h)
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != "addr" {
			t.Errorf("resolveLoopback(%q): %v, want a ValidationError for addr", addr, err)
		}
	}
}

func TestListenLoopback(t *testing.T) {
	hostsFile := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hostsFile, []byte("127.0.0.1 localhost\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := listen("localhost:0", hostsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("bound to %v", ln.Addr())
	}
	if _, err := listen("localhost:0", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("no hosts file: no error")
	}
	if _, err := Listen("0.0.0.0:0"); err == nil {
		t.Error("Listen on all interfaces: no error")
	}
	ln2, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln2.Close()
}

func TestListenUnix(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix socket modes are a Unix matter")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "md.sock")
	ln, err := ListenUnix(path, UnixOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want socket 0600", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the private directory was left behind: %v", entries)
	}
	// It serves.
	s := newServer(t, Config{TokenSource: &countingSource{prefix: "tok", life: 3600e9}, AllowedHosts: []string{"*"}})
	srv := &http.Server{Handler: s}
	go srv.Serve(ln)
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	req, _ := http.NewRequest("GET", "http://unix"+tokenPath, nil)
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("over the socket: %v %v", resp, err)
	}
	resp.Body.Close()
	c.CloseIdleConnections()

	// A live socket is not replaced.
	if _, err := ListenUnix(path, UnixOptions{}); err == nil {
		t.Error("second server on a live socket: no error")
	}
	srv.Close() // closes ln: the socket goes
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after Close: %v", err)
	}

	// A stale socket is replaced.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	ln, err = ListenUnix(path, UnixOptions{})
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	ln.Close()

	// Any other file is left alone.
	plain := filepath.Join(dir, "file")
	os.WriteFile(plain, []byte("x"), 0o600)
	var ve *sts.ValidationError
	if _, err := ListenUnix(plain, UnixOptions{}); !errors.As(err, &ve) {
		t.Errorf("over a plain file: %v", err)
	}
	if _, err := ListenUnix("", UnixOptions{}); !errors.As(err, &ve) {
		t.Errorf("empty path: %v", err)
	}
	if _, err := ListenUnix(filepath.Join(dir, "g.sock"), UnixOptions{Group: "no-such-group-sts"}); !errors.As(err, &ve) || ve.Field != "UnixOptions.Group" {
		t.Errorf("unknown group: %v", err)
	}
	// A group the user is in: mode 0660 and that group.
	gid := os.Getgid()
	gpath := filepath.Join(dir, "g.sock")
	ln, err = ListenUnix(gpath, UnixOptions{Group: strconv.Itoa(gid)})
	if err != nil {
		t.Fatalf("own group: %v", err)
	}
	defer ln.Close()
	fi, _ = os.Lstat(gpath)
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("group socket mode %v, want 0660", fi.Mode().Perm())
	}
}
