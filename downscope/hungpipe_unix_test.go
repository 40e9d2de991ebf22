//go:build unix && !solaris && !illumos && !aix

package downscope_test

import (
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

// TestHungNamedPipeRootEndsAtRefreshDeadline: a root blocked in the open of
// a named pipe (no context can stop it) holds no caller of a downscoped
// source or a Minter past the refresh deadline; once the pipe gets a
// writer the hung call ends and no goroutine is left.
func TestHungNamedPipeRootEndsAtRefreshDeadline(t *testing.T) {
	const deadline = 200 * time.Millisecond
	for _, kind := range []string{"client-side", "server-side"} {
		t.Run(kind, func(t *testing.T) {
			fixture.WantHungPipeCut(t, deadline, sts.IsTemporary, func(p fixture.PipeReader, emu *ststest.Server) (oauth2.TokenSource, error) {
				return downscoped(t, kind, downscope.Config{Source: p, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()},
					Cache: sts.CacheOptions{RefreshTimeout: deadline}}, false), nil
			})
		})
	}
}
