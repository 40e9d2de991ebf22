package metaserver

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

const tokenPath = "/computeMetadata/v1/instance/service-accounts/default/token"

// scopedSources records the scope sets a server asks sources for.
type scopedSources struct {
	mu   sync.Mutex
	sets []string
	fail bool
}

func (r *scopedSources) make(scopes []string) (oauth2.TokenSource, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return nil, errors.New("cannot make a source")
	}
	key := strings.Join(scopes, " ")
	r.sets = append(r.sets, key)
	return &countingSource{prefix: key, life: time.Hour}, nil
}

func TestParseScopes(t *testing.T) {
	for in, want := range map[string][]string{
		"":        nil,
		",, ,":    nil,
		"b,a,b":   {"a", "b"},
		"b a  c,": {"a", "b", "c"},
		testScope: {testScope},
	} {
		got, err := parseScopes(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseScopes(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"a\"b", `a\b`, "a\x00", "a\tb", "é", strings.Repeat("x", maxScopeLen+1),
		strings.Repeat("a,", maxScopes+1), strings.Repeat("x", maxScopesParam+1),
	} {
		if _, err := parseScopes(in); err == nil {
			t.Errorf("parseScopes(%.40q): no error", in)
		}
	}
}

// TestScopedTokens: ?scopes= is honoured through ScopedTokenSource, one
// source per distinct set, the configured set answered by the main source.
func TestScopedTokens(t *testing.T) {
	rec := &scopedSources{}
	s := newServer(t, Config{TokenSource: &countingSource{prefix: "main", life: time.Hour}, ScopedTokenSource: rec.make})
	tokenOf := func(query string) string {
		t.Helper()
		w := get(s, tokenPath+query)
		if w.Code != 200 {
			t.Fatalf("%s: %d %q", query, w.Code, w.Body)
		}
		body := w.Body.String()
		i := strings.Index(body, `"access_token":"`) + len(`"access_token":"`)
		return body[i : i+strings.IndexByte(body[i:], '"')]
	}
	for _, tc := range [][2]string{
		{"", "main-1"},
		{"?scopes=" + testScope, "main-2"},
		{"?scopes=" + testScope + ",", "main-3"},
		{"?scopes=", "main-4"},
		{"?scopes=b%2Ca", "a b-1"},
		{"?scopes=a,b", "a b-2"},
		{"?scopes=a&scopes=b", "a b-3"},
		{"?scopes=c", "c-1"},
		{"?alt=json&scopes=a+b&x=1", "a b-4"},
	} {
		if got := tokenOf(tc[0]); got != tc[1] {
			t.Errorf("%s: token %q, want %q", tc[0], got, tc[1])
		}
	}
	if diff := cmp.Diff([]string{"a b", "c"}, rec.sets); diff != "" {
		t.Errorf("sources made (-want +got):\n%s", diff)
	}
	if w := get(s, tokenPath+"?scopes=a%22b"); w.Code != 400 {
		t.Errorf("bad scope: %d", w.Code)
	}
	// A failure to make a source is a 503, like a failed fetch.
	rec.fail = true
	if w := get(s, tokenPath+"?scopes=d"); w.Code != 503 {
		t.Errorf("failing source maker: %d", w.Code)
	}
}

// TestScopeCeiling: configured scopes other than cloud-platform bound what
// ?scopes= may ask for; above them the configured token answers.
func TestScopeCeiling(t *testing.T) {
	rec := &scopedSources{}
	s := newServer(t, Config{TokenSource: &countingSource{prefix: "main", life: time.Hour}, Scopes: []string{"x", "y", "z"}, ScopedTokenSource: rec.make})
	for _, q := range []string{"?scopes=x", "?scopes=x,z", "?scopes=" + testScope, "?scopes=x,w", "?scopes=z,y,x"} {
		if w := get(s, tokenPath+q); w.Code != 200 {
			t.Fatalf("%s: %d", q, w.Code)
		}
	}
	if diff := cmp.Diff([]string{"x", "x z"}, rec.sets); diff != "" {
		t.Errorf("sources made (-want +got):\n%s", diff)
	}
	// Without ScopedTokenSource every request gets the main token (but a
	// malformed parameter is still a 400).
	s2 := newServer(t, Config{TokenSource: &countingSource{prefix: "main", life: time.Hour}})
	if w := get(s2, tokenPath+"?scopes=q"); w.Code != 200 || !strings.Contains(w.Body.String(), "main-1") {
		t.Errorf("no scoped sources: %d %q", w.Code, w.Body)
	}
	if w := get(s2, tokenPath+"?scopes=%00"); w.Code != 400 {
		t.Errorf("malformed scopes: %d", w.Code)
	}
}

// TestScopeSetsBounded: a client asking for ever new scope sets cannot grow
// the server without bound; the oldest source is dropped.
func TestScopeSetsBounded(t *testing.T) {
	rec := &scopedSources{}
	s := newServer(t, Config{TokenSource: &countingSource{prefix: "main", life: time.Hour}, ScopedTokenSource: rec.make})
	for i := range MaxScopeSets + 5 {
		get(s, tokenPath+"?scopes=s"+strconv.Itoa(i))
	}
	if len(s.scopedSrc) != MaxScopeSets || len(s.order) != MaxScopeSets {
		t.Errorf("%d sources kept, want %d", len(s.scopedSrc), MaxScopeSets)
	}
	get(s, tokenPath+"?scopes=s0") // dropped: made again
	get(s, tokenPath+"?scopes=s"+strconv.Itoa(MaxScopeSets+4))
	if n := len(rec.sets); n != MaxScopeSets+6 {
		t.Errorf("%d sources made, want %d", n, MaxScopeSets+6)
	}
}
