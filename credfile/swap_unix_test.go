//go:build unix && !solaris && !illumos && !aix

package credfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/fsutil/swaptest"
)

// TestCredentialFileSwappedToNamedPipe: a credential file swapped between a
// regular file and a named pipe while LoadFile reads it, from several
// goroutines: each load gets the file or is refused at once as not a
// regular file, never blocks.
func TestCredentialFileSwappedToNamedPipe(t *testing.T) {
	content := []byte(`{"type":"external_account","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","client_id":"` +
		fixture.ClientID + `","client_secret":"` + fixture.ClientSecret + `","credential_source":{"file":"/var/run/token"}}`)
	read := func(path string) error {
		_, err := LoadFile(path, Options{Getenv: fixture.EnvMap(nil)})
		return err
	}
	regular := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(regular, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := read(regular); err != nil {
		t.Fatalf("reading the regular file: %v", err)
	}
	refused := func(err error) bool {
		return errors.Is(err, fsutil.ErrNotRegular) && strings.Contains(err.Error(), "not a regular file")
	}
	bad, errs := swaptest.Race(t, 1000, "file", content, read, refused)
	if bad > 0 {
		t.Errorf("%d of 1000 loads opened the named pipe or failed otherwise: %v", bad, errs)
	}
}
