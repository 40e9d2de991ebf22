package metaserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/loopback"
)

// Listen opens a TCP listener on a loopback address: addr is "HOST:PORT"
// where HOST is a literal loopback IP address (127.0.0.0/8 or ::1, or an
// IPv4-mapped form) or the bare name "localhost", which is resolved from
// the system's hosts file (never by DNS; every address it gives localhost
// must be a loopback one) to its first address; the listener is bound to
// that literal address. PORT is a decimal number; 0 picks a free port. A
// bad addr is a *sts.ValidationError for the field "addr".
func Listen(addr string) (net.Listener, error) {
	return listen(addr, loopback.HostsPath())
}

func listen(addr, hostsFile string) (net.Listener, error) {
	ap, err := resolveLoopback(addr, hostsFile)
	if err != nil {
		return nil, err
	}
	return net.Listen("tcp", ap.String())
}

// resolveLoopback checks addr and returns the literal loopback address and
// port to bind, reading the hosts file only for "localhost".
func resolveLoopback(addr, hostsFile string) (netip.AddrPort, error) {
	ap, err := loopback.ResolveAddr(addr, hostsFile)
	if err != nil {
		return netip.AddrPort{}, &sts.ValidationError{Field: "addr", Reason: err.Error() +
			": the server hands tokens to anyone who connects"}
	}
	return ap, nil
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
