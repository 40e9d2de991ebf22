package credfile

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/ttytest"
	"github.com/stsgo/sts/ststest"
)

const revokeAud = "//iam.googleapis.com/locations/global/workforcePools/corp/providers/okta"

// userFile is an authorized-user file for the OAuth emulator, with
// revokeURL unless it is empty.
func userFile(t *testing.T, emu *ststest.Server, revokeURL, secret string) []byte {
	m := map[string]any{
		"type":          TypeExternalAccountAuthorizedUser,
		"audience":      revokeAud,
		"refresh_token": fixture.UserRefreshToken,
		"token_url":     emu.OAuthTokenURL(),
		"client_id":     fixture.UserClientID,
		"client_secret": secret,
	}
	if revokeURL != "" {
		m["revoke_url"] = revokeURL
	}
	return encodeMap(t, m)
}

// TestRevokeAuthorizedUser: Revoke revokes the refresh token in use (the
// rotated one), the cached token is dropped, and every later refresh fails
// with invalid_grant.
func TestRevokeAuthorizedUser(t *testing.T) {
	emu := fixture.NewOAuthEmulator(t)
	emu.SetRefreshTokenRotation(true)
	var rotated []string
	c, err := Load(userFile(t, emu, emu.RevokeURL(), fixture.UserClientSecret), Options{
		HTTPOptions:           sts.HTTPOptions{HTTPClient: emu.Client(), Retry: sts.RetryPolicy{MaxAttempts: 1}},
		OnRefreshTokenRotated: func(tok string) { rotated = append(rotated, tok) },
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated) != 1 {
		t.Fatalf("%d rotations", len(rotated))
	}
	if err := c.Revoke(context.Background()); err != nil {
		t.Fatal(err)
	}
	if emu.RefreshTokenValid(rotated[0]) || emu.RefreshTokenValid(fixture.UserRefreshToken) {
		t.Error("a refresh token of the grant is still valid")
	}
	if info, _ := emu.Lookup(tok.AccessToken); info.Valid(info.ExpiresAt) {
		t.Error("the access token issued under the grant is still valid")
	}
	for range 2 {
		_, err = c.TokenSource().Token()
		var se *sts.Error
		if !errors.As(err, &se) || se.Code != "invalid_grant" {
			t.Fatalf("Token after Revoke: %v; want invalid_grant", err)
		}
	}
	if n := emu.Count("/v1/revoke"); n != 1 {
		t.Errorf("%d revocation requests", n)
	}
}

// TestRevokeRefused: files that cannot revoke fail without a request; a
// server refusal is an *sts.Error with Op revoke that quotes no secret.
func TestRevokeRefused(t *testing.T) {
	emu := fixture.NewOAuthEmulator(t)
	opts := Options{HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client(), Retry: sts.RetryPolicy{MaxAttempts: 1}}}
	var se *sts.Error
	file, err := Load(encodeMap(t, map[string]any{
		"type": "external_account", "audience": fixture.ExecAud, "subject_token_type": sts.TokenTypeJWT,
		"token_url": emu.TokenURL(), "credential_source": map[string]any{"file": filepath.Join(t.TempDir(), "tok")},
	}), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := file.Revoke(context.Background()); !errors.As(err, &se) || se.Op != "revoke" {
		t.Errorf("file source: %v", err)
	}
	if n := emu.Count("/v1/revoke"); n != 0 {
		t.Errorf("%d revocation requests for files that cannot revoke", n)
	}
	wrong, err := Load(userFile(t, emu, emu.RevokeURL(), "SECRET-wrong-client-secret"), opts)
	if err != nil {
		t.Fatal(err)
	}
	err = wrong.Revoke(context.Background())
	if !errors.As(err, &se) || se.Op != "revoke" || se.StatusCode != 401 {
		t.Errorf("wrong client secret: %v", err)
	}
	for _, secret := range []string{fixture.UserRefreshToken, "SECRET-wrong-client-secret"} {
		if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), secret) {
			t.Errorf("error quotes a secret: %v", err)
		}
	}
	if !emu.RefreshTokenValid(fixture.UserRefreshToken) {
		t.Error("a refused revocation revoked the token")
	}
}

// TestRevokeInteractiveExecutable: with a terminal, Revoke runs the file's
// executable in revoke mode (the helper exits 4 unless
// GOOGLE_EXTERNAL_ACCOUNT_REVOKE=1); without one the file cannot revoke.
func TestRevokeInteractiveExecutable(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	_, term := ttytest.StartUser(t, "", "")
	m := interactiveFile(t, emu, "unused")
	m["credential_source"].(map[string]any)["executable"].(map[string]any)["command"] =
		fixture.QuoteCommand(t, fixture.ExecHelper(t, "revoke"))
	opts := Options{HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}, Getenv: fixture.AllowExecutables, Terminal: term}
	c, err := Load(encodeMap(t, m), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(context.Background()); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	m["credential_source"].(map[string]any)["executable"].(map[string]any)["command"] =
		fixture.QuoteCommand(t, fixture.ExecHelper(t, "exit", "3", "no session"))
	c, err = Load(encodeMap(t, m), opts)
	if err != nil {
		t.Fatal(err)
	}
	var se *sts.Error
	if err := c.Revoke(context.Background()); !errors.As(err, &se) || se.Op != "revoke" {
		t.Errorf("failing executable: %v", err)
	}
	opts.Terminal = nil
	c, err = Load(encodeMap(t, m), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(context.Background()); !errors.As(err, &se) || se.Op != "revoke" {
		t.Errorf("non-interactive: %v", err)
	}
}

// TestRevokeURLFollowsTokenURL: a file without revoke_url revokes at the
// revocation endpoint next to its token_url.
func TestRevokeURLFollowsTokenURL(t *testing.T) {
	emu := fixture.NewOAuthEmulator(t)
	opts := Options{HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client(), Retry: sts.RetryPolicy{MaxAttempts: 1}}}
	c, err := Load(userFile(t, emu, "", fixture.UserClientSecret), opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.RevokeURL() != emu.RevokeURL() {
		t.Fatalf("RevokeURL %q, want %q", c.RevokeURL(), emu.RevokeURL())
	}
	if err := c.Revoke(context.Background()); err != nil {
		t.Fatal(err)
	}
	if emu.RefreshTokenValid(fixture.UserRefreshToken) || emu.Count("/v1/revoke") != 1 {
		t.Error("not revoked")
	}
}
