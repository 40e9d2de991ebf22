package awssubject

import (
	"testing"

	awssub "github.com/stsgo/sts/internal/aws"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDefaultsAgree: the documented default is the one the checks use.
func TestDefaultsAgree(t *testing.T) {
	if DefaultRegionalCredVerificationURL != awssub.DefaultVerificationURL {
		t.Error("DefaultRegionalCredVerificationURL differs from internal/aws's")
	}
}
