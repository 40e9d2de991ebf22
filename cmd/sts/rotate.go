package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/stsgo/sts/internal/fsutil"
)

// saveRotatedRefreshToken returns an OnRefreshTokenRotated hook that writes
// the new refresh token into the credential file at path, so that the next
// run does not use the revoked one. The file's other fields are kept as they
// are; it is replaced atomically with its mode kept. A failure is reported
// on stderr without the token.
func saveRotatedRefreshToken(path string, stderr io.Writer) func(string) {
	return func(newToken string) {
		if err := rewriteRefreshToken(path, newToken); err != nil {
			fmt.Fprintf(stderr, "sts: warning: the server rotated the refresh token, and saving the new one to %s failed: %v\n", path, err)
		}
	}
}

func rewriteRefreshToken(path, newToken string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	data, err := fsutil.ReadFileLimited(path, 1<<20)
	if err != nil {
		return err
	}
	out, err := replaceRefreshToken(data, newToken)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, out, st.Mode().Perm())
}

// replaceRefreshToken returns the credential file data with its
// refresh_token set to tok and every other member kept.
func replaceRefreshToken(data []byte, tok string) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return nil, errors.New("the file is no longer a JSON object")
	}
	enc, err := json.Marshal(tok)
	if err != nil {
		return nil, err
	}
	fields["refresh_token"] = enc
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetIndent("", "  ")
	e.SetEscapeHTML(false)
	if err := e.Encode(fields); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
