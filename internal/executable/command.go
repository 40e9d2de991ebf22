package executable

import (
	"io"
	"os"

	"github.com/stsgo/sts/internal/errs"
)

// command is one run of a credential executable: its argv, environment
// and standard files, and, once started (see start in command_unix.go and
// command_other.go), the process.
type command struct {
	argv []string
	env  []string
	// stdin is given to the command as it is; nil means the null device.
	stdin *os.File
	// stdout and stderr receive the command's output: an *os.File is
	// given to the command as it is, another writer is fed from a pipe.
	stdout, stderr io.Writer
	// ownGroup makes the command the leader of a new process group, which
	// kill ends whole, so that the children it spawned die with it.
	ownGroup bool

	platform // what start keeps of the process
}

// errWaitDelay is wait's error when the command exited but its output
// stayed open waitDelay longer (a process it left behind holds it): what
// it wrote until then is complete.
var errWaitDelay = errs.New("executable: the command's output stayed open after it exited")
