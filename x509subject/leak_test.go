package x509subject

import (
	"testing"

	"github.com/stsgo/sts/internal/x509cert"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDefaultsAgree: the documented variable is the one the engine reads.
func TestDefaultsAgree(t *testing.T) {
	if CertificateConfigEnv != x509cert.ConfigEnv {
		t.Error("CertificateConfigEnv differs from internal/x509cert's")
	}
}
