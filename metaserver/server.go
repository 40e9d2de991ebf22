package metaserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/logenv"
	"github.com/stsgo/sts/internal/secret"
	"github.com/stsgo/sts/internal/statusrec"
)

// ReadinessPath is the path of the readiness answer: 200 "ok" while the
// server holds a valid access token (it fetches one if it holds none), 503
// otherwise. It needs no Metadata-Flavor header and reveals no secret.
const ReadinessPath = "/readyz"

// Config is what a Server serves. TokenSource is required; every other field
// has a documented default. A Config is not used after New returns, except
// for the sources and funcs it holds.
type Config struct {
	// TokenSource supplies the access tokens of the configured scopes. It is
	// called for every token request, so it should cache (an
	// sts.CachedTokenSource does, with no I/O and no lock for a fresh
	// token). If it has a TokenContext(context.Context) method, that is
	// called with the request's context. Required.
	TokenSource oauth2.TokenSource `json:"-"`

	// Scopes are the scopes of TokenSource's tokens, answered by
	// .../scopes. Nil means sts.CloudPlatformScope. They are also the
	// ceiling of what ?scopes= may ask for: unless they hold
	// sts.CloudPlatformScope, a request for any other scope is answered
	// with a token of these scopes.
	Scopes []string

	// ScopedTokenSource, if set, returns the source of tokens for a set of
	// scopes other than Scopes, asked for with ?scopes= (sorted, without
	// duplicates). It is called once per distinct set; the server keeps the
	// most recent MaxScopeSets sources. Nil means every token request is
	// answered with TokenSource's token, whatever it asks for (what a
	// credential that cannot choose its scopes must do).
	ScopedTokenSource func(scopes []string) (oauth2.TokenSource, error)

	// IDToken, if set, mints an ID token for an audience, for
	// .../identity?audience=. The server keeps the last token of each of
	// MaxIDTokenAudiences audiences until 5 minutes before the expiry its
	// exp claim gives (a token without one is not kept), and requests for
	// one audience share one call. Nil means identity requests are answered
	// 404 with IDTokenUnavailable.
	IDToken func(ctx context.Context, audience string) (string, error)

	// IDTokenUnavailable is the reason given in the 404 answer to an
	// identity request when IDToken is nil. Empty means a generic reason.
	IDTokenUnavailable string

	// Email is the service account's email, answered by .../email. Empty
	// means "default" (a federated principal that impersonates no service
	// account has no email; clients such as Python's google-auth read one
	// before every refresh, so the server answers one anyway).
	Email string

	// ProjectID is answered by project/project-id. Empty means 404 there.
	ProjectID string

	// NumericProjectID is answered by project/numeric-project-id; it must
	// be decimal digits. Empty means 404 there.
	NumericProjectID string

	// UniverseDomain is answered by universe/universe-domain. Empty means
	// sts.DefaultUniverseDomain ("googleapis.com").
	UniverseDomain string

	// AllowedHosts are the values of the Host header accepted besides the
	// defaults: a loopback IP address (with any port), "localhost",
	// "metadata", "metadata.google.internal" and "169.254.169.254". A
	// request naming another host is refused with 403, which stops DNS
	// rebinding. A "*" entry accepts any Host (for a Unix socket, which no
	// browser reaches). Nil means the defaults only.
	AllowedHosts []string

	// Logger receives one Debug record per request (method, path without
	// the query, status, duration) and a Warn record for each failed token
	// fetch; never a token. A *slog.Logger usually; nil means what
	// GOOGLE_SDK_GO_LOGGING_LEVEL asks for (see sts.LoggingLevelEnv): by
	// default, no logging.
	Logger sts.Logger
}

// Format prints c without its token sources, whatever the verb: no verb
// shows a token they hold.
func (c Config) Format(f fmt.State, verb rune) {
	secret.Format(f, verb, fmt.Sprintf("metaserver.Config{Email:%q ProjectID:%q Scopes:%q UniverseDomain:%q}", c.Email, c.ProjectID, c.Scopes, c.UniverseDomain))
}

// MaxScopeSets is how many sources for distinct ?scopes= sets a Server
// keeps; past it, the least recently created one is dropped.
const MaxScopeSets = 16

// Server answers the metadata-server protocol. Create it with New; it is an
// http.Handler, safe for concurrent use.
type Server struct {
	src        oauth2.TokenSource
	ctxSrc     ctxTokenSource // src's TokenContext, or nil
	scopes     []string
	scopeKey   string
	anyScope   bool
	scoped     func([]string) (oauth2.TokenSource, error)
	ids        *idCache // nil without Config.IDToken
	noIdentity string
	hosts      map[string]bool
	anyHost    bool
	log        sts.Logger // nil: none
	tree       *node

	// expiry is the expiry (Unix nanoseconds) of the last token the main
	// source returned: readiness is answered from it.
	expiry atomic.Int64

	mu        sync.Mutex
	scopedSrc map[string]oauth2.TokenSource
	order     []string // keys of scopedSrc, oldest first
}

type ctxTokenSource interface {
	TokenContext(context.Context) (*oauth2.Token, error)
}

// New checks cfg and returns its Server. An error is a *sts.ValidationError
// naming the Config field.
func New(cfg Config) (*Server, error) {
	if cfg.TokenSource == nil {
		return nil, &sts.ValidationError{Field: "Config.TokenSource", Reason: "is required"}
	}
	s := &Server{
		src:        cfg.TokenSource,
		scoped:     cfg.ScopedTokenSource,
		noIdentity: cfg.IDTokenUnavailable,
		log:        logenv.Resolve(cfg.Logger),
		scopedSrc:  map[string]oauth2.TokenSource{},
	}
	if cfg.IDToken != nil {
		s.ids = &idCache{mint: cfg.IDToken}
	}
	if c, ok := cfg.TokenSource.(ctxTokenSource); ok {
		s.ctxSrc = c
	}
	if s.noIdentity == "" {
		s.noIdentity = "this server's credential cannot mint ID tokens"
	}
	if strings.ContainsAny(s.noIdentity, "\r\n\x00") {
		return nil, &sts.ValidationError{Field: "Config.IDTokenUnavailable", Reason: "must be one line"}
	}
	scopes := cfg.Scopes
	if scopes == nil {
		scopes = []string{sts.CloudPlatformScope}
	}
	if len(scopes) == 0 {
		return nil, &sts.ValidationError{Field: "Config.Scopes", Reason: "must not be empty (nil means the cloud-platform scope)"}
	}
	for i, sc := range scopes {
		if reason := checkScope(sc); reason != "" {
			return nil, &sts.ValidationError{Field: "Config.Scopes[" + strconv.Itoa(i) + "]", Reason: reason}
		}
	}
	s.scopes = normalizeScopes(scopes)
	s.scopeKey = strings.Join(s.scopes, " ")
	for _, sc := range s.scopes {
		if sc == sts.CloudPlatformScope {
			s.anyScope = true
		}
	}
	email := cfg.Email
	if email == "" {
		email = "default"
	}
	if reason := checkLabel(email); reason != "" {
		return nil, &sts.ValidationError{Field: "Config.Email", Reason: reason}
	}
	if cfg.ProjectID != "" {
		if reason := checkLabel(cfg.ProjectID); reason != "" {
			return nil, &sts.ValidationError{Field: "Config.ProjectID", Reason: reason}
		}
	}
	if cfg.NumericProjectID != "" && !isDigits(cfg.NumericProjectID) {
		return nil, &sts.ValidationError{Field: "Config.NumericProjectID", Reason: "must be decimal digits"}
	}
	universe := cfg.UniverseDomain
	if universe == "" {
		universe = sts.DefaultUniverseDomain
	}
	if reason := checkLabel(universe); reason != "" {
		return nil, &sts.ValidationError{Field: "Config.UniverseDomain", Reason: reason}
	}
	s.hosts = map[string]bool{"localhost": true, "metadata": true, "metadata.google.internal": true, "169.254.169.254": true}
	for i, h := range cfg.AllowedHosts {
		if h == "*" {
			s.anyHost = true
			continue
		}
		if reason := checkLabel(h); reason != "" || strings.ContainsAny(h, "/@?#") {
			if reason == "" {
				reason = "must be a host name or address"
			}
			return nil, &sts.ValidationError{Field: "Config.AllowedHosts[" + strconv.Itoa(i) + "]", Reason: reason}
		}
		s.hosts[strings.ToLower(strings.TrimSuffix(h, "."))] = true
	}
	s.tree = buildTree(email, s.scopes, cfg.ProjectID, cfg.NumericProjectID, universe)
	return s, nil
}

// checkLabel reports what is wrong with a value answered as text, or "".
func checkLabel(v string) string {
	if len(v) > 1024 {
		return "is longer than 1024 bytes"
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return "must be printable ASCII without spaces"
		}
	}
	return ""
}

func isDigits(v string) bool {
	if v == "" || len(v) > 32 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// Ready reports whether the server holds an access token that has not
// expired. It does no I/O.
func (s *Server) Ready() bool {
	exp := s.expiry.Load()
	return exp != 0 && time.Now().UnixNano() < exp
}

// Check makes sure the server holds a valid access token, fetching one if
// it holds none, and returns the fetch's error. Readiness answers are
// Check's result; a program may call it at start to report a broken
// credential early.
func (s *Server) Check(ctx context.Context) error {
	if s.Ready() {
		return nil
	}
	_, err := s.token(ctx, nil, time.Now())
	return err
}

// ReadinessHandler answers ReadinessPath as the Server does, and 404 for
// every other path: a handler safe to expose on a non-loopback address
// (for a Kubernetes probe, which cannot reach a sidecar's loopback), since
// it reveals no token.
func (s *Server) ReadinessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != ReadinessPath {
			refuse(w, http.StatusNotFound, "not found")
			return
		}
		s.serveReadiness(w, r)
	})
}

// String describes the server without any secret.
func (s *Server) String() string {
	return "metaserver.Server{scopes: " + strconv.Itoa(len(s.scopes)) + "}"
}

// GoString is String: %#v shows no secret either.
func (s *Server) GoString() string { return s.String() }

// token returns a token of the main source, or of the source for scopes.
func (s *Server) token(ctx context.Context, scopes []string, now time.Time) (*oauth2.Token, error) {
	if scopes == nil {
		tok, err := fetch(ctx, s.src, s.ctxSrc, now)
		if err == nil {
			s.noteExpiry(tok.Expiry, now)
		}
		return tok, err
	}
	src, err := s.sourceFor(scopes)
	if err != nil {
		return nil, err
	}
	c, _ := src.(ctxTokenSource)
	return fetch(ctx, src, c, now)
}

// fetch gets a token from src (through c when set) and refuses a missing
// or expired one.
func fetch(ctx context.Context, src oauth2.TokenSource, c ctxTokenSource, now time.Time) (*oauth2.Token, error) {
	var tok *oauth2.Token
	var err error
	if c != nil {
		tok, err = c.TokenContext(ctx)
	} else {
		tok, err = src.Token()
	}
	if err == nil && (tok == nil || tok.AccessToken == "") {
		err = errors.New("sts: metaserver: the token source returned no token")
	}
	if err == nil && !tok.Expiry.IsZero() && !now.Before(tok.Expiry) {
		err = errors.New("sts: metaserver: the token source returned an expired token")
	}
	return tok, err
}

// noteExpiry records the expiry of the main source's token, for Ready.
func (s *Server) noteExpiry(exp, now time.Time) {
	if exp.IsZero() {
		// A token without an expiry is valid until a fetch fails; keep it
		// ready for a nominal lifetime.
		exp = now.Add(time.Hour)
	}
	if n := exp.UnixNano(); s.expiry.Load() != n {
		s.expiry.Store(n)
	}
}

// sourceFor returns the source of tokens for a normalized scope set other
// than the configured one.
func (s *Server) sourceFor(scopes []string) (oauth2.TokenSource, error) {
	key := strings.Join(scopes, " ")
	s.mu.Lock()
	src, ok := s.scopedSrc[key]
	s.mu.Unlock()
	if ok {
		return src, nil
	}
	src, err := s.scoped(scopes)
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, errors.New("sts: metaserver: ScopedTokenSource returned no source")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.scopedSrc[key]; ok {
		return old, nil // another request made it first: share its cache
	}
	if len(s.order) >= MaxScopeSets {
		delete(s.scopedSrc, s.order[0])
		s.order = append(s.order[:0], s.order[1:]...)
	}
	s.scopedSrc[key] = src
	s.order = append(s.order, key)
	return src, nil
}

// requestedScopes returns nil when the token of the configured scopes
// answers a request for scopes, or the scopes the scoped source must serve.
func (s *Server) requestedScopes(query url.Values) ([]string, error) {
	raw, ok := query["scopes"]
	if !ok {
		return nil, nil
	}
	scopes, err := parseScopes(strings.Join(raw, ","))
	if err != nil {
		return nil, err
	}
	if s.scoped == nil || len(scopes) == 0 || strings.Join(scopes, " ") == s.scopeKey {
		return nil, nil
	}
	if !s.anyScope && !subset(scopes, s.scopes) {
		return nil, nil // above the ceiling: the configured scopes answer
	}
	return scopes, nil
}

// subset reports whether every element of a (sorted) is in b (sorted).
func subset(a, b []string) bool {
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			return false
		}
	}
	return true
}

func (s *Server) warn(ctx context.Context, msg string, err error) {
	if s.log != nil {
		s.log.Log(ctx, slog.LevelWarn, msg, "error", err.Error())
	}
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.log == nil || !s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.serve(w, r)
		return
	}
	start := time.Now()
	rec := &statusrec.Writer{ResponseWriter: w}
	s.serve(rec, r)
	path := r.URL.Path
	if len(path) > 200 {
		path = path[:200] + "…"
	}
	s.log.Log(r.Context(), slog.LevelDebug, "request", "method", r.Method, "path", path, "status", rec.Status(), "duration", time.Since(start))
}
