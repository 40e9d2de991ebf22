package sts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stsgo/sts/internal/check"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
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
	rulesField := n.root + "." + n.rules
	switch {
	case len(b.Rules) == 0:
		return invalid(rulesField, "must hold at least one rule")
	case len(b.Rules) > MaxAccessBoundaryRules:
		return invalid(rulesField, "holds %d rules, at most %d are allowed", len(b.Rules), MaxAccessBoundaryRules)
	}
	for i := range b.Rules {
		if err := b.Rules[i].validate(fmt.Sprintf("%s[%d]", rulesField, i), n); err != nil {
			return err
		}
	}
	opts, err := b.optionsJSON()
	if err != nil {
		return invalid(n.root, "cannot be encoded: %v", err)
	}
	if l := len(opts); l > MaxAccessBoundaryOptionsLength {
		return invalid(n.root, "encodes to %d bytes of options, at most %d are allowed", l, MaxAccessBoundaryOptionsLength)
	}
	return nil
}

func (r *AccessBoundaryRule) validate(path string, n fieldNames) error {
	field := path + "." + n.resource
	switch res := r.AvailableResource; {
	case res == "":
		return invalid(field, "must not be empty")
	case !cleanText(res):
		return invalid(field, "must be valid UTF-8 without spaces or control characters")
	case !strings.HasPrefix(res, "//"):
		return invalid(field, "must be a full resource name starting with \"//\", such as %q", storageResourcePrefix+"BUCKET")
	case strings.HasPrefix(res, storageResourcePrefix):
		if bucket := res[len(storageResourcePrefix):]; bucket == "" || strings.Contains(bucket, "/") {
			return invalid(field, "must name one bucket: %q", storageResourcePrefix+"BUCKET")
		}
	}
	field = path + "." + n.permissions
	if len(r.AvailablePermissions) == 0 {
		return invalid(field, "must hold at least one permission")
	}
	for j, p := range r.AvailablePermissions {
		if err := checkPermission(p); err != "" {
			return invalid(fmt.Sprintf("%s[%d]", field, j), "%s", err)
		}
	}
	if c := r.AvailabilityCondition; c != nil {
		field = path + "." + n.condition + "." + n.expression
		if strings.TrimSpace(c.Expression) == "" {
			return invalid(field, "must not be empty")
		}
		if !utf8.ValidString(c.Expression) {
			return invalid(field, "not valid UTF-8")
		}
	}
	return nil
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
	parts := strings.Split(role, "/")
	switch {
	case len(parts) == 2 && parts[0] == "roles" && parts[1] != "":
	case len(parts) == 4 && (parts[0] == "projects" || parts[0] == "organizations") &&
		parts[1] != "" && parts[2] == "roles" && parts[3] != "":
	default:
		return fmt.Sprintf("role %q must be \"roles/NAME\", \"projects/ID/roles/NAME\" or \"organizations/ID/roles/NAME\"", role)
	}
	return ""
}

// cleanText reports whether s is valid UTF-8 with no white space or control
// characters.
func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// boundaryOptions is the STS options parameter that carries a boundary.
type boundaryOptions struct {
	AccessBoundary *AccessBoundary `json:"accessBoundary"`
}

// optionsJSON renders the STS options parameter {"accessBoundary":{…}}
// byte for byte as the exchange sends it (Config.optionsJSON marshals the
// boundary's JSON inside a map with encoding/json).
func (b *AccessBoundary) optionsJSON() ([]byte, error) {
	return json.Marshal(boundaryOptions{AccessBoundary: b})
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
