package sts

import (
	"context"
	"errors"
	"github.com/stsgo/sts/internal/fixture"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// The subject-provider part of the corpus: file and URL sources with
// malformed content, broken endpoints and files that are not files.

func TestCorpusFileSubject(t *testing.T) {
	type fileCase struct {
		name   string
		setup  func(dir string) string // returns the path
		format Format
		want   string
	}
	write := func(content string) func(string) string {
		return func(dir string) string {
			p := filepath.Join(dir, "token")
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	jsonFmt := Format{Type: "json", SubjectTokenField: "id_token"}
	cases := []fileCase{
		{"missing file", func(d string) string { return filepath.Join(d, "nope") }, Format{}, "no such file"},
		{"directory", func(d string) string { return d }, Format{}, "subject token file"},
		{"empty file", write(""), Format{}, "empty"},
		{"blank file", write(" \n\t\n"), Format{}, "empty"},
		{"file over 1 MiB", write(strings.Repeat("a", 2<<20)), Format{}, "larger than"},
		{"json: not json", write(relSubjectToken), jsonFmt, "not valid json"},
		{"json: truncated", write(`{"id_token":"` + relSubjectToken), jsonFmt, "json"},
		{"json: array", write(`["` + relSubjectToken + `"]`), jsonFmt, "json"},
		{"json: missing field", write(`{"access_token":"` + relSubjectToken + `"}`), jsonFmt, `no field "id_token"`},
		{"json: field number", write(`{"id_token":42}`), jsonFmt, "not a string"},
		{"json: field null", write(`{"id_token":null}`), jsonFmt, "id_token"},
		{"json: field object", write(`{"id_token":{"v":"` + relSubjectToken + `"}}`), jsonFmt, "not a string"},
		{"json: field empty", write(`{"id_token":""}`), jsonFmt, "empty"},
		{"json: field blank", write(`{"id_token":"   "}`), jsonFmt, "empty"},
		{"json: empty file", write(``), jsonFmt, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := FileSubject{Path: c.setup(t.TempDir()), Format: c.format}
			tok, err := s.SubjectToken(context.Background(), SubjectRequest{})
			if err == nil {
				t.Fatalf("accepted a token of %d bytes", len(tok))
			}
			relCheckCorpusError(t, err, c.want)
			relCheckErrorSecrets(t, "file subject", err, "")
		})
	}
	t.Logf("file subject corpus: %d malformed sources", len(cases))
}

func TestCorpusURLSubject(t *testing.T) {
	jsonFmt := Format{Type: "json", SubjectTokenField: "access_token"}
	cases := []struct {
		name   string
		status int
		body   string
		reader func(r *http.Request) io.Reader
		fail   error
		format Format
		want   string
	}{
		{name: "404", status: 404, body: "not found", want: "404"},
		{name: "500", status: 500, body: "", want: "500"},
		{name: "503 html", status: 503, body: "<html>down</html>", want: "503"},
		{name: "401 with token in body", status: 401, body: relSubjectToken, want: "401"},
		{name: "redirect", status: 302, want: "not followed"},
		{name: "empty body", status: 200, body: "", want: "empty"},
		{name: "blank body", status: 200, body: "\r\n", want: "empty"},
		{name: "2 MB body", status: 200, body: strings.Repeat("t", 2<<20), want: "larger than"},
		{name: "endless body", status: 200, reader: func(*http.Request) io.Reader { return relEndless{} }, want: "larger than"},
		{name: "body that never ends", status: 200, reader: func(r *http.Request) io.Reader { return &relStall{Prefix: []byte("ey"), Ctx: r.Context()} }, want: "deadline exceeded"},
		{name: "body cut short", status: 200, reader: func(*http.Request) io.Reader {
			return &relBroken{prefix: []byte(relSubjectToken[:5]), err: io.ErrUnexpectedEOF}
		}, want: "unexpected eof"},
		{name: "connection refused", fail: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, want: "connection refused"},
		{name: "server never answers", fail: errRelHang, want: "deadline exceeded"},
		{name: "json: html", status: 200, body: "<html></html>", format: jsonFmt, want: "not valid json"},
		{name: "json: missing field", status: 200, body: `{"id_token":"` + relSubjectToken + `"}`, format: jsonFmt, want: "no field"},
		{name: "json: number", status: 200, body: `{"access_token":1}`, format: jsonFmt, want: "not a string"},
		{name: "json: truncated", status: 200, body: `{"access_token":"` + relSubjectToken, format: jsonFmt, want: "json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := relClient(relHTTPCase{status: c.status, ctype: "text/plain", body: c.body, reader: c.reader, fail: c.fail,
					hdr: []string{"Location", "https://evil.example/steal"}})
				s := URLSubject{URL: "http://169.254.169.254/token", Headers: map[string]string{"Authorization": "Bearer " + relAccessToken},
					Format: c.format, HTTPClient: client, Timeout: 5 * time.Second}
				start := time.Now()
				tok, err := s.SubjectToken(context.Background(), SubjectRequest{})
				if err == nil {
					t.Fatalf("accepted a token of %d bytes", len(tok))
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("took %v, past the 5 s timeout", d)
				}
				relCheckCorpusError(t, err, c.want)
				relCheckErrorSecrets(t, "url subject", err, "")
			})
		})
	}
	t.Logf("URL subject corpus: %d malformed answers", len(cases))
}

// TestSubjectTypeMismatchFailsAtConstruction: a provider that cannot supply
// the configured token type fails in the constructor, naming the field
// (packages awssubject and x509subject check theirs).
func TestSubjectTypeMismatchFailsAtConstruction(t *testing.T) {
	cases := []struct {
		name    string
		subject SubjectTokenProvider
		typ     string
	}{
		{"executable access token", ExecutableSubject{Command: []string{"x"}}, TokenTypeAccessToken},
		{"executable aws", ExecutableSubject{Command: []string{"x"}}, TokenTypeAWS4Request},
		{"executable pointer mtls", &ExecutableSubject{Command: []string{"x"}}, TokenTypeMTLS},
		{"metadata saml", MetadataSubject{Audience: "x"}, TokenTypeSAML2},
		{"metadata access token", MetadataSubject{Audience: "x"}, TokenTypeAccessToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := newExchanger(Config{Subject: c.subject, SubjectTokenType: c.typ, Audience: relAud})
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "Config.SubjectTokenType" {
				t.Fatalf("err = %v, want a *ValidationError for Config.SubjectTokenType", err)
			}
			relCheckErrorSecrets(t, "type", err, "")
			_, err = newExchanger(Config{Subject: StaticSubject(relSubjectToken), SubjectTokenType: TokenTypeJWT, Audience: relAud,
				ActorToken: c.subject, ActorTokenType: c.typ})
			if !errors.As(err, &ve) || ve.Field != "Config.ActorTokenType" {
				t.Fatalf("actor: err = %v, want a *ValidationError for Config.ActorTokenType", err)
			}
		})
	}
}

// relHeaderCorpus holds URL-subject headers HTTP forbids (see
// fixture.HeaderCorpus).
var relHeaderCorpus = fixture.HeaderCorpus

// TestCorpusURLSubjectHeaders: headers HTTP forbids fail when the source
// is built, in code (URLSubject in a Config; package credfile tries the
// same in a credential file's credential_source.headers) through one
// check, naming the field as the caller wrote it and never quoting a value;
// headers HTTP allows reach the server as written.
func TestCorpusURLSubjectHeaders(t *testing.T) {
	cases := relHeaderCorpus()
	noNet := &http.Client{Transport: relRoundTrip(func(r *http.Request) (*http.Response, error) {
		t.Errorf("a request went to %s", r.URL.Host)
		return nil, io.EOF
	})}
	check := func(t *testing.T, err error, field string, h map[string]string) {
		t.Helper()
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != field {
			t.Fatalf("err = %v, want a *ValidationError for %s", err, field)
		}
		relCheckCorpusError(t, err, field)
		relCheckErrorSecrets(t, "headers", err, "")
		for _, v := range h {
			if len(v) > 4 && strings.Contains(err.Error(), v) {
				t.Errorf("error quotes a header value: %v", err)
			}
		}
	}
	for _, c := range cases {
		t.Run("code/"+c.Name, func(t *testing.T) {
			_, err := NewTokenSource(Config{Subject: URLSubject{URL: "http://169.254.169.254/token", Headers: c.Headers, HTTPClient: noNet},
				SubjectTokenType: TokenTypeJWT, Audience: relAud})
			check(t, err, "URLSubject.Headers"+c.Field, c.Headers)
		})
	}
	t.Logf("URL subject header corpus: %d forbidden headers", len(cases))

	// What HTTP allows is sent as written.
	good := map[string]string{"Metadata": "True", "X-Tab": "a\tb", "X-Visible": `!#$%&'*+-.^_|~ "(),/:;<=>?@[\]{}`, "x-lower": "v"}
	var got http.Header
	client := &http.Client{Transport: relRoundTrip(func(r *http.Request) (*http.Response, error) {
		got = r.Header.Clone()
		return relResponse(r, 200, "text/plain", strings.NewReader(relSubjectToken)), nil
	})}
	s := URLSubject{URL: "http://169.254.169.254/token", Headers: good, HTTPClient: client}
	if _, err := NewTokenSource(Config{Subject: s, SubjectTokenType: TokenTypeJWT, Audience: relAud}); err != nil {
		t.Fatal(err)
	}
	if tok, err := s.SubjectToken(context.Background(), SubjectRequest{}); err != nil || tok != relSubjectToken {
		t.Fatalf("allowed headers: %q, %v", tok, err)
	}
	for k, v := range good {
		if got.Get(k) != v {
			t.Errorf("header %s arrived as %q, want %q", k, got.Get(k), v)
		}
	}
}
