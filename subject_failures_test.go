package sts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestMetadataSubjectFailures: every way the metadata server can fail gives
// an *Error with Op "subject", temporary unless the value is not defined,
// and never quotes control characters from the server.
func TestMetadataSubjectFailures(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		temporary bool
		want      string
	}{
		{"not defined", http.StatusNotFound, "no identity\x1b[31m here", false, "metadata identity token"},
		{"server error", http.StatusInternalServerError, "boom", true, "metadata identity token"},
		{"empty token", http.StatusOK, "  \n", false, "empty identity token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Metadata-Flavor", "Google")
				w.WriteHeader(c.status)
				fmt.Fprint(w, c.body)
			}))
			defer srv.Close()
			t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(srv.URL, "http://"))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tok, err := MetadataSubject{Audience: "https://aud"}.SubjectToken(ctx, SubjectRequest{})
			var e *Error
			if tok != "" || !errors.As(err, &e) || e.Op != "subject" {
				t.Fatalf("got %q, %v; want an *Error with Op subject", tok, err)
			}
			if !strings.Contains(err.Error(), c.want) || strings.ContainsRune(err.Error(), 0x1b) {
				t.Errorf("error %q: want %q and no control character", err, c.want)
			}
			if e.Temporary() != c.temporary {
				t.Errorf("Temporary() = %v, want %v", e.Temporary(), c.temporary)
			}
		})
	}
	if _, err := (MetadataSubject{}).SubjectToken(context.Background(), SubjectRequest{}); err == nil {
		t.Error("no audience: no error")
	} else if ve := (*ValidationError)(nil); !errors.As(err, &ve) || ve.Field != "MetadataSubject.Audience" {
		t.Errorf("no audience: %v", err)
	}
}

// TestTokenSourceSubjectDirect: the provider called on its own returns the
// source's access token, refuses an expired one and a nil source, and passes
// a source's typed error on.
func TestTokenSourceSubjectDirect(t *testing.T) {
	ctx := context.Background()
	live := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "root-token", Expiry: time.Now().Add(time.Hour)})
	if tok, err := (TokenSourceSubject{Source: live}).SubjectToken(ctx, SubjectRequest{}); err != nil || tok != "root-token" {
		t.Errorf("live source: %q, %v", tok, err)
	}
	expired := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "old-token", Expiry: time.Now().Add(-time.Minute)})
	tok, err := (TokenSourceSubject{Source: expired}).SubjectToken(ctx, SubjectRequest{})
	var e *Error
	if tok != "" || !errors.As(err, &e) || e.Op != "subject" || strings.Contains(err.Error(), "old-token") {
		t.Errorf("expired source: %q, %v", tok, err)
	}
	var ve *ValidationError
	if _, err := (TokenSourceSubject{}).SubjectToken(ctx, SubjectRequest{}); !errors.As(err, &ve) || ve.Field != "TokenSourceSubject.Source" {
		t.Errorf("nil source: %v", err)
	}
	failing := &Error{Op: "refresh", StatusCode: 400, Code: "invalid_grant"}
	_, err = (TokenSourceSubject{Source: errSource{failing}}).SubjectToken(ctx, SubjectRequest{})
	if !errors.As(err, &e) || e.Code != "invalid_grant" {
		t.Errorf("failing source: %v", err)
	}
}

type errSource struct{ err error }

func (s errSource) Token() (*oauth2.Token, error) { return nil, s.err }
