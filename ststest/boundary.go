package ststest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

const (
	storageService  = "storage.googleapis.com"
	storagePrefix   = "//" + storageService + "/"
	listPermission  = "storage.objects.list"
	listPrefixAttr  = storageService + "/objectListPrefix"
	maxTokenLength  = 64 << 10
	maxEvalDuration = time.Second
)

// rolePermissions maps the Cloud Storage roles the emulator knows to the
// permissions they hold: a subset of IAM's predefined roles, enough for
// object and bucket access tests.
var rolePermissions = map[string][]string{
	"roles/storage.objectViewer": {"storage.objects.get", "storage.objects.list",
		"storage.folders.get", "storage.folders.list", "storage.managedFolders.get", "storage.managedFolders.list"},
	"roles/storage.objectCreator": {"storage.objects.create", "storage.folders.create", "storage.managedFolders.create",
		"storage.multipartUploads.create", "storage.multipartUploads.abort", "storage.multipartUploads.listParts"},
	"roles/storage.objectUser": {"storage.objects.create", "storage.objects.delete", "storage.objects.get",
		"storage.objects.list", "storage.objects.restore", "storage.objects.update",
		"storage.multipartUploads.create", "storage.multipartUploads.abort", "storage.multipartUploads.list",
		"storage.multipartUploads.listParts"},
	"roles/storage.objectAdmin": {"storage.objects.create", "storage.objects.delete", "storage.objects.get",
		"storage.objects.getIamPolicy", "storage.objects.list", "storage.objects.restore",
		"storage.objects.setIamPolicy", "storage.objects.update",
		"storage.multipartUploads.create", "storage.multipartUploads.abort", "storage.multipartUploads.list",
		"storage.multipartUploads.listParts"},
	"roles/storage.legacyObjectReader": {"storage.objects.get"},
	"roles/storage.legacyObjectOwner": {"storage.objects.get", "storage.objects.update",
		"storage.objects.getIamPolicy", "storage.objects.setIamPolicy"},
	"roles/storage.legacyBucketReader": {"storage.buckets.get", "storage.objects.list"},
	"roles/storage.legacyBucketWriter": {"storage.buckets.get", "storage.objects.create", "storage.objects.delete",
		"storage.objects.list", "storage.objects.restore",
		"storage.multipartUploads.create", "storage.multipartUploads.abort", "storage.multipartUploads.list",
		"storage.multipartUploads.listParts"},
	"roles/storage.legacyBucketOwner": {"storage.buckets.get", "storage.buckets.update",
		"storage.buckets.getIamPolicy", "storage.buckets.setIamPolicy", "storage.objects.create",
		"storage.objects.delete", "storage.objects.list", "storage.objects.restore",
		"storage.multipartUploads.create", "storage.multipartUploads.abort", "storage.multipartUploads.list",
		"storage.multipartUploads.listParts"},
	"roles/storage.admin": {"storage.buckets.create", "storage.buckets.delete", "storage.buckets.get",
		"storage.buckets.getIamPolicy", "storage.buckets.list", "storage.buckets.setIamPolicy",
		"storage.buckets.update", "storage.objects.create", "storage.objects.delete", "storage.objects.get",
		"storage.objects.getIamPolicy", "storage.objects.list", "storage.objects.restore",
		"storage.objects.setIamPolicy", "storage.objects.update",
		"storage.multipartUploads.create", "storage.multipartUploads.abort", "storage.multipartUploads.list",
		"storage.multipartUploads.listParts"},
}

// errTokenExpired is returned by Server.Allows for a token (or the
// intermediary token of a client-side token) past its expiry.
var errTokenExpired = errors.New("ststest: token expired")

// evalRule is one access boundary rule as the server evaluates it: from
// the JSON of a server-side exchange or the protocol buffer of a client-side
// token.
type evalRule struct {
	resource    string
	permissions []string
	condition   *cel.Ast // nil: no condition
}

// Allows decides, as Cloud Storage would, whether token grants permission
// (for example "storage.objects.get") on resource, within the Credential
// Access Boundary the token carries. resource is a full resource name such
// as "//storage.googleapis.com/projects/_/buckets/b/objects/o" (a bucket for
// bucket-level permissions such as storage.objects.list), or the same
// without the "//storage.googleapis.com/" prefix. listPrefix is the prefix
// an objects.list request asks for; it is the value of the
// api.getAttribute('storage.googleapis.com/objectListPrefix', …) attribute
// when permission is storage.objects.list, and is ignored otherwise.
//
// token may be any token this server issued:
//
//   - a server-side downscoped token (an access token exchanged with
//     options.accessBoundary): the boundary sent with the exchange applies;
//   - a client-side token, intermediary + "." + base64url(ciphertext), minted
//     from an intermediary token this server issued: the ciphertext is
//     decrypted with that token's session key and decoded as the
//     ClientSideAccessBoundary protocol buffer, whose compiled conditions
//     apply;
//   - an intermediary token alone grants nothing;
//   - any other token carries no boundary and is allowed everything (the
//     emulator does not model IAM policies).
//
// A request is allowed when some rule's resource is resource or contains
// it, one of the rule's roles holds permission, and the rule's condition,
// if any, evaluates to true with resource.name (the name without
// "//storage.googleapis.com/"), resource.service, resource.type and
// api.getAttribute. A condition that fails to evaluate denies, as in IAM.
// The emulator knows the permissions of IAM's predefined Cloud Storage
// roles objectViewer, objectCreator, objectUser, objectAdmin,
// legacyObjectReader, legacyObjectOwner, legacyBucketReader,
// legacyBucketWriter, legacyBucketOwner and admin; other roles grant
// nothing.
//
// Allows returns an error for a token the server did not issue, a malformed
// client-side token (bad encoding, wrong key, bad protocol buffer or
// condition), an expired token, and a token bound to a client certificate
// (use AllowsRequest for those).
func (s *Server) Allows(token, permission, resource, listPrefix string) (bool, error) {
	return s.allows(token, "", permission, resource, listPrefix)
}

// AllowsRequest is Allows for the Bearer token of r, an HTTP request a
// test's stand-in for a Google API received: a token bound to a client
// certificate is accepted only when r's connection presented that
// certificate (a server started with NewTLSServer, or an httptest TLS
// server that requests client certificates).
func (s *Server) AllowsRequest(r *http.Request, permission, resource, listPrefix string) (bool, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false, errors.New("ststest: the request has no Bearer token")
	}
	return s.allows(strings.TrimSpace(token), peerFingerprint(r), permission, resource, listPrefix)
}

func (s *Server) allows(token, presented, permission, resource, listPrefix string) (bool, error) {
	if token == "" || len(token) > maxTokenLength {
		return false, errors.New("ststest: token is empty or too long")
	}
	if permission == "" {
		return false, errors.New("ststest: permission is empty")
	}
	full, rel, err := normalizeResource(resource)
	if err != nil {
		return false, err
	}
	info, rules, err := s.tokenBoundary(token)
	if err != nil {
		return false, err
	}
	if !presentedWith(info, presented) {
		return false, errCertificateRequired
	}
	if rules == nil {
		return true, nil
	}
	vars := map[string]any{
		"resource": map[string]any{"name": rel, "service": resourceService(full), "type": resourceType(rel)},
		"api":      map[string]string{},
	}
	if permission == listPermission {
		vars["api"] = map[string]string{listPrefixAttr: listPrefix}
	}
	for _, r := range rules {
		if full != r.resource && !strings.HasPrefix(full, r.resource+"/") {
			continue
		}
		if !rolesHold(r.permissions, permission) {
			continue
		}
		if r.condition == nil {
			return true, nil
		}
		if ok, err := evalCondition(r.condition, vars); err != nil {
			return false, err
		} else if ok {
			return true, nil
		}
	}
	return false, nil
}

// tokenBoundary returns what the server recorded about a token (for a
// client-side token, about its intermediary token) and the rules it
// carries: nil for a token without a boundary, an empty non-nil slice for
// one that grants nothing.
func (s *Server) tokenBoundary(token string) (TokenInfo, []evalRule, error) {
	now := time.Now()
	if inter, enc, ok := strings.Cut(token, "."); ok {
		info, found := s.Lookup(inter)
		if !found || info.Kind != "intermediary" {
			return TokenInfo{}, nil, errors.New("ststest: client-side token does not start with an intermediary token this server issued")
		}
		if !info.Valid(now) {
			return TokenInfo{}, nil, errTokenExpired
		}
		key, found := s.cab.get(inter)
		if !found {
			return TokenInfo{}, nil, errors.New("ststest: no session key for the intermediary token")
		}
		ct, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil {
			return TokenInfo{}, nil, errors.New("ststest: client-side token: ciphertext is not unpadded base64url")
		}
		pt, err := key.Decrypt(ct, nil)
		if err != nil {
			return TokenInfo{}, nil, errors.New("ststest: client-side token: ciphertext does not open with the intermediary's session key")
		}
		rules, err := decodeClientBoundary(pt)
		return info, rules, err
	}
	info, found := s.Lookup(token)
	if !found {
		return TokenInfo{}, nil, errors.New("ststest: token was not issued by this server")
	}
	if !info.Valid(now) {
		return TokenInfo{}, nil, errTokenExpired
	}
	switch {
	case info.Kind == "intermediary":
		return info, []evalRule{}, nil
	case info.AccessBoundary != nil:
		rules, err := parseJSONBoundary(info.AccessBoundary)
		return info, rules, err
	}
	return info, nil, nil
}

// parseJSONBoundary reads the accessBoundary member of exchange options.
func parseJSONBoundary(raw json.RawMessage) ([]evalRule, error) {
	var ab accessBoundary
	if err := json.Unmarshal(raw, &ab); err != nil {
		return nil, fmt.Errorf("ststest: recorded access boundary: %v", err)
	}
	env, err := conditionEnv()
	if err != nil {
		return nil, err
	}
	rules := make([]evalRule, 0, len(ab.AccessBoundaryRules))
	for i, r := range ab.AccessBoundaryRules {
		br := evalRule{permissions: r.AvailablePermissions}
		if r.AvailableResource != nil {
			br.resource = *r.AvailableResource
		}
		if c := r.AvailabilityCondition; c != nil && c.Expression != nil {
			a, iss := env.Parse(*c.Expression)
			if iss != nil && iss.Err() != nil {
				return nil, fmt.Errorf("ststest: rule %d: condition does not parse: %v", i, iss.Err())
			}
			br.condition = a
		}
		rules = append(rules, br)
	}
	return rules, nil
}

// decodeClientBoundary reads a ClientSideAccessBoundary protocol buffer:
// rules in field 1; in each, available_resource (1), available_permissions
// (2, repeated) and compiled_availability_condition (4, a
// google.api.expr.v1alpha1.Expr). Unknown fields are skipped.
func decodeClientBoundary(b []byte) ([]evalRule, error) {
	rules := []evalRule{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, errors.New("ststest: client-side boundary: bad protocol buffer")
		}
		b = b[n:]
		if num != 1 {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, errors.New("ststest: client-side boundary: bad protocol buffer")
			}
			b = b[n:]
			continue
		}
		if typ != protowire.BytesType {
			return nil, errors.New("ststest: client-side boundary: rule is not a message")
		}
		rb, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, errors.New("ststest: client-side boundary: bad rule length")
		}
		b = b[n:]
		r, err := decodeClientRule(rb)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		return nil, errors.New("ststest: client-side boundary has no rule")
	}
	return rules, nil
}

func decodeClientRule(b []byte) (evalRule, error) {
	var r evalRule
	bad := errors.New("ststest: client-side boundary: bad rule")
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, bad
		}
		b = b[n:]
		if num != 1 && num != 2 && num != 4 {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return r, bad
			}
			b = b[n:]
			continue
		}
		if typ != protowire.BytesType {
			return r, bad
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return r, bad
		}
		b = b[n:]
		switch num {
		case 1:
			r.resource = string(v)
		case 2:
			r.permissions = append(r.permissions, string(v))
		case 4:
			var e exprpb.Expr
			if err := proto.Unmarshal(v, &e); err != nil {
				return r, errors.New("ststest: client-side boundary: condition is not a google.api.expr.v1alpha1.Expr")
			}
			if _, err := ast.ProtoToExpr(&e); err != nil {
				return r, fmt.Errorf("ststest: client-side boundary: condition: %v", err)
			}
			r.condition = cel.ParsedExprToAst(&exprpb.ParsedExpr{Expr: &e})
		}
	}
	if r.resource == "" || len(r.permissions) == 0 {
		return r, errors.New("ststest: client-side boundary: rule without resource or permissions")
	}
	return r, nil
}

// conditionEnv is the CEL environment conditions are evaluated in:
// resource (a map with name, service and type) and api, whose
// getAttribute(name, default) returns a request attribute.
var conditionEnv = sync.OnceValues(func() (*cel.Env, error) {
	attrs := cel.MapType(cel.StringType, cel.StringType)
	return cel.NewEnv(
		cel.Variable("resource", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("api", attrs),
		cel.Function("getAttribute",
			cel.MemberOverload("api_getAttribute_string_string", []*cel.Type{attrs, cel.StringType, cel.StringType}, cel.StringType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val {
					m, ok := args[0].(traits.Mapper)
					if !ok {
						return types.NewErr("getAttribute: receiver is not api")
					}
					if v, found := m.Find(args[1]); found {
						return v
					}
					return args[2]
				}))),
	)
})

// evalCondition evaluates a condition; anything but true denies.
func evalCondition(a *cel.Ast, vars map[string]any) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, errors.New("ststest: condition evaluation panicked")
		}
	}()
	env, err := conditionEnv()
	if err != nil {
		return false, err
	}
	prg, err := env.Program(a)
	if err != nil {
		return false, fmt.Errorf("ststest: condition cannot be planned: %v", err)
	}
	out, _, err := prg.Eval(vars)
	if err != nil {
		return false, nil // an evaluation error denies
	}
	b, isBool := out.Value().(bool)
	return isBool && b, nil
}

func rolesHold(perms []string, permission string) bool {
	for _, p := range perms {
		role, ok := strings.CutPrefix(p, "inRole:")
		if ok && slices.Contains(rolePermissions[role], permission) {
			return true
		}
	}
	return false
}

// normalizeResource returns the full and relative names of a resource.
func normalizeResource(resource string) (full, rel string, err error) {
	switch {
	case strings.HasPrefix(resource, storagePrefix):
		return resource, strings.TrimPrefix(resource, storagePrefix), nil
	case strings.HasPrefix(resource, "projects/"):
		return storagePrefix + resource, resource, nil
	case strings.HasPrefix(resource, "//"):
		_, rel, _ := strings.Cut(strings.TrimPrefix(resource, "//"), "/")
		return resource, rel, nil
	}
	return "", "", fmt.Errorf("ststest: resource %q is not a full resource name (//storage.googleapis.com/projects/_/buckets/…)", clip(resource))
}

func resourceService(full string) string {
	svc, _, _ := strings.Cut(strings.TrimPrefix(full, "//"), "/")
	return svc
}

func resourceType(rel string) string {
	switch {
	case strings.Contains(rel, "/objects/"):
		return storageService + "/Object"
	case strings.HasPrefix(rel, "projects/_/buckets/"):
		return storageService + "/Bucket"
	}
	return ""
}
