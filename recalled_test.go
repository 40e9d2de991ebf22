package sts_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/impersonate"
	"github.com/stsgo/sts/ststest"
)

// TestRecalledFailureIsError: a permanent failure that a cache remembers
// and serves again, without a request, is an *sts.Error itself (a type
// assertion finds it, not only errors.As), with the failure's fields, its
// text the failure's followed by the note that it was remembered, still
// permanent, and unwrapping to the failure: for the root cache, an
// impersonation over it, a server-side downscope and a Minter.
func TestRecalledFailureIsError(t *testing.T) {
	const aud = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/q"
	const subject = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJyZWNhbGwiLCJleHAiOjQxMDI0NDQ4MDB9.c2ln"
	boundary := &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("b", "roles/storage.objectViewer")}}
	for _, c := range []struct {
		name string
		// call builds the source over emu and returns its call.
		call func(t *testing.T, emu *ststest.Server) func() error
	}{
		{"CachedTokenSource", func(t *testing.T, emu *ststest.Server) func() error {
			return tokenCall(exchange(t, emu, aud, subject))
		}},
		{"impersonate", func(t *testing.T, emu *ststest.Server) func() error {
			ts, err := impersonate.NewTokenSource(impersonate.Config{Source: exchange(t, emu, aud, subject),
				TargetPrincipal: "sa@p.iam.gserviceaccount.com", HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
			if err != nil {
				t.Fatal(err)
			}
			return tokenCall(ts)
		}},
		{"downscope", func(t *testing.T, emu *ststest.Server) func() error {
			ts, err := downscope.NewTokenSource(downscope.Config{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "root"}),
				Boundary: boundary, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
			if err != nil {
				t.Fatal(err)
			}
			return tokenCall(ts)
		}},
		{"Minter", func(t *testing.T, emu *ststest.Server) func() error {
			m, err := downscope.NewMinter(downscope.Config{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "root"}),
				TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
			if err != nil {
				t.Fatal(err)
			}
			cb, err := downscope.Compile(boundary)
			if err != nil {
				t.Fatal(err)
			}
			return func() error { _, err := m.Token(context.Background(), cb); return err }
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			emu := ststest.NewInMemoryServer(ststest.Options{})
			defer emu.Close()
			call := c.call(t, emu)
			emu.PushFaults(ststest.ErrorFault(400, "invalid_grant", "the subject token is invalid"))
			first := call()
			se, ok := first.(*sts.Error)
			if !ok || se.Code != "invalid_grant" || se.Temporary() {
				t.Fatalf("first failure %T %v, want a permanent invalid_grant *sts.Error", first, first)
			}
			requests := emu.Count("")
			err := call()
			re, ok := err.(*sts.Error)
			if !ok {
				t.Fatalf("remembered failure %T %v, want an *sts.Error", err, err)
			}
			if n := emu.Count(""); n != requests {
				t.Errorf("the remembered failure made %d requests", n-requests)
			}
			if re == se || re.Op != se.Op || re.URL != se.URL || re.StatusCode != 400 || re.Code != se.Code || re.Description != se.Description || re.Temporary() {
				t.Errorf("remembered %#v, want a copy of %#v", re, se)
			}
			if want := se.Error() + " (cached failure, retry after 1s)"; err.Error() != want {
				t.Errorf("text %q, want %q", err, want)
			}
			if !errors.Is(err, first) || errors.Unwrap(err) == nil {
				t.Errorf("%v does not unwrap to the failure", err)
			}
		})
	}
}

func exchange(t *testing.T, emu *ststest.Server, aud, subject string) *sts.CachedTokenSource {
	t.Helper()
	ts, err := sts.NewTokenSource(sts.Config{Subject: sts.StaticSubject(subject), SubjectTokenType: sts.TokenTypeJWT,
		Audience: aud, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func tokenCall(ts oauth2.TokenSource) func() error {
	return func() error { _, err := ts.Token(); return err }
}
