package downscope

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stsgo/sts"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The design's verified vector: the test key of Google's Java library (one
// AES-256-GCM key, id 2707505782, TINK prefix) and a ciphertext of
// "restriction" made with it.
const (
	vectorKey        = "CPaEhYsKEmQKWAowdHlwZS5nb29nbGVhcGlzLmNvbS9nb29nbGUuY3J5cHRvLnRpbmsuQWVzR2NtS2V5EiIaIMx8syvGIGGu5yvrdq/I0Q9ZWIR1oqJXFnDFxHuwX4SEGAEQARj2hIWLCiAB"
	vectorCiphertext = "AaFhQnYAAQIDBAUGBwgJCgvIc9p0EXthr8WYQl6sKvdE-kCKA-SIx7I0T1E"
	vectorPlaintext  = "restriction"
	vectorKeyID      = 2707505782
)

func TestSessionKeyVector(t *testing.T) {
	k, err := ParseSessionKey(vectorKey)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := base64.RawURLEncoding.DecodeString(vectorCiphertext)
	if err != nil {
		t.Fatal(err)
	}
	// 0x01 ‖ key id (big endian) ‖ 12-byte nonce 00..0b ‖ sealed text.
	if ct[0] != 1 || uint32(ct[1])<<24|uint32(ct[2])<<16|uint32(ct[3])<<8|uint32(ct[4]) != vectorKeyID {
		t.Fatalf("vector header % x is not TINK prefix with key id %d", ct[:5], vectorKeyID)
	}
	pt, err := k.decrypt(ct)
	if err != nil {
		t.Fatalf("decrypting the known vector: %v", err)
	}
	if string(pt) != vectorPlaintext {
		t.Fatalf("plaintext = %q, want %q", pt, vectorPlaintext)
	}
	// Padding is optional.
	if _, err := ParseSessionKey(strings.TrimRight(vectorKey, "=")); err != nil {
		t.Errorf("unpadded key: %v", err)
	}
}

func TestMintFormatAndRoundTrip(t *testing.T) {
	k, err := ParseSessionKey(vectorKey)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := Compile(&sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
		sts.ObjectPrefixRule("example-bucket", "customer-a", "roles/storage.objectViewer"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := k.Mint("intermediary-token", cb)
	if err != nil {
		t.Fatal(err)
	}
	inter, enc, ok := strings.Cut(tok, ".")
	if !ok || inter != "intermediary-token" {
		t.Fatalf("token %q does not start with the intermediary and a dot", tok)
	}
	if strings.ContainsAny(enc, "+/=") {
		t.Errorf("ciphertext %q is not unpadded base64url", enc)
	}
	ct, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	if ct[0] != 1 || uint32(ct[1])<<24|uint32(ct[2])<<16|uint32(ct[3])<<8|uint32(ct[4]) != vectorKeyID {
		t.Errorf("ciphertext does not carry the TINK prefix of the key")
	}
	pt, err := k.decrypt(ct)
	if err != nil {
		t.Fatal(err)
	}
	rules := decodeBoundary(t, pt)
	if len(rules) != 1 {
		t.Fatalf("%d rules", len(rules))
	}
	r := rules[0]
	if r.resource != "//storage.googleapis.com/projects/_/buckets/example-bucket" ||
		fmt.Sprint(r.permissions) != "[inRole:roles/storage.objectViewer]" {
		t.Errorf("rule = %+v", r)
	}
	// resource.name.startsWith('projects/_/buckets/example-bucket/objects/customer-a') || …
	or := r.condition.GetCallExpr()
	if or.GetFunction() != "_||_" || len(or.GetArgs()) != 2 {
		t.Fatalf("condition is not a disjunction: %v", r.condition)
	}
	left := or.GetArgs()[0].GetCallExpr()
	if left.GetFunction() != "startsWith" ||
		left.GetTarget().GetSelectExpr().GetOperand().GetIdentExpr().GetName() != "resource" ||
		left.GetTarget().GetSelectExpr().GetField() != "name" ||
		left.GetArgs()[0].GetConstExpr().GetStringValue() != "projects/_/buckets/example-bucket/objects/customer-a" {
		t.Errorf("left side = %v", left)
	}
	right := or.GetArgs()[1].GetCallExpr()
	get := right.GetTarget().GetCallExpr()
	if right.GetFunction() != "startsWith" || get.GetFunction() != "getAttribute" ||
		get.GetTarget().GetIdentExpr().GetName() != "api" ||
		get.GetArgs()[0].GetConstExpr().GetStringValue() != "storage.googleapis.com/objectListPrefix" ||
		right.GetArgs()[0].GetConstExpr().GetStringValue() != "customer-a" {
		t.Errorf("right side = %v", right)
	}
	// Each mint uses a fresh nonce.
	tok2, _ := k.Mint("intermediary-token", cb)
	if tok2 == tok {
		t.Error("two mints gave the same token")
	}
}

func TestCompileRules(t *testing.T) {
	cond := &sts.AvailabilityCondition{Expression: "a == b", Title: "t"}
	cb, err := Compile(&sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
		{AvailableResource: "//storage.googleapis.com/projects/_/buckets/b1", AvailablePermissions: []string{"inRole:roles/r1", "inRole:roles/r2"}, AvailabilityCondition: cond},
		sts.BucketRule("b2", "roles/storage.objectAdmin"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	rules := decodeBoundary(t, cb.plaintext)
	if len(rules) != 2 {
		t.Fatalf("%d rules", len(rules))
	}
	if fmt.Sprint(rules[0].permissions) != "[inRole:roles/r1 inRole:roles/r2]" {
		t.Errorf("permissions = %q", rules[0].permissions)
	}
	c := rules[0].condition.GetCallExpr()
	if c.GetFunction() != "_==_" || c.GetArgs()[0].GetIdentExpr().GetName() != "a" || c.GetArgs()[1].GetIdentExpr().GetName() != "b" {
		t.Errorf("condition = %v", rules[0].condition)
	}
	if rules[1].condition != nil || rules[1].resource != "//storage.googleapis.com/projects/_/buckets/b2" {
		t.Errorf("second rule = %+v", rules[1])
	}
	if s := cb.String(); s != fmt.Sprintf("downscope.CompiledBoundary{Rules:2 Bytes:%d}", len(cb.plaintext)) {
		t.Errorf("String() = %q", s)
	}
}

func TestCompileTenRules(t *testing.T) {
	var rs []sts.AccessBoundaryRule
	for i := range 10 {
		rs = append(rs, sts.BucketRule(fmt.Sprintf("bucket-%d", i), "roles/storage.objectViewer"))
	}
	cb, err := Compile(&sts.AccessBoundary{Rules: rs})
	if err != nil {
		t.Fatalf("a legal 10-rule boundary: %v", err)
	}
	if got := decodeBoundary(t, cb.plaintext); len(got) != 10 || got[9].resource != "//storage.googleapis.com/projects/_/buckets/bucket-9" {
		t.Fatalf("decoded %d rules", len(got))
	}
	if _, err := Compile(&sts.AccessBoundary{Rules: append(rs, rs[0])}); err == nil {
		t.Fatal("an 11-rule boundary compiled")
	}
}

func TestCompileErrors(t *testing.T) {
	for _, b := range []*sts.AccessBoundary{
		nil,
		{},
		{Rules: []sts.AccessBoundaryRule{{AvailableResource: "//x/y", AvailablePermissions: []string{"roles/x"}}}},
		{Rules: []sts.AccessBoundaryRule{{AvailableResource: "//x/y", AvailablePermissions: []string{"inRole:roles/x"},
			AvailabilityCondition: &sts.AvailabilityCondition{Expression: "a ||"}}}},
	} {
		_, err := Compile(b)
		var ve *sts.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("Compile(%+v) = %v, want *sts.ValidationError", b, err)
		}
	}
}

func TestSessionKeyErrors(t *testing.T) {
	nonAEAD := func() string {
		// A keyset of a MAC key: a valid keyset, but no AEAD.
		h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
		if err != nil {
			t.Fatal(err)
		}
		ks := insecurecleartextkeyset.KeysetMaterial(h)
		ks.Key[0].KeyData.TypeUrl = "type.googleapis.com/google.crypto.tink.HmacKey"
		b, err := proto.Marshal(ks)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}()
	for _, in := range []string{"", "not base64!", base64.StdEncoding.EncodeToString([]byte("garbage")), nonAEAD,
		strings.Repeat("A", maxSessionKeyLen+4)} {
		k, err := ParseSessionKey(in)
		if err == nil || k != nil {
			t.Errorf("ParseSessionKey(%.20q) = %v, %v; want an error", in, k, err)
			continue
		}
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != "SessionKey" || err.Error() != "sts: invalid SessionKey: not a base64 Tink AEAD keyset" {
			t.Errorf("error %q", err)
		}
	}
	k, _ := ParseSessionKey(vectorKey)
	for _, s := range []string{k.String(), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, "zH") || strings.Contains(s, vectorKey[:20]) || !strings.Contains(s, "REDACTED") {
			t.Errorf("session key printed as %q", s)
		}
	}
	if _, err := k.Mint("", &CompiledBoundary{}); err == nil {
		t.Error("minting with an empty intermediary token succeeded")
	}
	if _, err := k.Mint("x", nil); err == nil {
		t.Error("minting a nil boundary succeeded")
	}
	var nk *SessionKey
	if _, err := nk.Mint("x", &CompiledBoundary{}); err == nil {
		t.Error("minting with a nil key succeeded")
	}
}

func FuzzParseSessionKey(f *testing.F) {
	f.Add(vectorKey)
	f.Add(strings.TrimRight(vectorKey, "="))
	f.Add("")
	f.Add("AAAA")
	f.Add(base64.StdEncoding.EncodeToString([]byte{0x08, 0x01, 0x12, 0x02, 0x0a, 0x00}))
	f.Fuzz(func(t *testing.T, in string) {
		k, err := ParseSessionKey(in)
		if err != nil {
			if k != nil || err.Error() != errBadSessionKey.Error() {
				t.Fatalf("ParseSessionKey: %v, %v", k, err)
			}
			return
		}
		cb := &CompiledBoundary{plaintext: []byte("restriction")}
		tok, err := k.Mint("i", cb)
		if err != nil {
			return // a keyset whose primary cannot encrypt: reported, not a panic
		}
		ct, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "i."))
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := k.decrypt(ct); err != nil || string(pt) != "restriction" {
			t.Fatalf("round trip: %q, %v", pt, err)
		}
	})
}

type decodedRule struct {
	resource    string
	permissions []string
	condition   *exprpb.Expr
}

// decodeBoundary reads a ClientSideAccessBoundary with protowire, as the
// server would, checking field numbers and wire types.
func decodeBoundary(t *testing.T, b []byte) []decodedRule {
	t.Helper()
	var out []decodedRule
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			t.Fatalf("boundary: unexpected field %d type %d", num, typ)
		}
		b = b[n:]
		rb, n := protowire.ConsumeBytes(b)
		if n < 0 {
			t.Fatal("boundary: bad rule length")
		}
		b = b[n:]
		var r decodedRule
		for len(rb) > 0 {
			num, typ, n := protowire.ConsumeTag(rb)
			if n < 0 || typ != protowire.BytesType {
				t.Fatalf("rule: bad tag")
			}
			rb = rb[n:]
			v, n := protowire.ConsumeBytes(rb)
			if n < 0 {
				t.Fatal("rule: bad length")
			}
			rb = rb[n:]
			switch num {
			case 1:
				r.resource = string(v)
			case 2:
				r.permissions = append(r.permissions, string(v))
			case 4:
				r.condition = &exprpb.Expr{}
				if err := proto.Unmarshal(v, r.condition); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("rule: unexpected field %d", num)
			}
		}
		out = append(out, r)
	}
	return out
}

func BenchmarkMint(b *testing.B) {
	k, err := ParseSessionKey(vectorKey)
	if err != nil {
		b.Fatal(err)
	}
	cb, err := Compile(&sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
		sts.ObjectPrefixRule("example-bucket", "customer-a/", "roles/storage.objectViewer"),
		sts.BucketRule("other-bucket", "roles/storage.objectViewer"),
	}})
	if err != nil {
		b.Fatal(err)
	}
	inter := "ya29.intermediary-" + strings.Repeat("x", 200)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := k.Mint(inter, cb); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkCompile(b *testing.B) {
	bd := &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
		sts.ObjectPrefixRule("example-bucket", "customer-a/", "roles/storage.objectViewer"),
		sts.BucketRule("other-bucket", "roles/storage.objectViewer"),
	}}
	if _, err := Compile(bd); err != nil { // builds the CEL environment once
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(bd); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMintSealsAsTink: a key whose primary key is AES-GCM with the TINK or
// RAW prefix seals without tink's primitive; any other key (another
// algorithm, a LEGACY prefix, a primary key among others) through it; every
// token opens with tink's AEAD of the same keyset, and tokens from the
// direct path cost one allocation.
func TestMintSealsAsTink(t *testing.T) {
	cb, err := Compile(&sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("b", "roles/storage.objectViewer")}})
	if err != nil {
		t.Fatal(err)
	}
	encode := func(ks *tinkpb.Keyset) string {
		b, err := proto.Marshal(ks)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	keysetOf := func(tmpl *tinkpb.KeyTemplate, prefix tinkpb.OutputPrefixType) *tinkpb.Keyset {
		h, err := keyset.NewHandle(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		ks := insecurecleartextkeyset.KeysetMaterial(h)
		ks.Key[0].OutputPrefixType = prefix
		return ks
	}
	rotated := keysetOf(aead.AES128GCMKeyTemplate(), tinkpb.OutputPrefixType_TINK)
	second := keysetOf(aead.AES256GCMKeyTemplate(), tinkpb.OutputPrefixType_TINK).Key[0]
	rotated.Key = append(rotated.Key, second)
	rotated.PrimaryKeyId = second.KeyId
	for _, tc := range []struct {
		name   string
		key    string
		direct bool
	}{
		{"vector (AES-256-GCM, TINK)", vectorKey, true},
		{"AES-128-GCM, RAW", encode(keysetOf(aead.AES128GCMKeyTemplate(), tinkpb.OutputPrefixType_RAW)), true},
		{"rotated, second primary", encode(rotated), true},
		{"AES-256-GCM, LEGACY", encode(keysetOf(aead.AES256GCMKeyTemplate(), tinkpb.OutputPrefixType_LEGACY)), false},
		{"ChaCha20-Poly1305", encode(keysetOf(aead.ChaCha20Poly1305KeyTemplate(), tinkpb.OutputPrefixType_TINK)), false},
		{"AES-GCM-SIV", encode(keysetOf(aead.AES256GCMSIVKeyTemplate(), tinkpb.OutputPrefixType_TINK)), false},
	} {
		k, err := ParseSessionKey(tc.key)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if (k.gcm != nil) != tc.direct {
			t.Errorf("%s: sealed directly %t, want %t", tc.name, k.gcm != nil, tc.direct)
		}
		for range 3 {
			tok, err := k.Mint("inter", cb)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			rest, ok := strings.CutPrefix(tok, "inter.")
			ct, derr := base64.RawURLEncoding.DecodeString(rest)
			if !ok || derr != nil {
				t.Fatalf("%s: token %q", tc.name, tok)
			}
			if pt, err := k.decrypt(ct); err != nil || string(pt) != string(cb.plaintext) {
				t.Errorf("%s: tink's AEAD does not open the token: %v", tc.name, err)
			}
		}
		// Under the race detector pooled buffers are dropped at random, so
		// the count is checked without it (.ci/run runs this package so).
		if tc.direct && !raceEnabled {
			if n := testing.AllocsPerRun(100, func() { _, _ = k.Mint("inter", cb) }); n != 1 {
				t.Errorf("%s: %v allocations per token; want 1", tc.name, n)
			}
		}
	}
}
