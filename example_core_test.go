package sts_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/ststest"
)

// Exchange an OIDC token read from a file (as Kubernetes projects it) for a
// Google access token. The emulator stands in for STS.
func ExampleNewTokenSource() {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()

	dir, _ := os.MkdirTemp("", "sts-example")
	defer os.RemoveAll(dir)
	tokenFile := filepath.Join(dir, "token")
	aud := "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov"
	os.WriteFile(tokenFile, []byte(emu.SubjectJWT("workload", aud)), 0o600) // what the kubelet would write

	ts, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.FileSubject{Path: tokenFile},
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         aud,
		TokenURL:         emu.TokenURL(),
	})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := ts.Token() // pass ts to option.WithTokenSource
	if err != nil {
		log.Fatal(err)
	}
	again, _ := ts.Token()
	fmt.Println(tok.TokenType, tok.Valid(), again == tok, emu.Count("/v1/token"))
	// Output: Bearer true true 1
}

// A configuration mistake is reported by the constructor, naming the field.
func ExampleValidationError() {
	_, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.FileSubject{Path: "/var/run/token", Format: sts.Format{Type: "yaml"}},
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov",
	})
	var ve *sts.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Field)
		fmt.Println(err)
	}
	// Output:
	// FileSubject.Format.Type
	// sts: invalid FileSubject.Format.Type: must be "text" or "json", got "yaml"
}

// Failures from STS are *sts.Error values that say whether retrying can help.
func ExampleError() {
	emu := ststest.NewInMemoryServer(ststest.Options{}) // answers in-process at http://127.0.0.1:0
	defer emu.Close()
	emu.PushFaults(ststest.ErrorFault(400, "invalid_grant", "The subject token has expired."))

	ts, _ := sts.NewTokenSource(sts.Config{
		Subject:          sts.StaticSubject("expired-jwt"),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov",
		TokenURL:         emu.TokenURL(),
		HTTPOptions:      sts.HTTPOptions{HTTPClient: emu.Client()},
	})
	_, err := ts.Token()
	var se *sts.Error
	if errors.As(err, &se) {
		fmt.Println(se.StatusCode, se.Code, se.Temporary())
		fmt.Println(err)
	}
	// Output:
	// 400 invalid_grant false
	// sts: exchange: POST http://127.0.0.1:0/v1/token: status 400: invalid_grant: The subject token has expired.
}

// Any oauth2.TokenSource gains refresh-ahead caching, a drop-in for
// oauth2.ReuseTokenSource.
func ExampleNewCachedTokenSource() {
	var src oauth2.TokenSource = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})
	cached, err := sts.NewCachedTokenSource(src, sts.CacheOptions{StaleFraction: 0.5})
	if err != nil {
		log.Fatal(err)
	}
	tok, _ := cached.Token()
	fmt.Println(tok.AccessToken)
	// After a server answers 401 for tok: drop it so the next call refreshes.
	cached.Invalidate(tok)
	// Output: t
}
