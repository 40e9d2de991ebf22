package wire

import (
	"strings"
	"testing"
)

// FuzzTokenRequestEncode checks that Encode writes exactly the bytes of
// Form().Encode(), whatever the field values.
func FuzzTokenRequestEncode(f *testing.F) {
	f.Add("urn:ietf:params:oauth:token-type:access_token", "eyJhbGciOi.eyJzdWIi.c2ln", "urn:ietf:params:oauth:token-type:jwt",
		"//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/q",
		"https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/devstorage.read_only",
		`{"userProject":"p","accessBoundary":{"accessBoundaryRules":[]}}`, "", "", "")
	f.Add("", "", "", "", "", "", "actor", "urn:ietf:params:oauth:token-type:id_token", "https://example.com/r?a=b&c=d")
	f.Add("a b+c%d", "\x00\xff~._-", "é", "=&", " ", "", "", "", "")
	f.Fuzz(func(t *testing.T, requested, subject, subjectType, aud, scopes, options, actor, actorType, resource string) {
		r := TokenRequest{
			RequestedTokenType: requested, SubjectToken: subject, SubjectTokenType: subjectType,
			Audience: aud, ActorToken: actor, ActorTokenType: actorType, Resource: resource,
		}
		if scopes != "" {
			r.Scopes = strings.Split(scopes, " ")
		}
		if options != "" {
			r.Options = options
		}
		if got, want := string(r.Encode()), r.Form().Encode(); got != want {
			t.Fatalf("Encode() = %q, Form().Encode() = %q", got, want)
		}
	})
}

func TestTokenRequestEncodeAllocs(t *testing.T) {
	r := TokenRequest{
		RequestedTokenType: "urn:ietf:params:oauth:token-type:access_token",
		SubjectToken:       "eyJhbGciOi.eyJzdWIi.c2ln",
		SubjectTokenType:   "urn:ietf:params:oauth:token-type:jwt",
		Audience:           "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/q",
		Scopes:             []string{"https://www.googleapis.com/auth/cloud-platform"},
		Options:            `{"userProject":"p"}`,
	}
	if n := testing.AllocsPerRun(100, func() { _ = r.Encode() }); n != 1 {
		t.Errorf("Encode allocates %v times; want 1", n)
	}
}

// TestTokenRequestEncodeExact: the one allocation is exactly as long as the
// body, however much of it needs escaping.
func TestTokenRequestEncodeExact(t *testing.T) {
	for _, r := range []TokenRequest{
		{SubjectToken: "plain"},
		{SubjectToken: "a b", Scopes: []string{"x y", "%"}, Options: `{"a":"é"}`},
		{Audience: "//iam/x", ActorToken: "\x00", Resource: "https://r/?q"},
	} {
		b := r.Encode()
		if len(b) != cap(b) {
			t.Errorf("Encode(%+v): length %d, capacity %d", r, len(b), cap(b))
		}
		if want := r.Form().Encode(); string(b) != want {
			t.Errorf("Encode() = %q, want %q", b, want)
		}
	}
}
