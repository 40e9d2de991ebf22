package metaserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/stsgo/sts"
)

// maxHostsFile bounds the hosts file read to resolve "localhost".
const maxHostsFile = 1 << 20

// Listen opens a TCP listener on a loopback address: addr is "HOST:PORT"
// where HOST is a literal loopback IP address (127.0.0.0/8 or ::1) or
// "localhost", which is resolved from the system's hosts file (never by
// DNS) to its first loopback address; the listener is bound to that literal
// address. PORT is a decimal number; 0 picks a free port. A bad addr is a
// *sts.ValidationError for the field "addr".
func Listen(addr string) (net.Listener, error) {
	return listen(addr, hostsPath())
}

func listen(addr, hostsFile string) (net.Listener, error) {
	ap, err := resolveLoopback(addr, func() ([]byte, error) { return readHosts(hostsFile) })
	if err != nil {
		return nil, err
	}
	return net.Listen("tcp", ap.String())
}

func hostsPath() string {
	if runtime.GOOS == "windows" {
		root := os.Getenv("SystemRoot")
		if root == "" {
			root = `C:\Windows`
		}
		return filepath.Join(root, "System32", "drivers", "etc", "hosts")
	}
	return "/etc/hosts"
}

func readHosts(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxHostsFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxHostsFile {
		return nil, errors.New("larger than 1 MiB")
	}
	return data, nil
}

// resolveLoopback checks addr and returns the literal loopback address and
// port to bind. hosts reads the hosts file, only for "localhost".
func resolveLoopback(addr string, hosts func() ([]byte, error)) (netip.AddrPort, error) {
	bad := func(reason string) (netip.AddrPort, error) {
		return netip.AddrPort{}, &sts.ValidationError{Field: "addr", Reason: reason}
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return bad("must be HOST:PORT")
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return bad("port must be a number from 0 to 65535")
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		data, err := hosts()
		if err != nil {
			return bad("localhost: reading the hosts file: " + err.Error())
		}
		ip, ok := localhostFromHosts(data)
		if !ok {
			return bad("localhost has no loopback address in the hosts file; name 127.0.0.1 or ::1")
		}
		return netip.AddrPortFrom(ip, uint16(port)), nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return bad("host must be a loopback IP address or localhost")
	}
	ip = ip.Unmap()
	if !ip.IsLoopback() {
		return bad("host must be a loopback address: the server hands tokens to anyone who connects")
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// localhostFromHosts returns the first loopback address the hosts file
// gives the name "localhost".
func localhostFromHosts(data []byte) (netip.Addr, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxHostsFile)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(fields[0])
		if err != nil || ip.Zone() != "" || !ip.Unmap().IsLoopback() {
			continue
		}
		for _, name := range fields[1:] {
			if strings.EqualFold(strings.TrimSuffix(name, "."), "localhost") {
				return ip.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}

// UnixOptions are the settings of ListenUnix. The zero value makes a socket
// that only its owner may use.
type UnixOptions struct {
	// Group, if set, is the name or numeric ID of a group whose members may
	// use the socket too: the socket gets that group and mode 0660. Empty
	// means mode 0600.
	Group string
}

// ListenUnix opens a listener on a Unix socket at path, with mode 0600 (or
// 0660 and opts.Group). The socket is made in a private directory beside
// path and moved into place only once its mode and group are set, so no
// one else can connect in between. A stale socket at path (one nobody
// listens on) is replaced; any other file there is an error. Closing the
// listener removes the socket.
func ListenUnix(path string, opts UnixOptions) (net.Listener, error) {
	if path == "" {
		return nil, &sts.ValidationError{Field: "path", Reason: "is required"}
	}
	gid := -1
	if opts.Group != "" {
		g, err := user.LookupGroup(opts.Group)
		if err != nil {
			g, err = user.LookupGroupId(opts.Group)
		}
		if err != nil {
			return nil, &sts.ValidationError{Field: "UnixOptions.Group", Reason: "no such group"}
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return nil, &sts.ValidationError{Field: "UnixOptions.Group", Reason: "the group has no numeric ID"}
		}
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".sts-serve-")
	if err != nil {
		return nil, fmt.Errorf("sts: unix socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	tmpSock := filepath.Join(tmp, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmpSock, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		ln.Close()
		return nil, fmt.Errorf("sts: unix socket: %w", err)
	}
	mode := os.FileMode(0o600)
	if gid >= 0 {
		if err := os.Chown(tmpSock, -1, gid); err != nil {
			return fail(err)
		}
		mode = 0o660
	}
	if err := os.Chmod(tmpSock, mode); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmpSock, path); err != nil {
		return fail(err)
	}
	return &unixListener{UnixListener: ln, path: path}, nil
}

// removeStaleSocket removes a socket at path that nobody listens on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sts: unix socket: %w", err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return &sts.ValidationError{Field: "path", Reason: "exists and is not a socket"}
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return &sts.ValidationError{Field: "path", Reason: "another server listens on this socket"}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sts: unix socket: %w", err)
	}
	return nil
}

// unixListener removes its socket when closed.
type unixListener struct {
	*net.UnixListener
	path string
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}
