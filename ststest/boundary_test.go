package ststest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/stsgo/sts/ststest"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

const (
	bucketA  = "//storage.googleapis.com/projects/_/buckets/bucket-a"
	prefixOn = "resource.name.startsWith('projects/_/buckets/bucket-a/objects/customer-a/') || " +
		"api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('customer-a/')"
)

type intermediaryResponse struct {
	tokenResponse
	SessionKey string `json:"access_boundary_session_key"`
}

func intermediary(t *testing.T, s *ststest.Server, subject string) intermediaryResponse {
	t.Helper()
	resp, err := s.Client().PostForm(s.TokenURL(), url.Values{
		"grant_type":           {grantTE},
		"requested_token_type": {ttInterm},
		"subject_token":        {subject},
		"subject_token_type":   {ttAccess},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ir intermediaryResponse
	if err := json.Unmarshal(b, &ir); err != nil || resp.StatusCode != 200 {
		t.Fatalf("intermediary: %d %s", resp.StatusCode, b)
	}
	return ir
}

func sessionAEAD(t *testing.T, key string) tink.AEAD {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewBinaryReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type testRule struct {
	resource string
	perms    []string
	cond     string
}

// mint builds a client-side token by hand, independently of package
// downscope.
func mint(t *testing.T, inter string, a tink.AEAD, rules ...testRule) string {
	t.Helper()
	env, err := cel.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	var pb []byte
	for _, r := range rules {
		var rb []byte
		rb = protowire.AppendTag(rb, 1, protowire.BytesType)
		rb = protowire.AppendString(rb, r.resource)
		for _, p := range r.perms {
			rb = protowire.AppendTag(rb, 2, protowire.BytesType)
			rb = protowire.AppendString(rb, p)
		}
		if r.cond != "" {
			a, iss := env.Parse(r.cond)
			if iss.Err() != nil {
				t.Fatal(iss.Err())
			}
			pe, _ := cel.AstToParsedExpr(a)
			eb, err := proto.Marshal(pe.GetExpr())
			if err != nil {
				t.Fatal(err)
			}
			rb = protowire.AppendTag(rb, 4, protowire.BytesType)
			rb = protowire.AppendBytes(rb, eb)
		}
		pb = protowire.AppendTag(pb, 1, protowire.BytesType)
		pb = protowire.AppendBytes(pb, rb)
	}
	ct, err := a.Encrypt(pb, nil)
	if err != nil {
		t.Fatal(err)
	}
	return inter + "." + base64.RawURLEncoding.EncodeToString(ct)
}

type check struct {
	perm, resource, listPrefix string
	want                       bool
}

func runChecks(t *testing.T, s *ststest.Server, token string, checks []check) {
	t.Helper()
	for _, c := range checks {
		got, err := s.Allows(token, c.perm, c.resource, c.listPrefix)
		if err != nil {
			t.Errorf("Allows(%s, %s, %q): %v", c.perm, c.resource, c.listPrefix, err)
			continue
		}
		if got != c.want {
			t.Errorf("Allows(%s, %s, %q) = %v, want %v", c.perm, c.resource, c.listPrefix, got, c.want)
		}
	}
}

var prefixChecks = []check{
	{"storage.objects.get", bucketA + "/objects/customer-a/file", "", true},
	{"storage.objects.get", "projects/_/buckets/bucket-a/objects/customer-a/deep/file", "", true},
	{"storage.objects.get", bucketA + "/objects/customer-b/file", "", false},
	{"storage.objects.get", bucketA + "/objects/customer-a", "", false},
	{"storage.objects.list", bucketA, "customer-a/", true},
	{"storage.objects.list", bucketA, "customer-a/sub/", true},
	{"storage.objects.list", bucketA, "customer-b/", false},
	{"storage.objects.list", bucketA, "", false},
	{"storage.objects.create", bucketA + "/objects/customer-a/file", "", false}, // not in objectViewer
	{"storage.objects.get", "//storage.googleapis.com/projects/_/buckets/bucket-b/objects/customer-a/x", "", false},
	{"storage.objects.get", "//storage.googleapis.com/projects/_/buckets/bucket-a2/objects/customer-a/x", "", false},
}

func TestAllowsClientSide(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	ir := intermediary(t, s, mustToken(t, s))
	if ir.IssuedTokenType != ttInterm || ir.SessionKey == "" || ir.ExpiresIn != nil {
		t.Fatalf("intermediary response %+v", ir.tokenResponse)
	}
	if info, ok := s.Lookup(ir.AccessToken); !ok || info.Kind != "intermediary" || info.Subject != "user-42" {
		t.Fatalf("lookup %v %v", info, ok)
	}
	a := sessionAEAD(t, ir.SessionKey)
	tok := mint(t, ir.AccessToken, a, testRule{bucketA, []string{"inRole:roles/storage.objectViewer"}, prefixOn})
	runChecks(t, s, tok, prefixChecks)

	// The intermediary token alone grants nothing.
	runChecks(t, s, ir.AccessToken, []check{{"storage.objects.get", bucketA + "/objects/customer-a/f", "", false}})

	// Each intermediary token has its own key.
	ir2 := intermediary(t, s, mustToken(t, s))
	if ir2.SessionKey == ir.SessionKey {
		t.Fatal("two intermediary tokens share a session key")
	}
	swapped := ir2.AccessToken + tok[strings.IndexByte(tok, '.'):]
	if _, err := s.Allows(swapped, "storage.objects.get", bucketA+"/objects/customer-a/f", ""); err == nil {
		t.Error("a token sealed with another intermediary's key was accepted")
	}
}

func TestAllowsServerSide(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	root := mustToken(t, s)
	opts := `{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"` + bucketA +
		`","availablePermissions":["inRole:roles/storage.objectViewer"],"availabilityCondition":{"expression":"` + prefixOn + `"}}]}}`
	status, tr := postForm(t, s.Client(), s.TokenURL(), url.Values{
		"grant_type":         {grantTE},
		"subject_token":      {root},
		"subject_token_type": {ttAccess},
		"options":            {opts},
	})
	if status != 200 {
		t.Fatalf("downscope: %d %+v", status, tr)
	}
	runChecks(t, s, tr.AccessToken, prefixChecks)
	// The root token has no boundary.
	runChecks(t, s, root, []check{{"storage.objects.delete", bucketA + "/objects/x", "", true}})
}

func TestAllowsSeveralRulesAndRoles(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	ir := intermediary(t, s, mustToken(t, s))
	tok := mint(t, ir.AccessToken, sessionAEAD(t, ir.SessionKey),
		testRule{bucketA, []string{"inRole:roles/storage.objectViewer"}, ""},
		testRule{"//storage.googleapis.com/projects/_/buckets/bucket-b", []string{"inRole:roles/storage.objectCreator", "inRole:roles/storage.legacyBucketReader"},
			"resource.name.startsWith('projects/_/buckets/bucket-b/objects/in/')"},
	)
	runChecks(t, s, tok, []check{
		{"storage.objects.get", bucketA + "/objects/anything", "", true},
		{"storage.objects.list", bucketA, "", true},
		{"storage.objects.delete", bucketA + "/objects/anything", "", false},
		{"storage.objects.create", "//storage.googleapis.com/projects/_/buckets/bucket-b/objects/in/x", "", true},
		{"storage.objects.create", "//storage.googleapis.com/projects/_/buckets/bucket-b/objects/out/x", "", false},
		{"storage.objects.get", "//storage.googleapis.com/projects/_/buckets/bucket-b/objects/in/x", "", false},
		{"storage.buckets.get", "//storage.googleapis.com/projects/_/buckets/bucket-b", "", false}, // condition on resource.name fails for the bucket
		{"storage.objects.get", "//storage.googleapis.com/projects/_/buckets/bucket-c/objects/x", "", false},
	})
}

func TestAllowsErrors(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	ir := intermediary(t, s, mustToken(t, s))
	good := mint(t, ir.AccessToken, sessionAEAD(t, ir.SessionKey), testRule{bucketA, []string{"inRole:roles/storage.objectViewer"}, ""})
	obj := bucketA + "/objects/x"
	for name, tok := range map[string]string{
		"unknown":          "nope",
		"unknown prefix":   "nope." + good[strings.IndexByte(good, '.')+1:],
		"not base64":       ir.AccessToken + ".!!!",
		"tampered":         good[:len(good)-2] + "AA",
		"empty":            "",
		"padded base64url": good + "==",
	} {
		if ok, err := s.Allows(tok, "storage.objects.get", obj, ""); err == nil || ok {
			t.Errorf("%s: Allows = %v, %v; want an error", name, ok, err)
		}
	}
	if _, err := s.Allows(good, "storage.objects.get", "bucket-a/x", ""); err == nil {
		t.Error("a relative resource name that is not projects/… was accepted")
	}
	// Not a ClientSideAccessBoundary: a rule without permissions.
	bad := mint(t, ir.AccessToken, sessionAEAD(t, ir.SessionKey), testRule{bucketA, nil, ""})
	if _, err := s.Allows(bad, "storage.objects.get", obj, ""); err == nil {
		t.Error("a rule without permissions was accepted")
	}
}

func TestAllowsExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
		defer s.Close()
		ir := intermediary(t, s, mustToken(t, s))
		tok := mint(t, ir.AccessToken, sessionAEAD(t, ir.SessionKey), testRule{bucketA, []string{"inRole:roles/storage.objectViewer"}, ""})
		if ok, err := s.Allows(tok, "storage.objects.get", bucketA+"/objects/x", ""); !ok || err != nil {
			t.Fatalf("fresh token: %v %v", ok, err)
		}
		time.Sleep(time.Hour)
		if ok, err := s.Allows(tok, "storage.objects.get", bucketA+"/objects/x", ""); ok || !errors.Is(err, ststest.ErrTokenExpired) {
			t.Fatalf("expired token: %v %v", ok, err)
		}
	})
}

func TestIntermediaryRejectsBoundary(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	status, _ := postForm(t, s.Client(), s.TokenURL(), url.Values{
		"grant_type":           {grantTE},
		"requested_token_type": {ttInterm},
		"subject_token":        {mustToken(t, s)},
		"subject_token_type":   {ttAccess},
		"options":              {`{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"` + bucketA + `","availablePermissions":["inRole:roles/storage.objectViewer"]}]}}`},
	})
	if status != 400 {
		t.Fatalf("status %d, want 400", status)
	}
}

func TestRolePermissions(t *testing.T) {
	p := ststest.RolePermissions("roles/storage.objectViewer")
	if len(p) == 0 || p[0] != "storage.objects.get" {
		t.Fatalf("objectViewer = %q", p)
	}
	p[0] = "changed"
	if ststest.RolePermissions("roles/storage.objectViewer")[0] != "storage.objects.get" {
		t.Fatal("RolePermissions returns the table itself")
	}
	if ststest.RolePermissions("roles/unknown") != nil {
		t.Fatal("unknown role has permissions")
	}
}
