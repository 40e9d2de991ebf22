// Package loopback decides, in one place, which hosts are loopback: the
// hosts that may receive credentials over plain http, and the hosts a
// local server (the STS emulator, sts serve, the sign-in redirect
// listener) may listen on.
//
// A loopback host is a literal loopback IP address (127.0.0.0/8 written as
// four decimal numbers, ::1 in any IPv6 spelling, or the IPv4-mapped IPv6
// form of either; brackets allowed, zones not), or the bare name
// "localhost" (in any case, without a trailing dot) when the system's hosts
// file gives it only loopback addresses. Nothing else is: no other name is
// looked up, since a resolver would ask DNS ("foo.localhost",
// "localhost.", "localhost.example.com", "127.0.0.1.nip.io"), and no other
// spelling of a number is read as an address ("127.1", "0x7f.1",
// "2130706433", "0177.0.0.1"). A listener binds the literal address its
// host resolved to, never the name.
package loopback

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/fsutil"
)

// maxHostsFile bounds the hosts file read to resolve "localhost".
const maxHostsFile = 1 << 20

// Addr returns the address host spells if it is a literal loopback IP
// address (see the package documentation); ok is false for anything else,
// names included. An IPv4-mapped address comes back as IPv4.
func Addr(host string) (a netip.Addr, ok bool) {
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") && strings.Contains(host, ":") {
		host = host[1 : len(host)-1] // brackets hold IPv6 addresses only
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	a = a.Unmap()
	return a, a.IsLoopback()
}

// HostsPath is the system's hosts file.
func HostsPath() string {
	if runtime.GOOS == "windows" {
		root := os.Getenv("SystemRoot")
		if root == "" {
			root = `C:\Windows`
		}
		return filepath.Join(root, "System32", "drivers", "etc", "hosts")
	}
	return "/etc/hosts"
}

// errNotLoopback is the reason for a host that is neither a literal
// loopback address nor "localhost".
var errNotLoopback = errors.New("must be a literal loopback IP address (127.0.0.1, ::1) or localhost")

// Resolve returns the literal loopback address of host: host itself if it
// is one (see Addr), or, for the bare name "localhost", the first address
// the hosts file at hostsPath gives it, provided it gives it at least one
// and only loopback ones. The error says why host is not loopback.
func Resolve(host, hostsPath string) (netip.Addr, error) {
	return resolve(host, hostsFile(hostsPath))
}

// hostsFile returns a reader of the hosts file at path.
func hostsFile(path string) func() ([]byte, error) {
	return func() ([]byte, error) { return fsutil.ReadFileLimited(path, maxHostsFile) }
}

func resolve(host string, hosts func() ([]byte, error)) (netip.Addr, error) {
	if a, ok := Addr(host); ok {
		return a, nil
	}
	if !strings.EqualFold(host, "localhost") {
		return netip.Addr{}, errNotLoopback
	}
	data, err := hosts()
	if err != nil {
		return netip.Addr{}, errs.Errorf("localhost: reading the hosts file: %w", err)
	}
	return localhostFromHosts(data)
}

// Is reports whether host is loopback, resolving "localhost" from the
// system's hosts file.
func Is(host string) bool {
	_, err := Resolve(host, HostsPath())
	return err == nil
}

// localhostFromHosts returns the first address a hosts file gives the name
// "localhost", if it gives it any and all of them are loopback addresses.
func localhostFromHosts(data []byte) (netip.Addr, error) {
	var first netip.Addr
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxHostsFile)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || !containsFold(fields[1:], "localhost") {
			continue
		}
		a, err := netip.ParseAddr(fields[0])
		if err != nil {
			continue // not an address line: the resolver skips it too
		}
		if a.Zone() != "" || !a.Unmap().IsLoopback() {
			return netip.Addr{}, errs.Errorf("localhost: the hosts file maps it to %s, which is not a loopback address", a)
		}
		if !first.IsValid() {
			first = a.Unmap()
		}
	}
	if !first.IsValid() {
		return netip.Addr{}, errs.New("localhost: the hosts file has no address for it; name 127.0.0.1 or ::1")
	}
	return first, nil
}

// containsFold reports whether names holds name, in any case (and without
// a trailing dot, which a hosts file may write).
func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(strings.TrimSuffix(n, "."), name) {
			return true
		}
	}
	return false
}

// ResolveAddr checks a listen address "HOST:PORT" (PORT decimal, 0 for any
// free port) whose HOST must be loopback (see Resolve) and returns the
// literal address and port to bind.
func ResolveAddr(addr, hostsPath string) (netip.AddrPort, error) {
	return resolveAddr(addr, hostsFile(hostsPath))
}

func resolveAddr(addr string, hosts func() ([]byte, error)) (netip.AddrPort, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, errs.New("must be HOST:PORT")
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return netip.AddrPort{}, errs.New("port must be a number from 0 to 65535")
	}
	a, err := resolve(host, hosts)
	if err != nil {
		return netip.AddrPort{}, errs.Errorf("host %s", err)
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// Listen opens a TCP listener on the literal loopback address addr
// resolves to (see ResolveAddr), reading "localhost" from the system's
// hosts file. A bad address is an *AddrError.
func Listen(addr string) (net.Listener, error) {
	return listen(addr, HostsPath())
}

func listen(addr, hostsPath string) (net.Listener, error) {
	ap, err := ResolveAddr(addr, hostsPath)
	if err != nil {
		return nil, &AddrError{Addr: addr, Err: err}
	}
	return net.Listen("tcp", ap.String())
}

// AddrError is a listen address that is not a loopback HOST:PORT.
type AddrError struct {
	Addr string
	Err  error
}

func (e *AddrError) Error() string { return e.Err.Error() }
func (e *AddrError) Unwrap() error { return e.Err }
