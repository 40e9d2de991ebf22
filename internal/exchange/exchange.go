// Package exchange is the RFC 8693 token exchange engine of the module: it
// builds the form (subject, actor, scopes, resource, options JSON with
// userProject and accessBoundary, requested token type) and posts it to STS
// through internal/httpx.
//
// It is built from values already checked by its caller (the root package
// checks a Config by Go field names, the credential loader a file by JSON
// paths); it validates nothing. Its own failures are *httpx.Error; errors of
// the Subject and Actor functions come back as they are.
package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/logenv"
	"github.com/stsgo/sts/internal/source"
	"github.com/stsgo/sts/internal/wire"
)

// Token type URNs the engine treats specially.
const (
	TokenTypeAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeIntermediary = "urn:ietf:params:oauth:token-type:access_boundary_intermediary_token"
)

// MaxOptionsSize is the largest options JSON sent: STS's API reference
// limits the options parameter to 2048 characters (counted here as bytes,
// the stricter reading).
const MaxOptionsSize = 2048

// Subject fetches a subject (or actor) token for an exchange with this
// audience and subject token type and, when it knows it, the token's
// expiry (zero otherwise). Its errors are returned unchanged.
type Subject func(ctx context.Context, audience, subjectTokenType string) (token string, expiry time.Time, err error)

// Config is a checked exchange. Subject, SubjectTokenType and TokenURL are
// required; every other zero value means "not sent".
type Config struct {
	Subject          Subject
	SubjectTokenType string
	Audience         string
	// Actor and ActorTokenType are the optional RFC 8693 actor.
	Actor          Subject
	ActorTokenType string
	// RequestedTokenType is sent as requested_token_type; empty means
	// TokenTypeAccessToken. An intermediary request sends no scope.
	RequestedTokenType string
	// Scopes are kept as they are, not copied: the caller must not change
	// them later.
	Scopes   []string
	Resource string
	// Options is the encoded options JSON (see EncodeOptions), nil for
	// none.
	Options  []byte
	TokenURL string
	// ClientID and ClientSecret, when ClientID is set, authenticate with
	// HTTP Basic auth.
	ClientID, ClientSecret string
	// HTTP configures the Doer; HTTP.APIClient is the x-goog-api-client
	// value (see httpx.ExternalAccountAPIClient).
	HTTP httpx.Options
	// Kind names the subject source in logs ("file", "url", …).
	Kind string
	// Bind, if set, is called at each exchange for the fingerprint of the
	// client certificate the exchange presents (see BindOption); a
	// non-empty one is sent as options.bindCertFingerprint, so that the
	// token is bound to that certificate. Options must not hold that key.
	// Its errors are returned unchanged.
	Bind func() (string, error)
	// Bounded says that Subject and Actor return by their context's
	// deadline; see Exchanger.Bounded.
	Bounded bool
}

// BindOption is the options member that binds a token to a client
// certificate.
const BindOption = "bindCertFingerprint"

// Exchanger performs one exchange per call, without caching. It is safe for
// concurrent use. It keeps only what each exchange sends (many idle
// sources may be alive at once).
type Exchanger struct {
	subject  Subject
	audience string
	scopes   []string
	options  string
	tokenURL string
	*kind          // shared by the exchanges of one kind
	rare     *rare // nil when none is set
	doer     httpx.Doer
}

// kind is what exchanges of one kind have in common: a handful of values
// per program, shared (see kindOf), so that an idle source does not hold
// copies of them.
type kind struct {
	subjectType string
	requested   string
	name        string // the subject source in logs ("file", "url", …)
	bounded     bool
}

// kindOf returns the shared kind equal to k, or a copy once maxKinds are
// shared (source names come from providers, which may be anyone's).
func kindOf(k kind) *kind {
	kindsMu.Lock()
	p, ok := kinds[k]
	if !ok {
		p = &k
		if kinds == nil {
			kinds = make(map[kind]*kind)
		}
		if len(kinds) < maxKinds {
			kinds[k] = p
		}
	}
	kindsMu.Unlock() // not deferred: nothing above panics, and a defer costs a function
	return p
}

// kinds holds the kinds in use.
var (
	kindsMu sync.Mutex
	kinds   map[kind]*kind // made at the first use
)

const maxKinds = 64

// rare holds the settings few exchanges use.
type rare struct {
	actor      Subject
	actorType  string
	resource   string
	authHeader string
	bind       func() (string, error)
}

// New returns the engine of c.
func New(c Config) *Exchanger {
	k := kind{subjectType: c.SubjectTokenType, requested: c.RequestedTokenType, name: c.Kind, bounded: c.Bounded}
	if k.requested == "" {
		k.requested = TokenTypeAccessToken
	}
	x := &Exchanger{
		subject: c.Subject, audience: c.Audience, options: string(c.Options), tokenURL: c.TokenURL,
		kind: kindOf(k),
	}
	x.doer.Init(c.HTTP)
	if c.Actor != nil || c.Resource != "" || c.ClientID != "" || c.Bind != nil {
		x.rare = &rare{actor: c.Actor, actorType: c.ActorTokenType, resource: c.Resource, bind: c.Bind}
		if c.ClientID != "" {
			x.rare.authHeader = httpx.BasicAuth(c.ClientID, c.ClientSecret)
		}
	}
	if x.requested != TokenTypeIntermediary { // an intermediary request sends no scope
		x.scopes = c.Scopes
	}
	return x
}

// Bounded reports whether an exchange returns by its context's deadline:
// its subject and actor do (Config.Bounded), and its HTTP attempts end at
// that deadline.
func (x *Exchanger) Bounded() bool { return x.bounded }

// ReturnsByDeadline is Bounded, for caches around the Exchanger (see
// source.Marked).
func (x *Exchanger) ReturnsByDeadline(source.Mark) bool { return x.bounded }

// TokenURL returns the STS endpoint.
func (x *Exchanger) TokenURL() string { return x.tokenURL }

// Audience returns the audience sent.
func (x *Exchanger) Audience() string { return x.audience }

// APIClient returns the x-goog-api-client value sent.
func (x *Exchanger) APIClient() string { return x.doer.APIClient() }

// Logger returns the resolved logger, nil for none.
func (x *Exchanger) Logger() logenv.Logger { return x.doer.Logger() }

// Token performs an exchange with context.Background().
func (x *Exchanger) Token() (*oauth2.Token, error) { return x.TokenContext(context.Background()) }

// TokenContext fetches a subject token and exchanges it at STS.
func (x *Exchanger) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	r, err := x.Exchange(ctx)
	return r.Token, err
}

// Result is an exchange's answer.
type Result struct {
	Token *oauth2.Token
	// SessionKey is access_boundary_session_key, set for intermediary
	// tokens.
	SessionKey string
}

// Exchange fetches a subject token and exchanges it, returning the token
// and the session key of an intermediary answer (the zero Result with an
// error).
func (x *Exchanger) Exchange(ctx context.Context) (Result, error) {
	logger := x.doer.Logger()
	var fetched time.Time
	if logger != nil {
		fetched = time.Now()
	}
	subject, subjectExpiry, err := x.subject(ctx, x.audience, x.subjectType)
	if logger != nil { // the arguments would allocate even unlogged
		// One call for both records (each call site costs a kilobyte of
		// binary): a failure adds its message and an error attribute.
		msg, args := "sts: subject token", []any{"source", x.name, "elapsed", time.Since(fetched), "error", nil}
		if err != nil {
			msg, args[5] = "sts: subject token failed", err.Error()
		} else {
			args = args[:4]
		}
		x.doer.Log(ctx, slog.LevelDebug, msg, args...)
	}
	if err != nil {
		return Result{}, err
	}
	return x.ExchangeSubject(ctx, subject, subjectExpiry)
}

// ExchangeSubject exchanges subject, a subject token the caller fetched
// (with its expiry, zero if unknown), instead of asking Config.Subject for
// one: what a layer that must know which token it exchanged calls.
func (x *Exchanger) ExchangeSubject(ctx context.Context, subject string, subjectExpiry time.Time) (Result, error) {
	req := wire.TokenRequest{
		RequestedTokenType: x.requested,
		SubjectToken:       subject,
		SubjectTokenType:   x.subjectType,
		Audience:           x.audience,
		Scopes:             x.scopes,
		Options:            x.options,
	}
	var hdr http.Header
	if r := x.rare; r != nil {
		req.Resource = r.resource
		if r.actor != nil {
			actor, _, err := r.actor(ctx, x.audience, x.subjectType)
			if err != nil {
				return Result{}, err
			}
			req.ActorToken, req.ActorTokenType = actor, r.actorType
		}
		if r.authHeader != "" {
			hdr = http.Header{"Authorization": {r.authHeader}}
		}
		if r.bind != nil {
			fp, err := r.bind()
			if err != nil {
				return Result{}, err
			}
			if fp != "" {
				if req.Options, err = withMember(x.options, BindOption, fp); err != nil {
					return Result{}, &httpx.Error{Op: "exchange", Err: err}
				}
			}
		}
	}
	tok, resp, herr := x.doer.PostToken(ctx, "exchange", x.tokenURL, req.Encode(), hdr, subject, req.ActorToken)
	if herr != nil {
		return Result{}, herr
	}
	if !resp.HasExpiresIn {
		// STS leaves expires_in out only for an access token subject,
		// whose own expiry then applies (zero if the caller's token has
		// none). Any other answer without a lifetime is refused: it
		// would be served forever.
		if x.subjectType != TokenTypeAccessToken {
			return Result{}, httpx.BadAnswer("exchange", http.MethodPost, x.tokenURL, httpx.ErrNoExpiresIn)
		}
		tok.Expiry = subjectExpiry
	}
	if x.requested == TokenTypeIntermediary && resp.SessionKey == "" {
		return Result{}, httpx.BadAnswer("exchange", http.MethodPost, x.tokenURL, errs.New("response has no access_boundary_session_key"))
	}
	return Result{Token: tok, SessionKey: resp.SessionKey}, nil
}

// String describes x without secrets.
func (x *Exchanger) String() string {
	return fmt.Sprintf("sts.exchange{Audience:%q TokenURL:%q}", x.audience, x.tokenURL)
}

// withMember returns the options JSON object with one more string member
// (options itself is not modified), refusing a result over MaxOptionsSize.
func withMember(options string, key, value string) (string, error) {
	k, _ := json.Marshal(key)
	v, _ := json.Marshal(value)
	var b []byte
	if len(options) == 0 {
		b = make([]byte, 0, len(k)+len(v)+3)
		b = append(b, '{')
	} else {
		b = make([]byte, 0, len(options)+len(k)+len(v)+2)
		b = append(b, options[:len(options)-1]...) // without the closing brace
		b = append(b, ',')
	}
	b = append(append(append(append(b, k...), ':'), v...), '}')
	if len(b) > MaxOptionsSize {
		return "", errs.Errorf("options with %s are %d bytes, limit %d", key, len(b), MaxOptionsSize)
	}
	return string(b), nil
}

// BoundaryOptions renders the options JSON of server-side downscoping,
// {"accessBoundary":boundary}, where boundary is what json.Marshal made of
// the boundary (compact, HTML characters escaped), so that the result is
// what EncodeOptions would make of it, without its map and passes over the
// JSON. field names the boundary for the error of options over
// MaxOptionsSize.
func BoundaryOptions(field string, boundary []byte) ([]byte, *check.Error) {
	const start, end = `{"accessBoundary":`, `}`
	n := len(start) + len(boundary) + len(end)
	if n > MaxOptionsSize {
		return nil, check.Errorf(field, "encoded options are %d bytes, limit %d", n, MaxOptionsSize)
	}
	b := make([]byte, 0, n)
	b = append(b, start...)
	b = append(b, boundary...)
	return append(b, end...), nil
}

// EncodeOptions renders the options JSON: the caller's extra keys,
// userProject (when not empty) and accessBoundary (when not empty). It
// returns nil when there is nothing to send. field names the caller's
// options field for the errors: an extra key the package sets itself, a
// value that cannot be encoded, or options over MaxOptionsSize.
func EncodeOptions(field string, extra map[string]any, userProject string, accessBoundary json.RawMessage) ([]byte, *check.Error) {
	if len(extra) == 0 && len(accessBoundary) == 0 && userProject == "" {
		return nil, nil // the common case: nothing to build
	}
	opts := make(map[string]any, len(extra)+2)
	for k, v := range extra {
		if k == "userProject" || k == "accessBoundary" {
			return nil, check.Errorf(field, "key %q is set by the package", k)
		}
		opts[k] = v
	}
	if userProject != "" {
		opts["userProject"] = userProject
	}
	if len(accessBoundary) > 0 {
		opts["accessBoundary"] = accessBoundary
	}
	if len(opts) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(opts)
	if err != nil {
		return nil, check.Errorf(field, "cannot be encoded as JSON: %v", err)
	}
	if len(b) > MaxOptionsSize {
		return nil, check.Errorf(field, "encoded options are %d bytes, limit %d", len(b), MaxOptionsSize)
	}
	return b, nil
}
