package errtree

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: no
// source, refresh or call may leave one behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
