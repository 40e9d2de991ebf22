//go:build unix && !solaris && !illumos && !aix

package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stsgo/sts/internal/fsutil/swaptest"
)

// TestOpenRegularRefusesOtherKinds: a named pipe without a writer, one with
// a writer, a directory, a device and a socket are refused at once with
// ErrNotRegular, naming the path; a symlink to a regular file is read.
func TestOpenRegularRefusesOtherKinds(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	fifoW := filepath.Join(dir, "fifo-with-writer")
	if err := syscall.Mkfifo(fifoW, 0o600); err != nil {
		t.Fatal(err)
	}
	// A writer holding the pipe open (opened read-write, which does not
	// wait): the reader's open would succeed, its read would wait.
	w, err := os.OpenFile(fifoW, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	reg := filepath.Join(dir, "regular")
	if err := os.WriteFile(reg, []byte("token"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(reg, link); err != nil {
		t.Fatal(err)
	}
	fifoLink := filepath.Join(dir, "fifo-link")
	if err := os.Symlink(fifo, fifoLink); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	if fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0); err == nil {
		if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
			sock = ""
		}
		defer syscall.Close(fd)
	}
	refused := []string{fifo, fifoW, fifoLink, dir, os.DevNull}
	if sock != "" {
		refused = append(refused, sock)
	}
	if _, err := os.Stat("/dev/tty"); err == nil {
		refused = append(refused, "/dev/tty")
	}
	for _, path := range refused {
		f, err := OpenRegular(path)
		var pe *fs.PathError
		if f != nil || !errors.As(err, &pe) || pe.Path != path {
			t.Errorf("%s: %v, %v; want a *fs.PathError naming it", path, f, err)
			continue
		}
		// A socket, or a terminal device without a controlling terminal,
		// cannot be opened at all (ENXIO); every other kind is opened and
		// refused.
		if !errors.Is(err, ErrNotRegular) && !errors.Is(err, syscall.ENXIO) {
			t.Errorf("%s: %v, want ErrNotRegular", path, err)
		}
		if _, err := ReadFileLimited(path, 1<<20); err == nil {
			t.Errorf("ReadFileLimited(%s) succeeded", path)
		}
	}
	for _, path := range []string{reg, link} {
		data, err := ReadFileLimited(path, 1<<20)
		if err != nil || string(data) != "token" {
			t.Errorf("%s: %q, %v", path, data, err)
		}
	}
	f, err := OpenRegular(reg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The handle is back in blocking mode.
	fl, err := fcntlFlags(f)
	if err != nil || fl&syscall.O_NONBLOCK != 0 {
		t.Errorf("flags %#x (%v): still non-blocking", fl, err)
	}
}

func fcntlFlags(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var fl int
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		fl = int(r)
		if e != 0 {
			ferr = e
		}
	}); err != nil {
		return 0, err
	}
	return fl, ferr
}

// TestOpenRegularSwapRace: a path swapped between a regular file and a
// named pipe while it is read never blocks a read: the kind of file is
// checked on the opened handle.
func TestOpenRegularSwapRace(t *testing.T) {
	bad, errs := swaptest.Race(t, 8000, "token", []byte("token"), func(path string) error {
		return wantToken(ReadFileLimited(path, 1<<20))
	}, func(err error) bool { return errors.Is(err, ErrNotRegular) })
	if bad > 0 {
		t.Errorf("%d reads opened the named pipe or failed otherwise: %v", bad, errs)
	}
}

func wantToken(data []byte, err error) error {
	if err == nil && string(data) != "token" {
		return fmt.Errorf("read %q", data)
	}
	return err
}

// TestSwapRaceCatchesCheckThenOpen: the harness finds the race in a reader
// that stats the path and then opens it (the reader this package replaces),
// so that it can fail.
func TestSwapRaceCatchesCheckThenOpen(t *testing.T) {
	statThenOpen := func(path string) error {
		if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
			return ErrNotRegular
		}
		return wantToken(os.ReadFile(path))
	}
	for range 50 {
		if bad, _ := swaptest.Race(t, 4000, "token", []byte("token"), statThenOpen, func(err error) bool { return errors.Is(err, ErrNotRegular) }); bad > 0 {
			return
		}
	}
	t.Error("a stat-then-open reader never reached the pipe in 50 × 4000 swapped reads")
}

// TestReadFileLimitedSizes: files whose size fstat reports (small, at a
// read's boundaries, at the limit) and files it reports as empty while they
// are not (procfs) are read whole; a regular file read costs two
// allocations, the path's bytes and the buffer.
func TestReadFileLimitedSizes(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 1 << 20} {
		path := filepath.Join(dir, fmt.Sprint(n))
		want := make([]byte, n)
		for i := range want {
			want[i] = byte('a' + i%26)
		}
		if err := os.WriteFile(path, want, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFileLimited(path, 1<<20)
		if err != nil || string(got) != string(want) {
			t.Errorf("%d bytes: read %d, %v", n, len(got), err)
		}
	}
	if want, err := os.ReadFile("/proc/self/cmdline"); err == nil && len(want) > 0 {
		got, err := ReadFileLimited("/proc/self/cmdline", 1<<20)
		if err != nil || string(got) != string(want) {
			t.Errorf("/proc/self/cmdline: %q, %v; want %q", got, err, want)
		}
	}
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte("token"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := ReadFileLimited(path, 1<<20); err != nil {
			t.Fatal(err)
		}
	}); n != 2 {
		t.Errorf("%v allocations per read; want 2", n)
	}
}
