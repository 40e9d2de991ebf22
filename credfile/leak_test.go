package credfile

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stsgo/sts/internal/fixture"
)

// TestMain fails the package's tests if any goroutine outlives them. A
// background refresh that a test started may still be in a retry's backoff
// when the last test returns; it ends within seconds, so the check is
// repeated for up to 25 s (each goleak.Find waits with its own backoff) — a
// goroutine that never ends still fails the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		err := goleak.Find()
		for deadline := time.Now().Add(25 * time.Second); err != nil && time.Now().Before(deadline); {
			err = goleak.Find()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// TestExecutableHelperProcess is the credential executable of the tests
// (see fixture.ExecHelper).
func TestExecutableHelperProcess(*testing.T) { fixture.ExecHelperProcess() }
