package loopback

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const stdHosts = "# comment\n10.0.0.1 myhost\n127.0.0.1\tlocalhost localhost.localdomain\n::1 localhost ip6-localhost\n"

func hosts(data string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(data), nil }
}

// TestResolveHosts decides each host of the hostile review by the rule:
// literal loopback addresses in their standard spellings and the bare name
// localhost from the hosts file are loopback; names a resolver would send to
// DNS, other spellings of numbers, unspecified and non-loopback addresses
// are not.
func TestResolveHosts(t *testing.T) {
	loop := map[string]string{
		"127.0.0.1":               "127.0.0.1",
		"127.1.2.3":               "127.1.2.3",
		"127.255.255.254":         "127.255.255.254",
		"::1":                     "::1",
		"[::1]":                   "::1",
		"0:0:0:0:0:0:0:1":         "::1",
		"::ffff:127.0.0.1":        "127.0.0.1",
		"[::ffff:127.0.0.1]":      "127.0.0.1",
		"::ffff:7f00:1":           "127.0.0.1",
		"[0:0:0:0:0:ffff:7f00:2]": "127.0.0.2",
		"localhost":               "127.0.0.1",
		"LOCALHOST":               "127.0.0.1",
		"LocalHost":               "127.0.0.1",
	}
	for host, want := range loop {
		a, err := resolve(host, hosts(stdHosts))
		if err != nil || a.String() != want {
			t.Errorf("resolve(%q) = %v, %v; want %s", host, a, err, want)
		}
	}
	notLoop := []string{
		"localhost.", "LOCALHOST.", "foo.localhost", "sts.localhost", "localhost.localdomain", "localhost.evil.com",
		"localhost.evil.com.", "127.0.0.1.nip.io", "127.0.0.1.", "localhost:80", " localhost", "localhost ",
		"0x7f.1", "0x7f000001", "2130706433", "127.1", "127.0.1", "0177.0.0.1", "127.000.000.001", "0127.0.0.1",
		"127.0.0.1 ", "[127.0.0.1]", "127.0.0.1%lo", "::1%lo", "[::1%25lo]", "fe80::1%eth0",
		"::", "[::]", "0.0.0.0", "::ffff:0.0.0.0", "::127.0.0.1", "::ffff:10.0.0.1", "10.0.0.1", "169.254.169.254",
		"128.0.0.1", "126.255.255.255", "::2", "example.com", "metadata.google.internal", "", "[", "]", "[]",
		"ｌｏｃａｌｈｏｓｔ", "locaIhost", "1oca1host", "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ",
	}
	for _, host := range notLoop {
		if a, err := resolve(host, hosts(stdHosts)); err == nil {
			t.Errorf("resolve(%q) = %v, want an error", host, a)
		}
		if _, ok := Addr(host); ok {
			t.Errorf("Addr(%q) is loopback", host)
		}
	}
	t.Logf("loopback corpus: %d loopback hosts, %d others", len(loop), len(notLoop))
}

// TestResolveLocalhostFromHostsFile: localhost is what the hosts file says,
// and only if everything it says is loopback; it is never looked up
// anywhere else.
func TestResolveLocalhostFromHostsFile(t *testing.T) {
	for _, tc := range []struct {
		name, hosts, want string // want "" for an error
	}{
		{"standard", stdHosts, "127.0.0.1"},
		{"IPv6 first", "::1 localhost\n127.0.0.1 localhost\n", "::1"},
		{"other loopback", "127.0.1.1 LOCALHOST.\n", "127.0.1.1"},
		{"mapped", "::ffff:127.0.0.1 localhost\n", "127.0.0.1"},
		{"comments and junk", "# 10.0.0.1 localhost\nnot-an-address localhost\n127.0.0.1 localhost # x\n", "127.0.0.1"},
		{"non-loopback too", "127.0.0.1 localhost\n10.0.0.9 localhost\n", ""},
		{"non-loopback first", "10.0.0.9 localhost\n::1 localhost\n", ""},
		{"only non-loopback", "10.0.0.1 localhost\n", ""},
		{"unspecified", "0.0.0.0 localhost\n", ""},
		{"zone", "fe80::1%lo localhost\n", ""},
		{"absent", "127.0.0.1 other\n", ""},
		{"empty", "", ""},
		{"alias only", "127.0.0.1 localhost.localdomain\n", ""},
	} {
		a, err := resolve("localhost", hosts(tc.hosts))
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: resolved to %v, want an error", tc.name, a)
		case tc.want != "" && (err != nil || a.String() != tc.want):
			t.Errorf("%s: %v, %v; want %s", tc.name, a, err, tc.want)
		}
	}
	if _, err := resolve("localhost", func() ([]byte, error) { return nil, errors.New("unreadable") }); err == nil {
		t.Error("unreadable hosts file: no error")
	}
	// A literal never reads the hosts file.
	if _, err := resolve("127.0.0.1", func() ([]byte, error) { t.Error("hosts file read"); return nil, nil }); err != nil {
		t.Error(err)
	}
}

// TestListenBindsTheLiteral: a listener on "localhost" binds the address
// the hosts file gives, not whatever the name resolves to elsewhere; bad
// addresses are *AddrError.
func TestListenBindsTheLiteral(t *testing.T) {
	dir := t.TempDir()
	hostsPath := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hostsPath, []byte("127.0.0.1 localhost\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := listen("LocalHost:0", hostsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if a := ln.Addr().(*net.TCPAddr); !a.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("bound %v", a)
	}
	for _, addr := range []string{"0.0.0.0:0", ":0", "localhost.:0", "foo.localhost:0", "127.1:0", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000"} {
		var ae *AddrError
		if ln, err := listen(addr, hostsPath); !errors.As(err, &ae) || ae.Addr != addr {
			if ln != nil {
				ln.Close()
			}
			t.Errorf("listen(%q): %v, want an *AddrError", addr, err)
		}
	}
	if _, err := listen("localhost:0", filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "hosts file") {
		t.Errorf("missing hosts file: %v", err)
	}
	if ap, err := ResolveAddr("[::ffff:127.0.0.1]:8080", hostsPath); err != nil || ap != netip.MustParseAddrPort("127.0.0.1:8080") {
		t.Errorf("mapped: %v, %v", ap, err)
	}
}

// FuzzResolveAddr: whatever the address and the hosts file, the result is
// a literal loopback address without zone, or an error.
func FuzzResolveAddr(f *testing.F) {
	f.Add("localhost:80", "127.0.0.1 localhost\n")
	f.Add("[::1]:0", "")
	f.Add("localhost:1", "10.0.0.1 localhost # x\n::1 localhost")
	f.Add("0.0.0.0:8080", "0.0.0.0 localhost")
	f.Add("[::ffff:127.0.0.1]:1", "")
	f.Fuzz(func(t *testing.T, addr, hostsData string) {
		ap, err := resolveAddr(addr, hosts(hostsData))
		if err != nil {
			return
		}
		if !ap.Addr().IsLoopback() || ap.Addr().Zone() != "" || ap.Addr().Is4In6() {
			t.Fatalf("resolveAddr(%q) = %v, not a literal loopback address", addr, ap)
		}
	})
}
