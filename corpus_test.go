package sts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts/internal/fixture"
	"golang.org/x/oauth2"
)

// The bad-input corpus: malformed answers of every endpoint the package
// calls (STS token exchange, IAM generateAccessToken, the authorized-user
// refresh, introspection) and broken transports, each run in a synctest
// bubble against an in-memory transport. Every run must end in a typed
// error whose text says what was wrong, within its deadline, without a
// panic, a leaked goroutine (the bubble would not end) or a secret in the
// error or the debug log.

// Endpoint kinds the HTTP corpus runs against.
const (
	relOpExchange    = "exchange"
	relOpCached      = "cached" // exchange behind the refresh-ahead cache
	relOpImpersonate = "impersonate"
	relOpRefresh     = "refresh"
	relOpIntrospect  = "introspect"
)

var (
	relAllOps   = []string{relOpExchange, relOpCached, relOpImpersonate, relOpRefresh, relOpIntrospect}
	relTokenOps = []string{relOpExchange, relOpCached, relOpRefresh}
	relIAMOps   = []string{relOpImpersonate}
	relIntroOps = []string{relOpIntrospect}
)

// Timing of every corpus run: a failing call may take at most
// relAttempts × relTimeout plus one backoff.
const (
	relTimeout  = 5 * time.Second
	relAttempts = 2
	relMaxBack  = time.Second
)

type relHTTPCase struct {
	name   string
	ops    []string
	status int
	ctype  string
	body   string
	reader func(r *http.Request) io.Reader // replaces body when set
	hdr    []string                        // extra response headers, key value …
	fail   error                           // transport error instead of a response
	// echo, when set, makes the body from the secrets the request
	// carries (see relRequestSecrets).
	echo func(secrets []string) string
	want string // what the error must say (case-insensitive)
}

const relJSON = "application/json; charset=utf-8"

// relEndless is a body that never runs dry.
type relEndless struct{}

func (relEndless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// relStall sends its prefix, then blocks until its context ends.
type relStall = fixture.Stall

// relBroken sends prefix, then fails with err.
type relBroken struct {
	prefix []byte
	err    error
}

func (b *relBroken) Read(p []byte) (int, error) {
	if len(b.prefix) > 0 {
		n := copy(p, b.prefix)
		b.prefix = b.prefix[n:]
		return n, nil
	}
	return 0, b.err
}

func relTokenBody(fields string) string {
	return `{"access_token":"` + relAccessToken + `","issued_token_type":"urn:ietf:params:oauth:token-type:access_token"` + fields + `}`
}

func relHTTPCorpus() []relHTTPCase {
	big := func(n int) string {
		return `{"access_token":"` + relAccessToken + `","pad":"` + strings.Repeat("x", n) + `"}`
	}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	cs := []relHTTPCase{
		// Bodies that are not JSON objects, on a 200.
		{name: "empty body", ops: relAllOps, status: 200, ctype: relJSON, body: ``, want: "empty response body"},
		{name: "blank body", ops: relAllOps, status: 200, ctype: relJSON, body: " \r\n\t ", want: "empty response body"},
		{name: "204 no content", ops: relAllOps, status: 204, body: ``, want: "empty response body"},
		{name: "open brace", ops: relAllOps, status: 200, ctype: relJSON, body: `{`, want: "json"},
		{name: "truncated object", ops: relAllOps, status: 200, ctype: relJSON, body: relTokenBody("")[:40], want: "json"},
		{name: "truncated after colon", ops: relAllOps, status: 200, ctype: relJSON, body: `{"access_token":`, want: "json"},
		{name: "json null", ops: relTokenOps, status: 200, ctype: relJSON, body: `null`, want: "no access_token"},
		{name: "json array", ops: relAllOps, status: 200, ctype: relJSON, body: `[]`, want: "json"},
		{name: "json string", ops: relAllOps, status: 200, ctype: relJSON, body: `"` + relAccessToken + `"`, want: "json"},
		{name: "json number", ops: relAllOps, status: 200, ctype: relJSON, body: `42`, want: "json"},
		{name: "json true", ops: relAllOps, status: 200, ctype: relJSON, body: `true`, want: "json"},
		{name: "trailing garbage", ops: relAllOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":3600`) + ` xyz`, want: "not valid json"},
		{name: "two objects", ops: relAllOps, status: 200, ctype: relJSON, body: `{}{}`, want: "not valid json"},
		{name: "byte order mark", ops: relAllOps, status: 200, ctype: relJSON, body: "\ufeff" + relTokenBody(""), want: "not valid json"},
		{name: "single quotes", ops: relAllOps, status: 200, ctype: relJSON, body: `{'access_token':'x'}`, want: "not valid json"},
		{name: "nested too deep", ops: relAllOps, status: 200, ctype: relJSON, body: strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000), want: "json"},
		{name: "NaN value", ops: relAllOps, status: 200, ctype: relJSON, body: `{"access_token":"a","expires_in":NaN}`, want: "not valid json"},
		{name: "invalid utf8 outside strings", ops: relAllOps, status: 200, ctype: relJSON, body: "{\xff}", want: "not valid json"},
		{name: "html with json type", ops: relAllOps, status: 200, ctype: relJSON, body: `<!DOCTYPE html><html><body>Sign in</body></html>`, want: "not valid json"},
		{name: "html page", ops: relAllOps, status: 200, ctype: "text/html; charset=utf-8", body: `<!DOCTYPE html><html><body>Sign in</body></html>`, want: "content type"},
		{name: "xml", ops: relAllOps, status: 200, ctype: "application/xml", body: `<token>` + relAccessToken + `</token>`, want: "content type"},
		{name: "form encoded", ops: relAllOps, status: 200, ctype: "application/x-www-form-urlencoded", body: "access_token=" + relAccessToken + "&expires_in=3600", want: "content type"},
		{name: "plain text token", ops: relAllOps, status: 200, ctype: "text/plain", body: relAccessToken, want: "content type"},
		{name: "valid token as html", ops: relTokenOps, status: 200, ctype: "text/html", body: relTokenBody(`,"expires_in":3600`), want: "content type"},
		{name: "octet stream", ops: relAllOps, status: 200, ctype: "application/octet-stream", body: "\x00\x01\x02", want: "content type"},

		// Token responses with wrong members.
		{name: "empty object", ops: relTokenOps, status: 200, ctype: relJSON, body: `{}`, want: "no access_token"},
		{name: "missing access_token", ops: relTokenOps, status: 200, ctype: relJSON, body: `{"token_type":"Bearer","expires_in":3600}`, want: "no access_token"},
		{name: "empty access_token", ops: relTokenOps, status: 200, ctype: relJSON, body: `{"access_token":"","expires_in":3600}`, want: "no access_token"},
		{name: "null access_token", ops: relTokenOps, status: 200, ctype: relJSON, body: `{"access_token":null,"expires_in":3600}`, want: "no access_token"},
		{name: "numeric access_token", ops: relTokenOps, status: 200, ctype: relJSON, body: `{"access_token":12345,"expires_in":3600}`, want: "access_token"},
		{name: "array access_token", ops: relTokenOps, status: 200, ctype: relJSON, body: `{"access_token":["` + relAccessToken + `"]}`, want: "access_token"},
		{name: "object access_token", ops: relTokenOps, status: 200, ctype: relJSON, body: `{"access_token":{"value":"` + relAccessToken + `"}}`, want: "access_token"},
		{name: "camelCase accessToken", ops: relTokenOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expiresIn":3600}`, want: "no access_token"},
		{name: "duplicate access_token last empty", ops: relTokenOps, status: 200, ctype: relJSON, body: `{"access_token":"` + relAccessToken + `","access_token":""}`, want: `"access_token" appears more than once`},
		{name: "duplicate expires_in", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":60,"expires_in":86400`), want: `"expires_in" appears more than once`},
		{name: "expires_in upper case", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"EXPIRES_IN":3600`), want: `"EXPIRES_IN" is not "expires_in"`},
		{name: "access_token mixed case", ops: relTokenOps, status: 200, ctype: relJSON, body: `{"Access_Token":"` + relAccessToken + `","expires_in":3600}`, want: `"Access_Token" is not "access_token"`},
		{name: "token_type kelvin sign", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"to\u212aen_type":"MAC","expires_in":3600`), want: `is not "token_type"`},
		{name: "expires_in escaped duplicate", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":60,"expires_\u0069n":86400`), want: `"expires_in" appears more than once`},
		{name: "token_type MAC", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"token_type":"MAC","expires_in":3600`), want: "not bearer"},
		{name: "token_type DPoP", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"token_type":"DPoP","expires_in":3600`), want: "not bearer"},
		{name: "token_type Basic", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"token_type":"Basic","expires_in":3600`), want: "not bearer"},
		{name: "token_type long", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"token_type":"` + strings.Repeat("Z", 5000) + `"`), want: "not bearer"},
		{name: "token_type number", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"token_type":1`), want: "token_type"},
		{name: "expires_in negative", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":-1`), want: "expires_in must be positive"},
		{name: "expires_in very negative", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":-3600`), want: "expires_in must be positive"},
		{name: "expires_in zero", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":0`), want: "expires_in must be positive"},
		{name: "expires_in zero string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"0"`), want: "expires_in must be positive"},
		{name: "expires_in negative string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"-60"`), want: "expires_in must be positive"},
		{name: "expires_in huge", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":999999999999`), want: "out of range"},
		{name: "expires_in max int64", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":9223372036854775807`), want: "out of range"},
		{name: "expires_in beyond int64", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":92233720368547758070`), want: "expires_in"},
		{name: "expires_in 1e400", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":1e400`), want: "expires_in"},
		{name: "expires_in fraction", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":3600.5`), want: "not an integer"},
		{name: "expires_in word", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"soon"`), want: "not an integer"},
		{name: "expires_in empty string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":""`), want: "not an integer"},
		{name: "expires_in duration string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"3600s"`), want: "not an integer"},
		{name: "expires_in bool", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":true`), want: "expires_in"},
		{name: "expires_in object", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":{"seconds":3600}`), want: "expires_in"},
		{name: "expires_in array", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":[3600]`), want: "expires_in"},
		{name: "expires_in hex", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"0x10"`), want: "not an integer"},
		// No lifetime at all: refused (a JWT subject, and the refresh).
		{name: "expires_in missing", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(``), want: "no expires_in"},
		{name: "expires_in null", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":null`), want: "no expires_in"},
		{name: "expires_in missing bearer", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"token_type":"Bearer"`), want: "no expires_in"},
		{name: "expires_in missing with refresh_token", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"token_type":"Bearer","refresh_token":"` + relRefreshToken + `","scope":"a"`), want: "no expires_in"},
		{name: "expires_in null with N_A type", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"token_type":"N_A","expires_in":null`), want: "no expires_in"},
		{name: "expires_in missing with expiry", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expiry":"2030-01-01T00:00:00Z","expires_at":1893456000`), want: "no expires_in"},
		{name: "expires_in camelCase only", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expiresIn":3600`), want: "no expires_in"},
		// Odd spellings of a number of seconds.
		{name: "expires_in float zero fraction", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":3600.0`), want: "not an integer"},
		{name: "expires_in float zero fraction string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"3600.0"`), want: "not an integer"},
		{name: "expires_in exponent", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":36e2`), want: "not an integer"},
		{name: "expires_in exponent fraction", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":3.6E+3`), want: "not an integer"},
		{name: "expires_in exponent string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"3.6e3"`), want: "not an integer"},
		{name: "expires_in hex float", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"0x1p12"`), want: "not an integer"},
		{name: "expires_in hex float fraction", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"0x1.c2p+11"`), want: "not an integer"},
		{name: "expires_in octal", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"0o7020"`), want: "not an integer"},
		{name: "expires_in binary", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"0b111000010000"`), want: "not an integer"},
		{name: "expires_in underscores", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"3_600"`), want: "not an integer"},
		{name: "expires_in plus sign", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"+3600"`), want: "not an integer"},
		{name: "expires_in leading zero string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"03600"`), want: "not an integer"},
		{name: "expires_in leading zero number", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":03600`), want: "not valid json"},
		{name: "expires_in padded string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":" 3600 "`), want: "not an integer"},
		{name: "expires_in newline string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"3600\n"`), want: "not an integer"},
		{name: "expires_in Infinity string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"Infinity"`), want: "not an integer"},
		{name: "expires_in NaN string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"NaN"`), want: "not an integer"},
		{name: "expires_in fullwidth digits", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"３６００"`), want: "not an integer"},
		{name: "expires_in past year 2262", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":9000000000`), want: "out of range"},
		{name: "expires_in past year 2262 string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"9223372037"`), want: "out of range"},
		{name: "expires_in eleven years", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":346896000`), want: "out of range"},
		{name: "expires_in beyond int64 string", ops: relTokenOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":"99999999999999999999"`), want: "out of range"},

		// IAM generateAccessToken answers.
		{name: "iam empty object", ops: relIAMOps, status: 200, ctype: relJSON, body: `{}`, want: "no accesstoken"},
		{name: "iam null", ops: relIAMOps, status: 200, ctype: relJSON, body: `null`, want: "no accesstoken"},
		{name: "iam snake case", ops: relIAMOps, status: 200, ctype: relJSON, body: relTokenBody(`,"expires_in":3600`), want: "no accesstoken"},
		{name: "iam missing expireTime", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `"}`, want: "no expiretime"},
		{name: "iam empty expireTime", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":""}`, want: "no expiretime"},
		{name: "iam expireTime word", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":"tomorrow"}`, want: "not an rfc 3339 time"},
		{name: "iam expireTime no zone", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":"2030-01-01T00:00:00"}`, want: "not an rfc 3339 time"},
		{name: "iam expireTime month 13", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":"2030-13-01T00:00:00Z"}`, want: "not an rfc 3339 time"},
		{name: "iam expireTime number", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":3600}`, want: "expiretime"},
		{name: "iam expireTime past", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":"1999-01-01T00:00:00Z"}`, want: "in the past"},
		{name: "iam expireTime epoch", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":"1970-01-01T00:00:00Z"}`, want: "in the past"},
		{name: "iam empty accessToken", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"","expireTime":"2999-01-01T00:00:00Z"}`, want: "no accesstoken"},
		{name: "iam expireTime year 2263", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":"2263-01-01T00:00:00Z"}`, want: "more than ten years away"},
		{name: "iam expireTime year 9999", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":"9999-12-31T23:59:59.999999999Z"}`, want: "more than ten years away"},
		{name: "iam expireTime year 3000 offset", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":"3000-01-01T00:00:00+14:00"}`, want: "more than ten years away"},
		{name: "iam expireTime eleven years", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":"2011-01-01T00:00:00Z"}`, want: "more than ten years away"},
		{name: "iam expireTime year 10000", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":"10000-01-01T00:00:00Z"}`, want: "not an rfc 3339 time"},
		{name: "iam expireTime unix seconds string", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":"` + relAccessToken + `","expireTime":"4102444800"}`, want: "not an rfc 3339 time"},
		{name: "iam numeric accessToken", ops: relIAMOps, status: 200, ctype: relJSON, body: `{"accessToken":7,"expireTime":"2999-01-01T00:00:00Z"}`, want: "accesstoken"},

		// Introspection answers.
		{name: "introspect empty object", ops: relIntroOps, status: 200, ctype: relJSON, body: `{}`, want: "active"},
		{name: "introspect active string", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":"yes"}`, want: "active"},
		{name: "introspect active number", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":1}`, want: "active"},
		{name: "introspect active null", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":null}`, want: "active"},
		{name: "introspect exp word", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"exp":"never"}`, want: "exp"},
		{name: "introspect exp fraction", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"exp":1.5}`, want: "exp"},
		{name: "introspect exp object", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"exp":{}}`, want: "exp"},
		{name: "introspect iat bool", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"iat":false}`, want: "iat"},
		{name: "introspect scope array", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"scope":["a","b"]}`, want: "scope"},
		{name: "introspect client_id number", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"client_id":5}`, want: "client_id"},
		{name: "introspect sub object", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"sub":{}}`, want: "sub"},
		{name: "introspect username array", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"username":[]}`, want: "username"},
		{name: "introspect exp exponent", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"exp":1.7e9}`, want: "not an integer"},
		{name: "introspect exp zero fraction", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"exp":1700000000.0}`, want: "not an integer"},
		{name: "introspect exp hex", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"exp":"0x6553f100"}`, want: "not an integer"},
		{name: "introspect exp underscores", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"exp":"1_700_000_000"}`, want: "not an integer"},
		{name: "introspect exp plus", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"exp":"+1700000000"}`, want: "not an integer"},
		{name: "introspect iat leading zero", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"iat":"01700000000"}`, want: "not an integer"},
		{name: "introspect exp year 10000", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"exp":253402300800}`, want: "out of range"},
		{name: "introspect iss number", ops: relIntroOps, status: 200, ctype: relJSON, body: `{"active":true,"iss":1}`, want: "iss"},

		// Error answers, in both shapes and neither.
		{name: "400 invalid_grant", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":"invalid_grant","error_description":"The subject token is expired."}`, want: "invalid_grant: the subject token is expired"},
		{name: "400 invalid_request", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":"invalid_request","error_description":"Missing subject_token."}`, want: "invalid_request"},
		{name: "400 invalid_target", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":"invalid_target","error_description":"The target service indicated by the audience parameter is invalid."}`, want: "invalid_target"},
		{name: "400 unsupported_grant_type", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":"unsupported_grant_type"}`, want: "unsupported_grant_type"},
		{name: "400 invalid_scope", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":"invalid_scope","error_uri":"https://example.com/e"}`, want: "invalid_scope"},
		{name: "401 invalid_client", ops: relAllOps, status: 401, ctype: relJSON, body: `{"error":"invalid_client","error_description":"Client authentication failed."}`, want: "status 401: invalid_client"},
		{name: "403 permission denied", ops: relAllOps, status: 403, ctype: relJSON, body: `{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getAccessToken' denied","status":"PERMISSION_DENIED"}}`, want: "permission_denied"},
		{name: "404 not found", ops: relAllOps, status: 404, ctype: relJSON, body: `{"error":{"code":404,"message":"Not found; Gaia id not found","status":"NOT_FOUND"}}`, want: "not_found"},
		{name: "400 google code only", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":{"code":400}}`, want: "status 400: 400"},
		{name: "400 google message only", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":{"message":"Request contains an invalid argument."}}`, want: "invalid argument"},
		{name: "400 empty error", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":""}`, want: "status 400: bad request"},
		{name: "400 control character error", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":"\u0000\u0007"}`, want: "status 400: bad request"},
		{name: "400 error null", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":null}`, want: "bad request"},
		{name: "400 error array", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":["invalid_grant"]}`, want: "bad request"},
		{name: "400 no error member", ops: relAllOps, status: 400, ctype: relJSON, body: `{"message":"nope"}`, want: "bad request"},
		{name: "400 html", ops: relAllOps, status: 400, ctype: "text/html", body: `<html><body>400 Bad Request</body></html>`, want: "status 400: bad request"},
		{name: "400 empty", ops: relAllOps, status: 400, body: ``, want: "status 400"},
		{name: "400 description with newlines", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":"invalid_grant","error_description":"line one\nline two\r\n\u001b[31mred"}`, want: "line one line two"},
		{name: "400 huge description", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":"invalid_grant","error_description":"` + strings.Repeat("d", 100000) + `"}`, want: "invalid_grant"},
		{name: "400 huge code", ops: relAllOps, status: 400, ctype: relJSON, body: `{"error":"` + strings.Repeat("c", 10000) + `"}`, want: "status 400"},
		{name: "408 request timeout", ops: relAllOps, status: 408, body: ``, want: "request timeout"},
		{name: "413 too large", ops: relAllOps, status: 413, ctype: "text/html", body: `<html>Request Entity Too Large</html>`, want: "status 413"},
		{name: "418 teapot", ops: relAllOps, status: 418, body: ``, want: "status 418"},
		{name: "429 rate limited", ops: relAllOps, status: 429, ctype: relJSON, body: `{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}`, hdr: []string{"Retry-After", "1"}, want: "resource_exhausted"},
		{name: "500 internal", ops: relAllOps, status: 500, ctype: relJSON, body: `{"error":"server_error"}`, want: "status 500: server_error"},
		{name: "500 html", ops: relAllOps, status: 500, ctype: "text/html", body: `<html><body><h1>Internal Server Error</h1></body></html>`, want: "internal server error"},
		{name: "502 proxy html", ops: relAllOps, status: 502, ctype: "text/html", body: `<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>`, want: "status 502: bad gateway"},
		{name: "503 temporarily_unavailable", ops: relAllOps, status: 503, ctype: relJSON, body: `{"error":"temporarily_unavailable","error_description":"try later"}`, want: "temporarily_unavailable"},
		{name: "503 retry-after huge", ops: relAllOps, status: 503, ctype: relJSON, body: `{"error":"temporarily_unavailable"}`, hdr: []string{"Retry-After", "999999999"}, want: "temporarily_unavailable"},
		{name: "503 retry-after date", ops: relAllOps, status: 503, ctype: relJSON, body: `{"error":"temporarily_unavailable"}`, hdr: []string{"Retry-After", "Fri, 31 Dec 2100 23:59:59 GMT"}, want: "temporarily_unavailable"},
		{name: "503 unavailable google", ops: relAllOps, status: 503, ctype: relJSON, body: `{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}`, want: "unavailable"},
		{name: "504 empty", ops: relAllOps, status: 504, body: ``, want: "gateway timeout"},
		{name: "599 unknown", ops: relAllOps, status: 599, body: ``, want: "status 599: unexpected status"},
		{name: "499 unknown", ops: relAllOps, status: 499, body: `garbage`, want: "status 499"},

		// Redirects, which are never followed.
		{name: "301 to another host", ops: relAllOps, status: 301, hdr: []string{"Location", "https://evil.example/v1/token"}, want: `redirect to host "evil.example" not followed`},
		{name: "302 to another host", ops: relAllOps, status: 302, hdr: []string{"Location", "http://attacker.example:8080/collect"}, want: `redirect to host "attacker.example:8080" not followed`},
		{name: "303 see other", ops: relAllOps, status: 303, hdr: []string{"Location", "https://evil.example/"}, want: "not followed"},
		{name: "307 temporary redirect", ops: relAllOps, status: 307, hdr: []string{"Location", "https://evil.example/"}, want: "not followed"},
		{name: "308 permanent redirect", ops: relAllOps, status: 308, hdr: []string{"Location", "https://evil.example/"}, want: "not followed"},
		{name: "302 relative location", ops: relAllOps, status: 302, hdr: []string{"Location", "/elsewhere"}, want: "not followed"},
		{name: "302 without location", ops: relAllOps, status: 302, want: "not followed"},
		{name: "302 location with credentials", ops: relAllOps, status: 302, hdr: []string{"Location", "https://user:" + relClientSecret + "@evil.example/?token=" + relAccessToken}, want: "not followed"},

		// Bodies too large, endless, stalled or broken, and broken connections.
		{name: "2 MB body", ops: relAllOps, status: 200, ctype: relJSON, body: big(2 << 20), want: "exceeds 1 mib"},
		{name: "10 MB body", ops: relAllOps, status: 200, ctype: relJSON, body: big(10 << 20), want: "exceeds 1 mib"},
		{name: "10 MB error body", ops: relAllOps, status: 500, ctype: relJSON, body: `{"error":"` + strings.Repeat("e", 10<<20) + `"}`, want: "exceeds 1 mib"},
		{name: "endless body", ops: relAllOps, status: 200, ctype: relJSON, reader: func(*http.Request) io.Reader { return relEndless{} }, want: "exceeds 1 mib"},
		{name: "body that never ends", ops: relAllOps, status: 200, ctype: relJSON,
			reader: func(r *http.Request) io.Reader {
				return &relStall{Prefix: []byte(`{"access_token":"`), Ctx: r.Context()}
			}, want: "timed out"},
		{name: "error body that never ends", ops: relAllOps, status: 503, ctype: relJSON,
			reader: func(r *http.Request) io.Reader { return &relStall{Ctx: r.Context()} }, want: "timed out"},
		{name: "body cut short", ops: relAllOps, status: 200, ctype: relJSON,
			reader: func(*http.Request) io.Reader {
				return &relBroken{prefix: []byte(relTokenBody("")[:30]), err: io.ErrUnexpectedEOF}
			}, want: "unexpected eof"},
		{name: "body reset", ops: relAllOps, status: 200, ctype: relJSON,
			reader: func(*http.Request) io.Reader { return &relBroken{prefix: []byte(`{"a`), err: reset} }, want: "connection reset"},
		{name: "connection reset", ops: relAllOps, fail: reset, want: "connection reset"},
		{name: "connection refused", ops: relAllOps, fail: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, want: "connection refused"},
		{name: "dns failure", ops: relAllOps, fail: &net.DNSError{Err: "no such host", Name: "sts.localhost", IsNotFound: true}, want: "no such host"},
		{name: "tls failure", ops: relAllOps, fail: errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"), want: "certificate"},
		{name: "eof before response", ops: relAllOps, fail: io.EOF, want: "eof"},
	}
	return cs
}

// relRequestSecrets returns the secrets a request carries: the
// credentials of its form or JSON body, its Authorization header, its
// bearer token, the password of its Basic header.
func relRequestSecrets(r *http.Request, body []byte) []string {
	var out []string
	if form, err := url.ParseQuery(string(body)); err == nil {
		for _, k := range []string{"subject_token", "actor_token", "refresh_token", "client_secret", "code", "code_verifier"} {
			if v := form.Get(k); v != "" {
				out = append(out, v)
			}
		}
	}
	var j struct{ Token string }
	if json.Unmarshal(body, &j) == nil && j.Token != "" {
		out = append(out, j.Token)
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		_, cred, _ := strings.Cut(auth, " ")
		out = append(out, auth, cred)
		if _, pw, ok := r.BasicAuth(); ok {
			if u, err := url.QueryUnescape(pw); err == nil {
				pw = u
			}
			out = append(out, pw)
		}
	}
	return out
}

// relEchoCorpus holds servers that quote the request's secrets back in
// their answers, in every spelling JSON and the web allow, in every place
// the package reads text from.
func relEchoCorpus() []relHTTPCase {
	jsonStr := func(s string) string { b, _ := json.Marshal(s); return string(b[1 : len(b)-1]) }
	everyU := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		return b.String()
	}
	mixed := func(s string) string {
		var b strings.Builder
		for i, r := range s {
			switch i % 4 {
			case 0:
				fmt.Fprintf(&b, `\u%04X`, r)
			case 1:
				if r == '/' || r == '-' || r == '.' {
					fmt.Fprintf(&b, `\u%04x`, r)
					continue
				}
				fallthrough
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	slashes := func(s string) string { return strings.ReplaceAll(jsonStr(s), "/", `\/`) }
	dashes := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(jsonStr(s), "-", `\u002d`), "+", `\u002b`)
	}
	twice := func(s string) string { return jsonStr(jsonStr(strings.ReplaceAll(s, "-", `\u002d`))) }
	percent := func(s string) string { return url.QueryEscape(strings.ReplaceAll(s, "-", "%2D")) }
	zw := func(s string) string { return jsonStr(s[:3] + "\u200b" + s[3:len(s)-2] + "\u202e" + s[len(s)-2:]) }
	zwEscaped := func(s string) string { return s[:3] + `\u200b` + s[3:len(s)-2] + `\u2066` + s[len(s)-2:] }
	esc := func(s string) string { return s[:5] + `\u001b[0m` + s[5:] }
	html := func(s string) string { return strings.ReplaceAll(jsonStr(s), "-", "&#45;") }
	echo := func(place func(string) string, spell func(string) string) func([]string) string {
		return func(secrets []string) string {
			var quoted []string
			for _, sec := range secrets {
				quoted = append(quoted, spell(sec))
			}
			return place(strings.Join(quoted, " and "))
		}
	}
	places := []struct {
		name  string
		place func(string) string
	}{
		{"description", func(q string) string {
			return `{"error":"invalid_grant","error_description":"cannot use ` + q + `"}`
		}},
		{"google message", func(q string) string {
			return `{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"bad ` + q + `"}}`
		}},
		{"error uri", func(q string) string {
			return `{"error":"invalid_request","error_uri":"https://example.com/help?t=` + q + `"}`
		}},
		{"error code", func(q string) string { return `{"error":"` + q + `"}` }},
	}
	spells := []struct {
		name  string
		spell func(string) string
	}{
		{"as is", jsonStr}, {`\/`, slashes}, {`-`, dashes}, {"every char escaped", everyU}, {"mixed escapes", mixed},
		{"JSON in JSON", twice}, {"percent-encoded", percent}, {"zero-width and bidi", zw}, {"escaped zero-width", zwEscaped},
		{"escape sequence", esc}, {"HTML reference", html},
	}
	var cs []relHTTPCase
	for _, p := range places {
		for _, sp := range spells {
			want := "invalid"
			if p.name == "error code" {
				want = "REDACTED"
			}
			cs = append(cs, relHTTPCase{name: "echo in " + p.name + ", " + sp.name, ops: relAllOps, status: 400, ctype: relJSON,
				echo: echo(p.place, sp.spell), want: want})
		}
	}
	// Server text that would act on a terminal or mislead a reader.
	cs = append(cs,
		relHTTPCase{name: "terminal escapes in description", ops: relAllOps, status: 400, ctype: relJSON,
			body: `{"error":"invalid_grant","error_description":"\u001b[2J\u001b[1;31mFATAL\u001b[0m \u001b]0;owned\u0007rest"}`, want: "FATAL rest"},
		relHTTPCase{name: "raw escape bytes in description", ops: relAllOps, status: 400, ctype: relJSON,
			body: "{\"error\":\"invalid_grant\",\"error_description\":\"a\x1b[31mred\x1b]8;;http://evil\x1b\\\\link\"}", want: "bad request"},
		relHTTPCase{name: "bidi override in code", ops: relAllOps, status: 400, ctype: relJSON,
			body: `{"error":"invalid_\u202etnarg"}`, want: "invalid_tnarg"},
		relHTTPCase{name: "bidi isolates and zero-width in message", ops: relAllOps, status: 403, ctype: relJSON,
			body: `{"error":{"code":403,"status":"PERMISSION_DENIED","message":"denied \u2066x\u2069 \u200b\ufeff\u00ad"}}`, want: "permission_denied"},
		relHTTPCase{name: "C1 controls in description", ops: relAllOps, status: 400, ctype: relJSON,
			body: `{"error":"invalid_request","error_description":"a\u009b31mb\u0085c\u0090d"}`, want: "invalid_request"},
		relHTTPCase{name: "line separators in uri", ops: relAllOps, status: 400, ctype: relJSON,
			body: `{"error":"invalid_request","error_uri":"https://e.example/\u2028x\u2029y\r\nz"}`, want: "invalid_request"},
		relHTTPCase{name: "escape sequence in content type", ops: relAllOps, status: 200, ctype: "text/html\x1b[2J\u202e", body: "<html>", want: "content type"},
		relHTTPCase{name: "escape sequence in redirect host", ops: relAllOps, status: 302, hdr: []string{"Location", "https://evil\x1b[2J.example/"}, want: "location"},
	)
	// A successful answer quoting a secret where a value was expected.
	cs = append(cs,
		relHTTPCase{name: "echo in token_type", ops: relTokenOps, status: 200, ctype: relJSON,
			echo: echo(func(q string) string { return relTokenBody(`,"token_type":"` + q + `","expires_in":3600`) }, mixed), want: "token_type"},
		relHTTPCase{name: "echo in expires_in", ops: relTokenOps, status: 200, ctype: relJSON,
			echo: echo(func(q string) string { return relTokenBody(`,"expires_in":"` + q + `"`) }, dashes), want: "expires_in"},
		relHTTPCase{name: "echo in expireTime", ops: relIAMOps, status: 200, ctype: relJSON,
			echo: echo(func(q string) string { return `{"accessToken":"` + relAccessToken + `","expireTime":"` + q + `"}` }, slashes), want: "expiretime"},
	)
	return cs
}

// errRelHang marks the transport case where no response ever comes.
var errRelHang = errors.New("hang")

// relCorpusHangs adds the cases that need the transport to block.
func relCorpusHangs() []relHTTPCase {
	return []relHTTPCase{
		{name: "server never answers", ops: relAllOps, fail: errRelHang, want: "timed out"},
	}
}

// relClient returns an in-memory client answering c.
func relClient(c relHTTPCase) *http.Client {
	return &http.Client{Transport: relRoundTrip(func(r *http.Request) (*http.Response, error) {
		var sent []byte
		if r.Body != nil {
			sent, _ = io.ReadAll(r.Body)
			_ = r.Body.Close()
		}
		switch {
		case c.fail == errRelHang:
			<-r.Context().Done()
			return nil, r.Context().Err()
		case c.fail != nil:
			return nil, c.fail
		}
		var body io.Reader = strings.NewReader(c.body)
		if c.echo != nil {
			body = strings.NewReader(c.echo(relRequestSecrets(r, sent)))
		}
		if c.reader != nil {
			body = c.reader(r)
		}
		return relResponse(r, c.status, c.ctype, body, c.hdr...), nil
	})}
}

// relCall runs one call of kind op with client and returns its error and
// the texts (String, %+v) of the objects involved.
func relCall(ctx context.Context, t *testing.T, op string, client *http.Client, log *slog.Logger) ([]string, error) {
	t.Helper()
	retry := RetryPolicy{MaxAttempts: relAttempts, InitialBackoff: 100 * time.Millisecond, MaxBackoff: relMaxBack}
	var (
		obj any
		err error
		tok *oauth2.Token
	)
	switch op {
	case relOpExchange, relOpCached:
		cfg := Config{
			Subject: StaticSubject(relSubjectToken), SubjectTokenType: TokenTypeJWT,
			Audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
			ClientID: relClientID, ClientSecret: relClientSecret,
			TokenURL: "http://127.0.0.1:0/v1/token", HTTPOptions: HTTPOptions{HTTPClient: client, Timeout: relTimeout, Retry: retry, Logger: log},
			Cache: CacheOptions{RefreshTimeout: time.Minute},
		}
		obj = cfg
		if op == relOpExchange {
			x, cerr := newExchanger(cfg)
			if cerr != nil {
				t.Fatal(cerr)
			}
			obj = x
			tok, err = x.TokenContext(ctx)
		} else {
			ts, cerr := NewTokenSource(cfg)
			if cerr != nil {
				t.Fatal(cerr)
			}
			obj = ts
			tok, err = ts.TokenContext(ctx)
			if err != nil && ts.LastError() == nil {
				t.Error("LastError is nil after a failed refresh")
			}
		}
	case relOpImpersonate:
		im, cerr := newImpersonator(impConfig{
			Source:      oauth2.StaticTokenSource(&oauth2.Token{AccessToken: relAccessToken}),
			URL:         "http://127.0.0.2:0/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken",
			HTTPOptions: HTTPOptions{HTTPClient: client, Timeout: relTimeout, Retry: retry, Logger: log},
		})
		if cerr != nil {
			t.Fatal(cerr)
		}
		obj = im
		tok, err = im.TokenContext(ctx)
	case relOpRefresh:
		r, cerr := newRefresher(authUserConfig{
			RefreshToken: relRefreshToken, ClientID: relClientID, ClientSecret: relClientSecret,
			TokenURL: "http://127.0.0.1:0/v1/oauthtoken", HTTPOptions: HTTPOptions{HTTPClient: client, Timeout: relTimeout, Retry: retry, Logger: log},
		})
		if cerr != nil {
			t.Fatal(cerr)
		}
		obj = r
		tok, err = r.TokenContext(ctx)
	case relOpIntrospect:
		opts := IntrospectOptions{
			URL: "http://127.0.0.1:0/v1/introspect", ClientID: relClientID, ClientSecret: relClientSecret,
			HTTPOptions: HTTPOptions{HTTPClient: client, Timeout: relTimeout, Retry: retry, Logger: log},
		}
		obj = opts
		var res *Introspection
		res, err = Introspect(ctx, relAccessToken, opts)
		if err == nil {
			t.Errorf("accepted: %v", res)
		}
	default:
		t.Fatalf("unknown op %q", op)
	}
	if err == nil && tok != nil {
		t.Errorf("accepted: token with expiry %v", tok.Expiry)
	}
	return []string{fmt.Sprint(obj), fmt.Sprintf("%+v", obj), fmt.Sprintf("%#v", obj)}, err
}

// relCheckCorpusError checks a corpus error: typed, prefixed, saying want,
// and free of secrets.
func relCheckCorpusError(t *testing.T, err error, want string) {
	t.Helper()
	fixture.CheckCorpusError(t, err, want, hasPublic)
}

func TestCorpusHTTP(t *testing.T) {
	cases := append(append(relHTTPCorpus(), relCorpusHangs()...), relEchoCorpus()...)
	runs := 0
	for _, c := range cases {
		for _, op := range c.ops {
			runs++
			t.Run(op+"/"+c.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					log, buf := newRelLogger()
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					start := time.Now()
					var err error
					var texts []string
					func() {
						defer func() {
							if p := recover(); p != nil {
								t.Fatalf("panic: %v", p)
							}
						}()
						texts, err = relCall(ctx, t, op, relClient(c), log)
					}()
					if d := time.Since(start); d > relAttempts*relTimeout+relMaxBack {
						t.Errorf("took %v, past the deadline %v", d, relAttempts*relTimeout+relMaxBack)
					}
					relCheckCorpusError(t, err, c.want)
					relCheckErrorSecrets(t, "corpus", err, buf.String())
					for _, l := range relLeaks(texts...) {
						t.Errorf("String/%%+v: %s", l)
					}
				})
			})
		}
	}
	t.Logf("HTTP corpus: %d malformed inputs, %d runs across %d endpoint kinds", len(cases), runs, len(relAllOps))
}
