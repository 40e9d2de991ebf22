package sts

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stsgo/sts/ststest"
)

// TestSecretsNeverLoggedOnSuccess runs every layer of the package (package
// downscope checks its own in TestSecretsNeverShown) to success against the
// emulator with a debug-level logger and checks that no secret, known or
// issued, appears in the log records, in String, %v, %+v or %#v of any
// object, or in the errors of a second, failing round.
func TestSecretsNeverLoggedOnSuccess(t *testing.T) {
	emu := ststest.NewInMemoryServer(ststest.Options{ClientID: relClientID, ClientSecret: relClientSecret})
	defer emu.Close()
	emu.AddRefreshToken(relRefreshToken, relClientID)
	emu.SetRefreshTokenRotation(true)
	var rotated []string
	log, buf := newRelLogger()
	ctx := context.Background()

	cfg := Config{Subject: StaticSubject(relSubjectToken), SubjectTokenType: TokenTypeJWT, Audience: relAud,
		ClientID: relClientID, ClientSecret: relClientSecret, TokenURL: emu.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: emu.Client(), Logger: log}}
	root, err := NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	imp, err := newImpersonatedTokenSource(impConfig{Source: root, URL: emu.ImpersonationURL(relSA),
		HTTPOptions: HTTPOptions{HTTPClient: emu.Client(), Logger: log}})
	if err != nil {
		t.Fatal(err)
	}
	user, err := newAuthorizedUserTokenSource(authUserConfig{RefreshToken: relRefreshToken, ClientID: relClientID, ClientSecret: relClientSecret,
		TokenURL: emu.URL + "/v1/oauthtoken", HTTPOptions: HTTPOptions{HTTPClient: emu.Client(), Logger: log},
		OnRefreshTokenRotated: func(s string) { rotated = append(rotated, s) }})
	if err != nil {
		t.Fatal(err)
	}
	objects := []any{cfg, root, imp, user}
	var issued []string
	for _, ts := range []*CachedTokenSource{root, imp, user} {
		tok, err := ts.TokenContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, tok.AccessToken)
	}
	issued = append(issued, rotated...)
	if len(rotated) == 0 {
		t.Error("the refresh token was not rotated")
	}

	// A failing round: every endpoint answers an error that is not about
	// the secrets.
	for _, ts := range []*CachedTokenSource{root, imp, user} {
		ts.Invalidate(nil)
	}
	for range 20 {
		emu.PushFaults(ststest.ErrorFault(400, "invalid_grant", "no"))
	}
	var errs []error
	for _, ts := range []*CachedTokenSource{root, imp, user} {
		if _, err := ts.TokenContext(ctx); err == nil {
			t.Error("no error in the failing round")
		} else {
			errs = append(errs, err)
		}
	}

	var texts []string
	for _, o := range objects {
		texts = append(texts, fmt.Sprint(o), fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o))
	}
	for _, e := range errs {
		texts = append(texts, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
	}
	logs := buf.String()
	if !strings.Contains(logs, "level=DEBUG") {
		t.Error("nothing was logged at debug level")
	}
	texts = append(texts, logs)
	for _, l := range relLeaks(texts...) {
		t.Error(l)
	}
	for _, s := range issued {
		for i, txt := range texts {
			if len(s) >= 12 && strings.Contains(txt, s) {
				t.Errorf("an issued token or key shows in text %d: %.200q", i, txt)
			}
		}
	}
	t.Logf("%d objects, %d errors, %d bytes of debug log checked for %d known and %d issued secrets",
		len(objects), len(errs), len(logs), len(relSecrets), len(issued))
}
