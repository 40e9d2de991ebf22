package credfile

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/stsgo/sts/internal/fixture"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestExecutableHelperProcess is the credential executable of the tests
// (see fixture.ExecHelper).
func TestExecutableHelperProcess(*testing.T) { fixture.ExecHelperProcess() }
