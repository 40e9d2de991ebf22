package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/jsonkeys"
)

// saveRotatedRefreshToken returns an OnRefreshTokenRotated hook that writes
// the new refresh token into the credential file at path, so that the next
// run does not use the revoked one. A failure is reported on stderr without
// the token.
func saveRotatedRefreshToken(path string, stderr io.Writer) func(string) {
	return func(newToken string) {
		if err := rewriteRefreshToken(path, newToken); err != nil {
			fmt.Fprintf(stderr, "sts: warning: the server rotated the refresh token, and saving the new one to %s failed: %v\n", path, err)
		}
	}
}

// rewriteRefreshToken sets the refresh_token of the credential file at
// path. Only the value of the one member spelled "refresh_token" changes:
// every other byte of the file stays, and a file with a look-alike of it
// (another case, a duplicate, a confusable spelling, at any depth) is
// refused rather than left holding the old token under another spelling.
// The file is replaced atomically with its mode kept; a symbolic link is
// written through to its target; a hard-linked file is refused (see
// fsutil.UpdateFile).
func rewriteRefreshToken(path, newToken string) error {
	return fsutil.UpdateFile(path, 1<<20, func(data []byte) ([]byte, error) {
		// An impersonated_service_account file holds the refresh token
		// of its source.
		where := []string{"refresh_token"}
		var f struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(data, &f) == nil && f.Type == "impersonated_service_account" {
			where = []string{"source_credentials", "refresh_token"}
		}
		out, err := jsonkeys.SetString(data, newToken, where...)
		if err != nil {
			return nil, fmt.Errorf("the file's refresh_token cannot be updated: %w", err)
		}
		return out, nil
	})
}
