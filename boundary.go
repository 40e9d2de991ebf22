package sts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/jsonstr"
)

// Limits of a Credential Access Boundary, from STS's API reference: at
// most 10 rules (10 is legal), and an options parameter
// {"accessBoundary":{…}} of at most 2048 bytes as this package encodes it
// (compact JSON, with "&" and "<" escaped in 6 bytes each).
const (
	MaxAccessBoundaryRules         = 10
	MaxAccessBoundaryOptionsLength = 2048

	// maxBoundaryFileSize bounds what ParseAccessBoundary reads; a legal
	// boundary is far smaller, but a file may be indented generously.
	maxBoundaryFileSize = 64 << 10

	storageResourcePrefix = "//storage.googleapis.com/projects/_/buckets/"
	inRolePrefix          = "inRole:"
)

// AccessBoundary is a Credential Access Boundary: the upper bound of what a
// downscoped token may do. Each rule names a resource (a Cloud Storage
// bucket), the roles whose permissions remain available on it and,
// optionally, a CEL condition that narrows them further; a request is allowed
// when any rule allows it.
//
// It marshals to the JSON STS uses inside the "accessBoundary" wrapper
// ({"accessBoundaryRules":[…]}). The zero value holds no rule and is not
// valid (1 to 10 rules are needed); constructors that take one validate it.
type AccessBoundary struct {
	// Rules are the access boundary rules, 1 to MaxAccessBoundaryRules.
	Rules []AccessBoundaryRule `json:"accessBoundaryRules"`
}

// AccessBoundaryRule is the upper bound of the permissions available on one
// resource.
type AccessBoundaryRule struct {
	// AvailableResource is the full resource name the rule applies to, for
	// example "//storage.googleapis.com/projects/_/buckets/example-bucket".
	// Required.
	AvailableResource string `json:"availableResource"`
	// AvailablePermissions lists the roles whose permissions stay available
	// on the resource, each in the form "inRole:ROLE", for example
	// "inRole:roles/storage.objectViewer". At least one is required.
	AvailablePermissions []string `json:"availablePermissions"`
	// AvailabilityCondition optionally narrows the rule to the requests for
	// which its CEL expression is true. Nil means no condition.
	AvailabilityCondition *AvailabilityCondition `json:"availabilityCondition,omitempty"`
}

// AvailabilityCondition is a condition, in the Common Expression Language,
// that a request must meet for a rule's permissions to be available.
type AvailabilityCondition struct {
	// Expression is the CEL expression, for example
	// "resource.name.startsWith('projects/_/buckets/b/objects/customer-a')".
	// Required; package downscope checks that it parses as CEL (this
	// package, free of a CEL parser, checks it is non-empty UTF-8).
	Expression string `json:"expression"`
	// Title optionally names the condition.
	Title string `json:"title,omitempty"`
	// Description optionally explains the condition.
	Description string `json:"description,omitempty"`
}

// BucketRule returns a rule that makes the given roles' permissions
// available on every object of a Cloud Storage bucket. Each role is an IAM
// role name such as "roles/storage.objectViewer"; a value that already starts
// with "inRole:" is kept as it is. The rule is not checked here: an empty
// bucket or no role makes the boundary that holds it fail validation.
func BucketRule(bucket string, roles ...string) AccessBoundaryRule {
	perms := make([]string, len(roles))
	for i, r := range roles {
		if !strings.HasPrefix(r, inRolePrefix) {
			r = inRolePrefix + r
		}
		perms[i] = r
	}
	return AccessBoundaryRule{
		AvailableResource:    storageResourcePrefix + bucket,
		AvailablePermissions: perms,
	}
}

// ObjectPrefixRule returns a rule like BucketRule's, narrowed by a condition
// to the objects whose names start with prefix, in the form Google's
// documentation gives:
//
//	resource.name.startsWith('projects/_/buckets/BUCKET/objects/PREFIX') ||
//	api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('PREFIX')
//
// The first half covers requests on objects; the second lets objects.list
// requests through when the listing prefix they ask for lies under PREFIX.
// Matching is on plain string prefixes: to stop at a "directory", end prefix
// with "/". An empty prefix allows the whole bucket. Quotes and backslashes
// in bucket and prefix are escaped for CEL.
func ObjectPrefixRule(bucket, prefix string, roles ...string) AccessBoundaryRule {
	r := BucketRule(bucket, roles...)
	r.AvailabilityCondition = &AvailabilityCondition{
		Expression: "resource.name.startsWith(" + celQuote("projects/_/buckets/"+bucket+"/objects/"+prefix) + ") || " +
			"api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith(" + celQuote(prefix) + ")",
	}
	return r
}

// celQuote renders s as a single-quoted CEL string literal.
func celQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\\' || r == '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Validate reports the first structural problem as a *ValidationError with
// a Go path Field such as "AccessBoundary.Rules[2].AvailablePermissions[0]":
// the number of rules, a missing resource or permission, a permission not
// of the form "inRole:ROLE", an empty or non-UTF-8 condition, or an options
// parameter over MaxAccessBoundaryOptionsLength. Package downscope checks
// that conditions parse as CEL.
func (b *AccessBoundary) Validate() error {
	return b.validate(goNames)
}

// fieldNames spells the paths of a boundary's fields, as Go fields or as the
// JSON of a boundary file.
type fieldNames struct {
	root, rules, resource, permissions, condition, expression string
}

var (
	goNames = fieldNames{
		root: "AccessBoundary", rules: "Rules", resource: "AvailableResource",
		permissions: "AvailablePermissions", condition: "AvailabilityCondition", expression: "Expression",
	}
	jsonNames = fieldNames{
		root: "accessBoundary", rules: "accessBoundaryRules", resource: "availableResource",
		permissions: "availablePermissions", condition: "availabilityCondition", expression: "expression",
	}
)

func (b *AccessBoundary) validate(n fieldNames) error {
	if b == nil {
		return invalid(n.root, "must not be nil")
	}
	// Field names are built for an error only: a program may build a
	// source per boundary.
	switch {
	case len(b.Rules) == 0:
		return invalid(n.root+"."+n.rules, "must hold at least one rule")
	case len(b.Rules) > MaxAccessBoundaryRules:
		return invalid(n.root+"."+n.rules, "holds %d rules, at most %d are allowed", len(b.Rules), MaxAccessBoundaryRules)
	}
	for i := range b.Rules {
		if field, reason := b.Rules[i].check(n); reason != "" {
			return invalid(fmt.Sprintf("%s.%s[%d].%s", n.root, n.rules, i, field), "%s", reason)
		}
	}
	if l := len(b.optionsJSON()); l > MaxAccessBoundaryOptionsLength {
		return invalid(n.root, "encodes to %d bytes of options, at most %d are allowed", l, MaxAccessBoundaryOptionsLength)
	}
	return nil
}

// check returns the field of r that is wrong, by its name below the rule
// ("AvailableResource", "AvailablePermissions[1]", …), and why; reason is
// empty when nothing is.
func (r *AccessBoundaryRule) check(n fieldNames) (field, reason string) {
	switch res := r.AvailableResource; {
	case res == "":
		return n.resource, "must not be empty"
	case !cleanText(res):
		return n.resource, "must be valid UTF-8 without spaces or control characters"
	case !strings.HasPrefix(res, "//"):
		return n.resource, fmt.Sprintf("must be a full resource name starting with \"//\", such as %q", storageResourcePrefix+"BUCKET")
	case strings.HasPrefix(res, storageResourcePrefix):
		if bucket := res[len(storageResourcePrefix):]; bucket == "" || strings.Contains(bucket, "/") {
			return n.resource, fmt.Sprintf("must name one bucket: %q", storageResourcePrefix+"BUCKET")
		}
	}
	if len(r.AvailablePermissions) == 0 {
		return n.permissions, "must hold at least one permission"
	}
	for j, p := range r.AvailablePermissions {
		if err := checkPermission(p); err != "" {
			return fmt.Sprintf("%s[%d]", n.permissions, j), err
		}
	}
	if c := r.AvailabilityCondition; c != nil {
		switch {
		case strings.TrimSpace(c.Expression) == "":
			return n.condition + "." + n.expression, "must not be empty"
		case !utf8.ValidString(c.Expression):
			return n.condition + "." + n.expression, "not valid UTF-8"
		}
	}
	return "", ""
}

// checkPermission returns what is wrong with an available permission, or "".
func checkPermission(p string) string {
	role, ok := strings.CutPrefix(p, inRolePrefix)
	if !ok {
		return fmt.Sprintf("must have the form %q, as in %q", "inRole:ROLE", "inRole:roles/storage.objectViewer")
	}
	if !cleanText(role) {
		return "role must be valid UTF-8 without spaces or control characters"
	}
	if !validRole(role) {
		return fmt.Sprintf("role %q must be \"roles/NAME\", \"projects/ID/roles/NAME\" or \"organizations/ID/roles/NAME\"", role)
	}
	return ""
}

// validRole reports whether role is "roles/NAME", "projects/ID/roles/NAME"
// or "organizations/ID/roles/NAME", no part empty.
func validRole(role string) bool {
	if name, ok := strings.CutPrefix(role, "roles/"); ok {
		return name != "" && !strings.Contains(name, "/")
	}
	parent, rest, ok := strings.Cut(role, "/")
	if !ok || (parent != "projects" && parent != "organizations") {
		return false
	}
	id, rest, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return false
	}
	name, ok := strings.CutPrefix(rest, "roles/")
	return ok && name != "" && !strings.Contains(name, "/")
}

// cleanText reports whether s is valid UTF-8 with no white space or control
// characters.
func cleanText(s string) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf { // ASCII: no space, no control
			if c <= ' ' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
		i += size
	}
	return true
}

// optionsJSON renders the STS options parameter {"accessBoundary":{…}}
// byte for byte as server-side downscoping sends it (see
// exchange.BoundaryOptions).
func (b *AccessBoundary) optionsJSON() []byte {
	dst := append(make([]byte, 0, 256), `{"accessBoundary":`...)
	return append(b.appendJSON(dst), '}')
}

// MarshalJSON encodes the boundary as STS takes it: what encoding/json
// makes from its field tags, without reflection.
func (b AccessBoundary) MarshalJSON() ([]byte, error) { return b.appendJSON(nil), nil }

// appendJSON appends b's JSON to dst, as encoding/json encodes the struct
// (FuzzAccessBoundaryJSON compares them).
func (b *AccessBoundary) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"accessBoundaryRules":`...)
	if b.Rules == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range b.Rules {
			r := &b.Rules[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"availableResource":`...)
			dst = jsonstr.AppendString(dst, r.AvailableResource, true)
			dst = append(dst, `,"availablePermissions":`...)
			if r.AvailablePermissions == nil {
				dst = append(dst, "null"...)
			} else {
				dst = append(dst, '[')
				for j, p := range r.AvailablePermissions {
					if j > 0 {
						dst = append(dst, ',')
					}
					dst = jsonstr.AppendString(dst, p, true)
				}
				dst = append(dst, ']')
			}
			if c := r.AvailabilityCondition; c != nil {
				dst = append(dst, `,"availabilityCondition":{"expression":`...)
				dst = jsonstr.AppendString(dst, c.Expression, true)
				if c.Title != "" {
					dst = append(dst, `,"title":`...)
					dst = jsonstr.AppendString(dst, c.Title, true)
				}
				if c.Description != "" {
					dst = append(dst, `,"description":`...)
					dst = jsonstr.AppendString(dst, c.Description, true)
				}
				dst = append(dst, '}')
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// boundaryFile is the JSON of a boundary file: the documented form
// {"accessBoundary":{"accessBoundaryRules":[…]}}, or the bare
// {"accessBoundaryRules":[…]}.
type boundaryFile struct {
	AccessBoundary *AccessBoundary      `json:"accessBoundary"`
	Rules          []AccessBoundaryRule `json:"accessBoundaryRules"`
}

// ParseAccessBoundary reads a Credential Access Boundary from JSON in the
// form Google's documentation uses,
//
//	{"accessBoundary": {"accessBoundaryRules": [{"availableResource": …,
//	  "availablePermissions": […], "availabilityCondition": {…}}]}}
//
// or without the wrapper, and validates it as Validate does. Unknown fields
// and trailing data are errors. Errors are *ValidationError with a JSON path
// Field, such as "accessBoundary.accessBoundaryRules[0].availableResource".
func ParseAccessBoundary(data []byte) (*AccessBoundary, error) {
	if len(data) > maxBoundaryFileSize {
		return nil, invalid("accessBoundary", "file is %d bytes, larger than the %d allowed", len(data), maxBoundaryFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f boundaryFile
	if err := dec.Decode(&f); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("accessBoundary", "unexpected data after the JSON object")
	}
	var b *AccessBoundary
	switch {
	case f.AccessBoundary != nil && f.Rules != nil:
		return nil, invalid("accessBoundaryRules", "must be inside \"accessBoundary\", not beside it")
	case f.AccessBoundary != nil:
		b = f.AccessBoundary
	case f.Rules != nil:
		b = &AccessBoundary{Rules: f.Rules}
	default:
		return nil, invalid("accessBoundary", "missing: the file must hold {\"accessBoundary\":{\"accessBoundaryRules\":[…]}}")
	}
	if err := b.validate(jsonNames); err != nil {
		return nil, err
	}
	return b, nil
}

// jsonError turns a decoding error into a *ValidationError naming the field.
func jsonError(err error) *ValidationError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return (*ValidationError)(check.TypeMismatch("accessBoundary", te))
	case errors.As(err, &se):
		return invalid("accessBoundary", "not valid JSON at offset %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("accessBoundary", "not valid JSON: unexpected end of input")
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if name, ok := strings.CutPrefix(msg, "unknown field "); ok {
		if n, err := strconv.Unquote(name); err == nil {
			return invalid(n, "unknown field")
		}
	}
	return invalid("accessBoundary", "not valid JSON: %s", msg)
}
