// Package jsonkeys finds the keys of a JSON document that a person reading
// it would take for other keys: duplicates, keys that differ only in case
// (encoding/json matches member names case-insensitively, with Unicode
// folding, so "Token_URL", or "token_url" spelled with a Kelvin sign, fill
// the field token_url), keys with characters outside printable ASCII, and
// keys that look like a known key ("token_ur1", "credentiaI_source"). A
// credential file with one is refused: the value a reviewer sees may not be
// the value used.
package jsonkeys

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stsgo/sts/internal/errs"
)

// Schema lists the known keys of one JSON object. The zero value (and nil)
// knows no key: the rules that need none (duplicates, case variants among
// the object's own keys, keys outside printable ASCII) still apply, at
// every depth.
type Schema struct {
	// Keys maps each known key to the schema of its value when that is an
	// object or an array of objects (nil for a value that is neither, or
	// whose keys are free, such as HTTP header names).
	Keys map[string]*Schema
	// Free marks an object whose member names are free-form and checked by
	// the caller (HTTP header names): only exact duplicates are refused
	// there, and no member is unknown.
	Free bool
}

// ParseSchema builds the Schema that spec describes: the known keys,
// separated by white space; a key followed by {…} has an object value (or
// an array of objects) with the keys inside, one followed by * an object
// whose member names are free (Schema.Free), one followed by ^ the
// described schema itself, again (a document nested in its own kind). It
// panics on a malformed spec: specs are constants of the program.
func ParseSchema(spec string) *Schema {
	top := &Schema{}
	if rest := parseKeys(top, top, spec); rest != "" {
		panic("jsonkeys: unbalanced schema at " + rest)
	}
	return top
}

// parseKeys reads keys into s up to the end of spec or a '}', which it
// returns with what follows.
func parseKeys(s, top *Schema, spec string) string {
	s.Keys = map[string]*Schema{}
	for {
		spec = strings.TrimLeft(spec, " \t\n")
		if spec == "" || spec[0] == '}' {
			return spec
		}
		i := strings.IndexAny(spec, " \t\n{}*^")
		if i < 0 {
			i = len(spec)
		}
		name, sub := spec[:i], (*Schema)(nil)
		spec = spec[i:]
		if spec != "" {
			switch spec[0] {
			case '{':
				sub = &Schema{}
				if spec = parseKeys(sub, top, spec[1:]); spec == "" {
					panic("jsonkeys: schema of " + name + " not closed")
				}
				spec = spec[1:]
			case '*':
				sub, spec = &Schema{Free: true}, spec[1:]
			case '^':
				sub, spec = top, spec[1:]
			}
		}
		s.Keys[name] = sub
	}
}

// Key is one member name of an object, with the path of that object.
type Key struct {
	// Not comparable, so that no equality function is linked for it.
	_ [0]func()
	// Path is the JSON path of the object: "" for the top level,
	// "credential_source.format"; array elements show as "[i]".
	Path string
	// Name is the key as the document spells it, unescaped.
	Name string
}

// Field returns the key's full path, "credential_source.file".
func (k Key) Field() string {
	if k.Path == "" {
		return k.Name
	}
	return k.Path + "." + k.Name
}

// Problem is a key refused by Check.
type Problem struct {
	Key
	// Reason says why, in lower case.
	Reason string
}

// MaxUnknown bounds the unknown keys Check reports.
const MaxUnknown = 64

// frame is an object or array being scanned.
type frame struct {
	object bool
	path   string
	schema *Schema
	seen   map[string]string // lower-cased key → key as written
	// skeletons maps skeleton(k) → k for the schema's known keys, built
	// at the first unknown key.
	skeletons map[string]string
	key       string // the member whose value comes next
	hasKey    bool   // whether key is set (a key may be "")
	index     int    // next array index
}

// Report is what Check found in a document without look-alike keys.
type Report struct {
	// Unknown lists the keys the schema does not know, at most MaxUnknown,
	// in document order. The keys inside an unknown member, or inside a
	// member whose schema is nil, are not listed (they are only checked
	// against each other).
	Unknown []Key
	present map[string]bool
}

// Has reports whether the document has the known key at field (a path
// such as "credential_source.file"; array elements as "[i]").
func (r *Report) Has(field string) bool { return r.present[field] }

// Check scans data, a JSON document, against s and returns the first
// look-alike key (see the package documentation), or, when there is none,
// a Report. A document that is not valid JSON gets a Report of what was
// read before the error: reporting syntax is the decoder's business.
func Check(data []byte, s *Schema) (*Report, *Problem) {
	r := &Report{present: map[string]bool{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			// io.EOF after a complete document, or a syntax error.
			return r, nil
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && !top.hasKey {
			// Where a key is expected: a key, or the object's end.
			name, ok := tok.(string)
			if !ok {
				stack = stack[:len(stack)-1]
				continue
			}
			if p := top.admit(name); p != nil {
				return nil, p
			}
			if top.schema != nil && !top.schema.Free {
				k := Key{Path: top.path, Name: name}
				if _, known := top.schema.Keys[name]; known {
					r.present[k.Field()] = true
				} else if len(r.Unknown) < MaxUnknown {
					r.Unknown = append(r.Unknown, k)
				}
			}
			top.key, top.hasKey = name, true
			continue
		}
		// A value: a member's or an array element's.
		path, schema := "", s
		if top != nil {
			path, schema = top.child()
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, &frame{object: tok == json.Delim('{'), path: path, schema: schema})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// child returns the path and schema of the value starting in f, and moves
// f past it.
func (f *frame) child() (string, *Schema) {
	if !f.object {
		p := f.path + "[" + strconv.Itoa(f.index) + "]"
		f.index++
		return p, f.schema // an array's elements share its schema
	}
	p := f.key
	if f.path != "" {
		p = f.path + "." + f.key
	}
	var sub *Schema
	if f.schema != nil && !f.schema.Free {
		sub = f.schema.Keys[f.key]
	}
	f.key, f.hasKey = "", false
	return p, sub
}

// admit checks a key against the object's earlier keys and the schema's
// known keys.
func (f *frame) admit(name string) *Problem {
	k := Key{Path: f.path, Name: name}
	if f.schema != nil && f.schema.Free {
		if f.seen == nil {
			f.seen = map[string]string{}
		}
		if _, ok := f.seen[name]; ok {
			return &Problem{k, "duplicate key: a reader sees one value, a decoder uses the last"}
		}
		f.seen[name] = name
		return nil
	}
	if i := strings.IndexFunc(name, func(r rune) bool { return r <= ' ' || r >= 0x7f }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return &Problem{k, "key " + strconv.QuoteToASCII(name) + " has a character outside printable ASCII (" +
			strconv.QuoteRuneToASCII(r) + "): keys of this file are plain ASCII"}
	}
	folded := strings.ToLower(name)
	if f.seen == nil {
		f.seen = map[string]string{}
	}
	if prev, ok := f.seen[folded]; ok {
		if prev == name {
			return &Problem{k, "duplicate key: a reader sees one value, a decoder uses the last"}
		}
		return &Problem{k, "key " + quote(name) + " and key " + quote(prev) + " differ only in case: a decoder may use either"}
	}
	f.seen[folded] = name
	if f.schema == nil {
		return nil
	}
	if _, ok := f.schema.Keys[name]; ok {
		return nil
	}
	if f.skeletons == nil {
		f.skeletons = make(map[string]string, len(f.schema.Keys))
		for known := range f.schema.Keys {
			f.skeletons[skeleton(known)] = known
		}
	}
	known, ok := f.skeletons[skeleton(name)]
	switch {
	case !ok:
		return nil
	case strings.EqualFold(known, name):
		return &Problem{k, "key differs from " + quote(known) + " only in case: write " + quote(known)}
	default:
		return &Problem{k, "key looks like " + quote(known) + " but is not: write " + quote(known)}
	}
}

// quote is strconv.Quote, which Go inlines: out of line, the problems
// that quote names share it.
//
//go:noinline
func quote(s string) string { return strconv.Quote(s) }

// skeleton maps a printable ASCII name to a form in which names a reader
// may confuse are equal: lower case, with 1, I and | as l, 0 as o, rn as m,
// vv as w and - as _.
func skeleton(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch c {
		case '1', 'I', '|':
			c = 'l'
		case '0':
			c = 'o'
		case '-':
			c = '_'
		default:
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
		}
		b.WriteByte(c)
	}
	s := b.String()
	s = strings.ReplaceAll(s, "rn", "m")
	return strings.ReplaceAll(s, "vv", "w")
}

// SetString returns data, a JSON object, with the string value of the
// member at path (a top-level key, or keys of nested objects) replaced by
// value, every other byte (the other members, their order, spacing and
// escapes) unchanged. Each key of path must appear exactly once, spelled
// exactly so, and the last one's value must be a string; data must pass
// Check against a schema knowing path (no look-alike of its keys, at any
// depth), so that no other spelling keeps an old value a decoder could
// pick.
func SetString(data []byte, value string, path ...string) ([]byte, error) {
	if len(path) == 0 {
		return nil, errs.New("no member named")
	}
	var schema *Schema
	for i := len(path) - 1; i >= 0; i-- {
		schema = &Schema{Keys: map[string]*Schema{path[i]: schema}}
	}
	if _, p := Check(data, schema); p != nil {
		return nil, errs.Errorf("%s: %s", p.Field(), p.Reason)
	}
	if !json.Valid(data) {
		return nil, errs.New("not valid JSON")
	}
	var enc bytes.Buffer
	e := json.NewEncoder(&enc)
	e.SetEscapeHTML(false)
	if err := e.Encode(value); err != nil {
		return nil, err
	}
	return setString(data, bytes.TrimSuffix(enc.Bytes(), []byte("\n")), path, "")
}

// setString replaces the value at path in the object data (valid JSON)
// with repl; at names the object in errors.
func setString(data, repl []byte, path []string, at string) ([]byte, error) {
	key := path[0]
	field := key
	if at != "" {
		field = at + "." + key
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if at == "" {
			return nil, errs.New("not a JSON object")
		}
		return nil, errs.Errorf("member %q is not an object", at)
	}
	start, end := -1, -1
	var v json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errs.New("not valid JSON")
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errs.New("not valid JSON")
		}
		if name != key {
			continue
		}
		if start >= 0 {
			return nil, errs.Errorf("member %q appears more than once", field)
		}
		// The value is the last len(raw) bytes before the offset:
		// Decode consumed the colon and spaces before it.
		end = int(dec.InputOffset())
		start, v = end-len(raw), raw
		if start < 0 || !bytes.Equal(data[start:end], raw) {
			return nil, errs.New("cannot locate the member's value")
		}
	}
	if start < 0 {
		return nil, errs.Errorf("no member %q", field)
	}
	if len(path) > 1 {
		inner, err := setString(v, repl, path[1:], field)
		if err != nil {
			return nil, err
		}
		repl = inner
	} else if v[0] != '"' {
		return nil, errs.Errorf("member %q is not a string", field)
	}
	out := make([]byte, 0, len(data)-(end-start)+len(repl))
	out = append(out, data[:start]...)
	out = append(out, repl...)
	return append(out, data[end:]...), nil
}
