package downscope_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/internal/fixture"
)

// The session-key part of the bad-input corpus: malformed
// access_boundary_session_key values, parsed directly and received from STS
// by a Minter, and malformed intermediary responses. Each gives a typed
// error that names the problem, within its deadline, and never shows the
// root token, the intermediary token or the key.

const (
	corpusKey   = "CPaEhYsKEmQKWAowdHlwZS5nb29nbGVhcGlzLmNvbS9nb29nbGUuY3J5cHRvLnRpbmsuQWVzR2NtS2V5EiIaIMx8syvGIGGu5yvrdq/I0Q9ZWIR1oqJXFnDFxHuwX4SEGAEQARj2hIWLCiAB"
	corpusRoot  = "ya29.SECRET-root-token-9c1d"
	corpusInter = "SECRET-intermediary-token-77ab"
	aesGCMURL   = "type.googleapis.com/google.crypto.tink.AesGcmKey"
)

// tinkKey encodes a Keyset.Key.
func tinkKey(typeURL string, value []byte, material, status, id, prefix uint64) []byte {
	var kd []byte
	kd = protowire.AppendTag(kd, 1, protowire.BytesType)
	kd = protowire.AppendString(kd, typeURL)
	kd = protowire.AppendTag(kd, 2, protowire.BytesType)
	kd = protowire.AppendBytes(kd, value)
	kd = protowire.AppendTag(kd, 3, protowire.VarintType)
	kd = protowire.AppendVarint(kd, material)
	var k []byte
	k = protowire.AppendTag(k, 1, protowire.BytesType)
	k = protowire.AppendBytes(k, kd)
	k = protowire.AppendTag(k, 2, protowire.VarintType)
	k = protowire.AppendVarint(k, status)
	k = protowire.AppendTag(k, 3, protowire.VarintType)
	k = protowire.AppendVarint(k, id)
	k = protowire.AppendTag(k, 4, protowire.VarintType)
	k = protowire.AppendVarint(k, prefix)
	return k
}

// tinkKeyset encodes a Keyset and returns its standard base64.
func tinkKeyset(primary uint64, keys ...[]byte) string {
	var ks []byte
	ks = protowire.AppendTag(ks, 1, protowire.VarintType)
	ks = protowire.AppendVarint(ks, primary)
	for _, k := range keys {
		ks = protowire.AppendTag(ks, 2, protowire.BytesType)
		ks = protowire.AppendBytes(ks, k)
	}
	return base64.StdEncoding.EncodeToString(ks)
}

// aesGCMKey encodes an AesGcmKey with key bytes of length n.
func aesGCMKey(version uint64, n int) []byte {
	var v []byte
	v = protowire.AppendTag(v, 1, protowire.VarintType)
	v = protowire.AppendVarint(v, version)
	v = protowire.AppendTag(v, 3, protowire.BytesType)
	v = protowire.AppendBytes(v, make([]byte, n))
	return v
}

func badSessionKeys() map[string]string {
	const (
		symmetric = 2
		enabled   = 1
		disabled  = 2
		tinkPfx   = 1
	)
	raw, _ := base64.StdEncoding.DecodeString(corpusKey)
	return map[string]string{
		"empty":                  "",
		"blank":                  "   ",
		"not base64":             "!!!!not*base64!!!!",
		"base64url alphabet":     strings.NewReplacer("/", "_", "+", "-").Replace(corpusKey),
		"truncated":              corpusKey[:40],
		"one byte short":         base64.StdEncoding.EncodeToString(raw[:len(raw)-1]),
		"bytes appended":         base64.StdEncoding.EncodeToString(append(append([]byte{}, raw...), 0xff, 0xff)),
		"zero bytes":             base64.StdEncoding.EncodeToString(make([]byte, 64)),
		"random text":            base64.StdEncoding.EncodeToString([]byte("this is not a keyset at all")),
		"json instead of keyset": base64.StdEncoding.EncodeToString([]byte(`{"primaryKeyId":1,"key":[]}`)),
		"huge":                   strings.Repeat("A", 100<<10),
		"no keys":                tinkKeyset(1),
		"primary not present":    tinkKeyset(9, tinkKey(aesGCMURL, aesGCMKey(0, 32), symmetric, enabled, 1, tinkPfx)),
		"primary disabled":       tinkKeyset(1, tinkKey(aesGCMURL, aesGCMKey(0, 32), symmetric, disabled, 1, tinkPfx)),
		"hmac key":               tinkKeyset(1, tinkKey("type.googleapis.com/google.crypto.tink.HmacKey", aesGCMKey(0, 32), symmetric, enabled, 1, tinkPfx)),
		"unknown type":           tinkKeyset(1, tinkKey("type.googleapis.com/example.Unknown", []byte{1, 2, 3}, symmetric, enabled, 1, tinkPfx)),
		"aes key of 7 bytes":     tinkKeyset(1, tinkKey(aesGCMURL, aesGCMKey(0, 7), symmetric, enabled, 1, tinkPfx)),
		"aes key of 0 bytes":     tinkKeyset(1, tinkKey(aesGCMURL, aesGCMKey(0, 0), symmetric, enabled, 1, tinkPfx)),
		"aes key version 1":      tinkKeyset(1, tinkKey(aesGCMURL, aesGCMKey(1, 32), symmetric, enabled, 1, tinkPfx)),
		"aes key value garbage":  tinkKeyset(1, tinkKey(aesGCMURL, []byte{0xff, 0xff, 0xff}, symmetric, enabled, 1, tinkPfx)),
		"unknown prefix type":    tinkKeyset(1, tinkKey(aesGCMURL, aesGCMKey(0, 32), symmetric, enabled, 1, 0)),
		"asymmetric material":    tinkKeyset(1, tinkKey(aesGCMURL, aesGCMKey(0, 32), 3, enabled, 1, tinkPfx)),
		"duplicate primary ids":  tinkKeyset(1, tinkKey(aesGCMURL, aesGCMKey(0, 32), symmetric, enabled, 1, tinkPfx), tinkKey(aesGCMURL, aesGCMKey(0, 32), symmetric, enabled, 1, tinkPfx)),
		"padding in the middle":  corpusKey[:20] + "==" + corpusKey[20:],
		"space inside":           corpusKey[:30] + " " + corpusKey[30:],
	}
}

func TestCorpusSessionKeys(t *testing.T) {
	keys := badSessionKeys()
	for name, k := range keys {
		t.Run(name, func(t *testing.T) {
			sk, err := downscope.ParseSessionKey(k)
			if err == nil {
				t.Fatalf("accepted: %v", sk)
			}
			var ve *sts.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *sts.ValidationError: %v", err, err)
			}
			if !strings.Contains(err.Error(), "SessionKey") {
				t.Errorf("error %q does not name the session key", err)
			}
			if len(k) >= 16 && strings.Contains(err.Error(), k[:16]) {
				t.Errorf("error quotes the key: %v", err)
			}
		})
	}
	t.Logf("session key corpus: %d malformed keys", len(keys))
}

// interBody is an intermediary token response with extra members.
func interBody(members string) string {
	return `{"access_token":"` + corpusInter + `","issued_token_type":"urn:ietf:params:oauth:token-type:access_boundary_intermediary_token","token_type":"N_A"` + members + `}`
}

func TestCorpusIntermediaryResponses(t *testing.T) {
	type interCase struct {
		name   string
		status int
		body   string
		want   string
	}
	var cases []interCase
	for name, k := range badSessionKeys() {
		q := fmt.Sprintf("%q", k)
		cases = append(cases, interCase{"key " + name, 200, interBody(`,"expires_in":3600,"access_boundary_session_key":` + q), "access_boundary_session_key"})
	}
	cases = append(cases,
		interCase{"no session key", 200, interBody(`,"expires_in":3600`), "no access_boundary_session_key"},
		interCase{"null session key", 200, interBody(`,"expires_in":3600,"access_boundary_session_key":null`), "no access_boundary_session_key"},
		interCase{"numeric session key", 200, interBody(`,"expires_in":3600,"access_boundary_session_key":5`), "access_boundary_session_key"},
		interCase{"session key object", 200, interBody(`,"expires_in":3600,"access_boundary_session_key":{"key":"` + corpusKey + `"}`), "access_boundary_session_key"},
		interCase{"no access token", 200, `{"expires_in":3600,"access_boundary_session_key":"` + corpusKey + `"}`, "no access_token"},
		interCase{"expires_in negative", 200, interBody(`,"expires_in":-1,"access_boundary_session_key":"` + corpusKey + `"`), "expires_in must be positive"},
		interCase{"expires_in string", 200, interBody(`,"expires_in":"later","access_boundary_session_key":"` + corpusKey + `"`), "expires_in"},
		interCase{"token_type mac", 200, `{"access_token":"` + corpusInter + `","token_type":"MAC","expires_in":3600,"access_boundary_session_key":"` + corpusKey + `"}`, "not bearer"},
		interCase{"truncated", 200, interBody(`,"expires_in":3600,"access_boundary_session_key":"` + corpusKey + `"`)[:60], "json"},
		interCase{"workforce refusal", 400, `{"error":"invalid_request","error_description":"Credential access boundaries are not supported for workforce pools."}`, "invalid_request"},
		interCase{"html 502", 502, `<html>502</html>`, "bad gateway"},
	)
	cb, err := downscope.Compile(&sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
		sts.BucketRule("corpus-bucket", "roles/storage.objectViewer"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := &http.Client{Transport: fixture.RoundTrip(func(r *http.Request) (*http.Response, error) {
					_, _ = io.Copy(io.Discard, r.Body)
					ct := "application/json"
					if strings.HasPrefix(c.body, "<") {
						ct = "text/html"
					}
					return &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {ct}},
						Body: io.NopCloser(strings.NewReader(c.body)), Request: r}, nil
				})}
				m, err := downscope.NewMinter(downscope.Config{
					Source:      oauth2.StaticTokenSource(&oauth2.Token{AccessToken: corpusRoot, Expiry: time.Now().Add(time.Hour)}),
					TokenURL:    "http://127.0.0.1:0/v1/token",
					HTTPOptions: sts.HTTPOptions{HTTPClient: client, Retry: sts.RetryPolicy{MaxAttempts: 1}},
				})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				start := time.Now()
				tok, err := m.Token(ctx, cb)
				if err == nil {
					t.Fatalf("accepted: token expiring %v", tok.Expiry)
				}
				if d := time.Since(start); d > time.Minute {
					t.Errorf("took %v", d)
				}
				var se *sts.Error
				var ve *sts.ValidationError
				if !errors.As(err, &se) && !errors.As(err, &ve) {
					t.Fatalf("error %T is untyped: %v", err, err)
				}
				if !strings.HasPrefix(err.Error(), "sts: ") || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(c.want)) {
					t.Errorf("error %q does not say %q", err, c.want)
				}
				for _, txt := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), m.String(), fmt.Sprintf("%#v", m)} {
					for _, s := range []string{corpusRoot, corpusInter, corpusKey[:24]} {
						if strings.Contains(txt, s) {
							t.Errorf("secret %q shows in %q", s, txt)
						}
					}
				}
			})
		})
	}
	t.Logf("intermediary response corpus: %d malformed responses", len(cases))
}
