package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stsgo/sts/internal/httpx"
)

// stsStub answers token requests with answer and records the forms.
func stsStub(t *testing.T, answer string) (*httptest.Server, *[]url.Values, *[]http.Header) {
	t.Helper()
	var forms []url.Values
	var hdrs []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f, _ := url.ParseQuery(string(b))
		forms = append(forms, f)
		hdrs = append(hdrs, r.Header.Clone())
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, &forms, &hdrs
}

func static(tok string, exp time.Time) Subject {
	return func(context.Context, string, string) (string, time.Time, error) { return tok, exp, nil }
}

func TestExchangeForm(t *testing.T) {
	srv, forms, hdrs := stsStub(t, `{"access_token":"at","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3600}`)
	opts, cerr := EncodeOptions("Config.Options", map[string]any{"k": "v"}, "my-project", nil)
	if cerr != nil {
		t.Fatal(cerr)
	}
	var gotAud, gotType string
	x := New(Config{
		Subject: func(_ context.Context, aud, typ string) (string, time.Time, error) {
			gotAud, gotType = aud, typ
			return "subject-token-123", time.Time{}, nil
		},
		SubjectTokenType: "urn:ietf:params:oauth:token-type:jwt",
		Audience:         "//iam.googleapis.com/x",
		Actor:            static("actor-token-456", time.Time{}),
		ActorTokenType:   "urn:ietf:params:oauth:token-type:jwt",
		Scopes:           []string{"a", "b"},
		Resource:         "https://resource.example/",
		Options:          opts,
		TokenURL:         srv.URL,
		ClientID:         "id",
		ClientSecret:     "secret",
		HTTP:             httpx.Options{Client: srv.Client(), APIClient: "api/1"},
		Kind:             "file",
	})
	tok, err := x.Token()
	if err != nil || tok.AccessToken != "at" || time.Until(tok.Expiry) < 59*time.Minute {
		t.Fatalf("Token = %v, %v", tok, err)
	}
	if gotAud != "//iam.googleapis.com/x" || gotType != "urn:ietf:params:oauth:token-type:jwt" {
		t.Errorf("subject asked for %q %q", gotAud, gotType)
	}
	f := (*forms)[0]
	for k, want := range map[string]string{
		"grant_type":           "urn:ietf:params:oauth:grant-type:token-exchange",
		"subject_token":        "subject-token-123",
		"actor_token":          "actor-token-456",
		"scope":                "a b",
		"resource":             "https://resource.example/",
		"requested_token_type": TokenTypeAccessToken,
		"options":              `{"k":"v","userProject":"my-project"}`,
	} {
		if f.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, f.Get(k), want)
		}
	}
	h := (*hdrs)[0]
	if h.Get("Authorization") != httpx.BasicAuth("id", "secret") || h.Get("X-Goog-Api-Client") != "api/1" {
		t.Errorf("headers %v", h)
	}
	if x.TokenURL() != srv.URL || x.Audience() != "//iam.googleapis.com/x" || x.APIClient() != "api/1" || x.Logger() != nil ||
		!strings.Contains(x.String(), srv.URL) || strings.Contains(x.String(), "secret") {
		t.Errorf("accessors: %v", x)
	}
}

func TestExchangeIntermediaryAndLifetimes(t *testing.T) {
	exp := time.Now().Add(40 * time.Minute).Truncate(time.Second)
	srv, forms, _ := stsStub(t, `{"access_token":"it","issued_token_type":"`+TokenTypeIntermediary+`","token_type":"N_A","access_boundary_session_key":"key"}`)
	x := New(Config{Subject: static("root-token-abc", exp), SubjectTokenType: TokenTypeAccessToken, RequestedTokenType: TokenTypeIntermediary,
		Scopes: []string{"s"}, TokenURL: srv.URL, HTTP: httpx.Options{Client: srv.Client()}})
	r, err := x.Exchange(context.Background())
	if err != nil || r.SessionKey != "key" || !r.Token.Expiry.Equal(exp) {
		t.Fatalf("intermediary = %+v, %v", r, err)
	}
	if (*forms)[0].Has("scope") || (*forms)[0].Get("requested_token_type") != TokenTypeIntermediary {
		t.Errorf("intermediary form %v", (*forms)[0])
	}

	// No session key for an intermediary; no lifetime for a JWT subject.
	for _, tc := range []struct {
		answer, subjectType, requested, want string
	}{
		{`{"access_token":"it","token_type":"N_A"}`, TokenTypeAccessToken, TokenTypeIntermediary, "access_boundary_session_key"},
		{`{"access_token":"at","token_type":"Bearer"}`, "urn:ietf:params:oauth:token-type:jwt", "", "expires_in"},
	} {
		srv, _, _ := stsStub(t, tc.answer)
		x := New(Config{Subject: static("subject-token-abc", time.Time{}), SubjectTokenType: tc.subjectType, RequestedTokenType: tc.requested,
			TokenURL: srv.URL, HTTP: httpx.Options{Client: srv.Client()}})
		_, err := x.Token()
		var he *httpx.Error
		if !errors.As(err, &he) || he.StatusCode != 200 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.answer, err)
		}
	}
}

func TestExchangeSubjectErrorsPassThrough(t *testing.T) {
	boom := errors.New("boom")
	x := New(Config{Subject: func(context.Context, string, string) (string, time.Time, error) { return "", time.Time{}, boom },
		TokenURL: "http://127.0.0.1:1"})
	if _, err := x.Token(); err != boom {
		t.Errorf("subject error = %v", err)
	}
	srv, _, _ := stsStub(t, `{}`)
	x = New(Config{Subject: static("s-token-123", time.Time{}), Actor: func(context.Context, string, string) (string, time.Time, error) { return "", time.Time{}, boom },
		TokenURL: srv.URL, HTTP: httpx.Options{Client: srv.Client()}})
	if _, err := x.Token(); err != boom {
		t.Errorf("actor error = %v", err)
	}
}

func TestEncodeOptions(t *testing.T) {
	if b, err := EncodeOptions("F", nil, "", nil); b != nil || err != nil {
		t.Errorf("empty = %s, %v", b, err)
	}
	if b, err := EncodeOptions("F", map[string]any{}, "", nil); b != nil || err != nil {
		t.Errorf("empty map = %s, %v", b, err)
	}
	b, err := EncodeOptions("F", nil, "", []byte(`{"accessBoundaryRules":[]}`))
	if err != nil || string(b) != `{"accessBoundary":{"accessBoundaryRules":[]}}` {
		t.Errorf("boundary = %s, %v", b, err)
	}
	for _, tc := range []map[string]any{
		{"userProject": "x"}, {"accessBoundary": "x"}, {"f": func() {}}, {"big": strings.Repeat("x", MaxOptionsSize)},
	} {
		if _, err := EncodeOptions("F", tc, "", nil); err == nil || err.Field != "F" {
			t.Errorf("%v: %v", tc, err)
		}
	}
}

// TestExchangeBind: with Bind, each exchange asks for the current
// fingerprint and sends it as options.bindCertFingerprint next to the other
// options; an empty one binds nothing; Bind's error ends the exchange
// before anything is sent; options that would grow past the limit are
// refused.
func TestExchangeBind(t *testing.T) {
	srv, forms, _ := stsStub(t, `{"access_token":"at","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3600}`)
	opts, cerr := EncodeOptions("Config.Options", nil, "my-project", nil)
	if cerr != nil {
		t.Fatal(cerr)
	}
	fps := []string{"fp-one", "", "fp-two"}
	calls := 0
	newX := func(opts []byte, bind func() (string, error)) *Exchanger {
		return New(Config{
			Subject: static("subject", time.Time{}), SubjectTokenType: "urn:ietf:params:oauth:token-type:mtls",
			Audience: "//iam.googleapis.com/x", Options: opts, TokenURL: srv.URL,
			HTTP: httpx.Options{Client: srv.Client()}, Bind: bind,
		})
	}
	x := newX(opts, func() (string, error) { fp := fps[calls]; calls++; return fp, nil })
	for range fps {
		if _, err := x.Token(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{`{"userProject":"my-project","bindCertFingerprint":"fp-one"}`, `{"userProject":"my-project"}`,
		`{"userProject":"my-project","bindCertFingerprint":"fp-two"}`}
	for i, f := range *forms {
		if got := f.Get("options"); got != want[i] {
			t.Errorf("exchange %d: options %s, want %s", i, got, want[i])
		}
	}
	if _, err := newX(nil, func() (string, error) { return "fp", nil }).Token(); err != nil {
		t.Fatal(err)
	}
	if got := (*forms)[len(*forms)-1].Get("options"); got != `{"bindCertFingerprint":"fp"}` {
		t.Errorf("options without others: %s", got)
	}
	n := len(*forms)
	boom := errors.New("certificate unreadable")
	if _, err := newX(opts, func() (string, error) { return "", boom }).Token(); !errors.Is(err, boom) {
		t.Errorf("Bind error: %v", err)
	}
	big, cerr := EncodeOptions("Config.Options", map[string]any{"pad": strings.Repeat("x", MaxOptionsSize-40)}, "", nil)
	if cerr != nil {
		t.Fatal(cerr)
	}
	_, err := newX(big, func() (string, error) { return strings.Repeat("f", 43), nil }).Token()
	var he *httpx.Error
	if !errors.As(err, &he) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized options: %v", err)
	}
	if len(*forms) != n {
		t.Errorf("%d requests sent after a failed Bind or oversized options", len(*forms)-n)
	}
}

// TestKindsShared: exchanges of one kind share what they have in common,
// and at most maxKinds kinds are kept however many source names appear.
func TestKindsShared(t *testing.T) {
	cfg := Config{SubjectTokenType: "urn:ietf:params:oauth:token-type:jwt", TokenURL: "https://sts.example/v1/token", Kind: "shared-kind"}
	if a, b := New(cfg), New(cfg); a.kind != b.kind {
		t.Error("exchanges of one kind do not share it")
	}
	for i := range 3 * maxKinds {
		cfg.Kind = fmt.Sprintf("kind-%d", i)
		if x := New(cfg); x.name != cfg.Kind || x.requested != TokenTypeAccessToken {
			t.Fatalf("exchange %d: kind %+v", i, *x.kind)
		}
	}
	if n := len(kinds); n > maxKinds {
		t.Errorf("%d kinds kept; at most %d", n, maxKinds)
	}
}

// FuzzBoundaryOptions: the options of a boundary encoded by json.Marshal
// are the bytes EncodeOptions makes of it.
func FuzzBoundaryOptions(f *testing.F) {
	for _, s := range []string{"bucket", "x & <y>", "\u2028", "é", "", `"quoted"`} {
		f.Add(s, "inRole:roles/storage.objectViewer")
	}
	f.Fuzz(func(t *testing.T, resource, permission string) {
		raw, err := json.Marshal(map[string]any{"accessBoundaryRules": []any{map[string]any{
			"availableResource": resource, "availablePermissions": []string{permission}}}})
		if err != nil {
			t.Skip()
		}
		got, gerr := BoundaryOptions("f", raw)
		want, werr := EncodeOptions("f", nil, "", raw)
		if (gerr == nil) != (werr == nil) || string(got) != string(want) {
			t.Fatalf("%s: %q (%v), EncodeOptions: %q (%v)", raw, got, gerr, want, werr)
		}
	})
}
