package sts_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/awssubject"
	"github.com/stsgo/sts/credfile"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/impersonate"
	"github.com/stsgo/sts/login"
	"github.com/stsgo/sts/metaserver"
	"github.com/stsgo/sts/ststest"
)

// The secrets of the matrix: each appears in exactly the values built to
// hold it.
const (
	mxClientSecret = "MX-client-secret-4d1f8a"
	mxSubject      = "MX-static-subject-9c27e1"
	mxHeader       = "MX-header-credential-77b0c3"
	mxAccess       = "MX-access-token-5e6a2d"
	mxRefresh      = "MX-refresh-token-0f93b4"
	mxIDToken      = "MX-id-token-c8d215"
	mxAWSSecret    = "MX-aws-secret-key-3a7e90"
	mxAWSSession   = "MX-aws-session-token-e41b6c"
)

var mxSecrets = []string{mxClientSecret, mxSubject, mxHeader, mxAccess, mxRefresh, mxIDToken, mxAWSSecret, mxAWSSession}

// mxValues builds one value of every type of the module that holds a
// secret, each holding some of the matrix's secrets.
func mxValues(t *testing.T) map[string]any {
	t.Helper()
	tok := &oauth2.Token{AccessToken: mxAccess, RefreshToken: mxRefresh, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}
	emu := ststest.NewInMemoryServer(ststest.Options{})
	httpOpts := sts.HTTPOptions{HTTPClient: emu.Client()}
	cache := sts.CacheOptions{InitialToken: tok}
	url := sts.URLSubject{URL: "https://metadata.example/token", Headers: map[string]string{"Authorization": "Bearer " + mxHeader}}
	cfg := sts.Config{
		Subject: sts.StaticSubject(mxSubject), SubjectTokenType: sts.TokenTypeJWT,
		Audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
		ClientID: "client", ClientSecret: mxClientSecret, TokenURL: emu.TokenURL(), HTTPOptions: httpOpts, Cache: cache,
		ActorToken: url, ActorTokenType: sts.TokenTypeJWT,
	}
	cached, err := sts.NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sts.NewCachedTokenSource(oauth2.StaticTokenSource(tok), cache)
	if err != nil {
		t.Fatal(err)
	}
	userFile := `{"type":"external_account_authorized_user","audience":"//iam.googleapis.com/locations/global/workforcePools/p/providers/q",` +
		`"client_id":"client","client_secret":"` + mxClientSecret + `","refresh_token":"` + mxRefresh + `",` +
		`"token_url":"` + emu.URL + `/v1/oauthtoken"}`
	creds, err := credfile.Load([]byte(userFile), credfile.Options{HTTPOptions: httpOpts, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	dcfg := downscope.Config{Source: oauth2.StaticTokenSource(tok), TokenURL: emu.TokenURL(), HTTPOptions: httpOpts, Cache: cache,
		Boundary: &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("b", "roles/storage.objectViewer")}}}
	mcfgDown := dcfg
	mcfgDown.Boundary, mcfgDown.Cache = nil, sts.CacheOptions{}
	minter, err := downscope.NewMinter(mcfgDown)
	if err != nil {
		t.Fatal(err)
	}
	icfg := impersonate.Config{Source: oauth2.StaticTokenSource(tok), TargetPrincipal: "sa@p.iam.gserviceaccount.com", HTTPOptions: httpOpts, Cache: cache}
	aws := &awssubject.Subject{Region: "us-east-1", Credentials: aws.NewCredentialsCache(awsStatic{}),
		Getenv: func(k string) string {
			return map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": mxAWSSecret, "AWS_SESSION_TOKEN": mxAWSSession}[k]
		}}
	lcfg := login.Config{Audience: "//iam.googleapis.com/locations/global/workforcePools/p/providers/q", ClientID: "c", ClientSecret: mxClientSecret, HTTPOptions: httpOpts}
	res := &login.Result{Token: tok, IDToken: mxIDToken}
	mcfg := metaserver.Config{TokenSource: oauth2.StaticTokenSource(tok), Email: "sa@p.iam.gserviceaccount.com"}
	return map[string]any{
		"sts.Config":              cfg,
		"sts.StaticSubject":       sts.StaticSubject(mxSubject),
		"sts.URLSubject":          url,
		"sts.IntrospectOptions":   sts.IntrospectOptions{ClientID: "c", ClientSecret: mxClientSecret, HTTPOptions: httpOpts},
		"sts.CacheOptions":        cache,
		"sts.TokenSourceSubject":  sts.TokenSourceSubject{Source: oauth2.StaticTokenSource(tok)},
		"*sts.CachedTokenSource":  cached,
		"*sts.CachedTokenSource2": plain,
		"*credfile.Credentials":   creds,
		"credfile.Credentials":    *creds,
		"credfile.Options":        credfile.Options{HTTPOptions: httpOpts, Cache: cache},
		"downscope.Config":        dcfg,
		"*downscope.Minter":       minter,
		"impersonate.Config":      icfg,
		"*awssubject.Subject":     aws,
		"awssubject.Subject":      *aws,
		"login.Config":            lcfg,
		"*login.Result":           res,
		"login.Result":            *res,
		"metaserver.Config":       mcfg,
	}
}

// awsStatic hands out the matrix's AWS credentials.
type awsStatic struct{}

func (awsStatic) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: mxAWSSecret, SessionToken: mxAWSSession, Source: "matrix"}, nil
}

// mxRenderings renders v every way a program may print or log it: every
// fmt verb (with flags and widths), json.Marshal, slog's text and JSON
// handlers; directly, and nested in another struct by value and by
// pointer, in a slice and in a map.
func mxRenderings(v any) map[string]string {
	out := map[string]string{}
	type holder struct {
		Name  string
		Value any
	}
	nested := map[string]any{
		"direct":             v,
		"in a struct":        holder{"x", v},
		"in a struct by ptr": &holder{"x", v},
		"in a slice":         []any{v},
		"in a map":           map[string]any{"k": v},
	}
	for how, w := range nested {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%10v", "%-40s", "%.80v", "%U", "%o", "%e"} {
			out[how+" "+verb] = fmt.Sprintf(verb, w)
		}
		if reflect.ValueOf(w).Kind() == reflect.Pointer {
			out[how+" %p"] = fmt.Sprintf("%p", w) // go vet refuses %p of anything else
		}
		out[how+" Sprint"] = fmt.Sprint(w)
		out[how+" Sprintln"] = fmt.Sprintln(w)
		b, err := json.Marshal(w)
		out[how+" json"] = string(b) + fmt.Sprint(err)
		var tb, jb bytes.Buffer
		slog.New(slog.NewTextHandler(&tb, nil)).Info("m", "v", w)
		slog.New(slog.NewJSONHandler(&jb, nil)).Info("m", "v", w)
		slog.New(slog.NewTextHandler(&tb, nil)).Info("m", slog.Group("g", "v", w))
		out[how+" slog text"] = tb.String()
		out[how+" slog json"] = jb.String()
	}
	return out
}

var mxBase64 = regexp.MustCompile(`[A-Za-z0-9+/_-]{16,}={0,2}`)

// mxReveals returns the secret text shows: as it is, in hexadecimal (either
// case), or inside base64.
func mxReveals(text string, extra ...string) []string {
	var found []string
	low := strings.ToLower(text)
	for _, s := range append(extra, mxSecrets...) {
		if strings.Contains(text, s) || strings.Contains(low, hex.EncodeToString([]byte(s))) {
			found = append(found, s)
			continue
		}
		for _, run := range mxBase64.FindAllString(text, -1) {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
				if b, err := enc.DecodeString(run); err == nil && bytes.Contains(b, []byte(s)) {
					found = append(found, s)
				}
			}
		}
	}
	return found
}

// TestSecretsOnEveryFormattingPath: no secret-holding type of the module
// shows a secret through any fmt verb, json.Marshal or slog handler, held
// directly or nested, by value or by pointer.
func TestSecretsOnEveryFormattingPath(t *testing.T) {
	values := mxValues(t)
	runs := 0
	for name, v := range values {
		for how, text := range mxRenderings(v) {
			runs++
			if s := mxReveals(text); len(s) > 0 {
				t.Errorf("%s, %s: reveals %q: %.300s", name, how, s, text)
			}
		}
	}
	t.Logf("secret formatting matrix: %d types, %d renderings", len(values), runs)
}

// TestSecretsUnreachableByReflection: where the module keeps a secret in
// an unexported field (a credential file's contents and client secret, a
// cache's token, a Minter's session, an AWS provider's cached credentials),
// printing by reflection alone, which calls no method (a value nested in an
// unexported field of the caller's struct; fmt's bad-verb path, as for %p of
// a value), reaches no secret either. Exported string fields (a Config's
// ClientSecret) cannot be protected on those paths; go vet reports %p of a
// value.
func TestSecretsUnreachableByReflection(t *testing.T) {
	values := mxValues(t)
	ctx := context.Background()
	// Use the sources, so that they hold what they fetched.
	if _, err := values["*sts.CachedTokenSource2"].(*sts.CachedTokenSource).Token(); err != nil {
		t.Fatal(err)
	}
	cb, err := downscope.Compile(&sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("b", "roles/storage.objectViewer")}})
	if err != nil {
		t.Fatal(err)
	}
	minted, err := values["*downscope.Minter"].(*downscope.Minter).Token(ctx, cb)
	if err != nil {
		t.Fatal(err)
	}
	aws := values["*awssubject.Subject"].(*awssubject.Subject)
	if _, err := aws.SubjectToken(ctx, sts.SubjectRequest{Audience: "//iam.googleapis.com/x", SubjectTokenType: sts.TokenTypeAWS4Request}); err != nil {
		t.Fatal(err)
	}
	type hidden struct{ v any }
	// The minted token, and the intermediary token behind it, must not
	// show either.
	minterSecret := minted.AccessToken
	for _, name := range []string{"*sts.CachedTokenSource", "*sts.CachedTokenSource2", "*credfile.Credentials", "credfile.Credentials",
		"*downscope.Minter", "*awssubject.Subject"} {
		v := values[name]
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%t", "%x", "%q", "%e", "%U"} {
			for how, text := range map[string]string{
				"in an unexported field":            fmt.Sprintf(verb, hidden{v}),
				"in an unexported field by pointer": fmt.Sprintf(verb, &hidden{v}),
			} {
				if s := mxReveals(text, minterSecret); len(s) > 0 {
					t.Errorf("%s %s %s: reveals %q: %.300s", name, how, verb, s, text)
				}
			}
		}
		if !strings.HasPrefix(name, "*") {
			if s := mxReveals(fmt.Sprintf("%p", v), minterSecret); len(s) > 0 {
				t.Errorf("%s %%p: reveals %q", name, s)
			}
		}
	}
}
