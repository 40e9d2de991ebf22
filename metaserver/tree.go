package metaserver

import (
	"strconv"
	"strings"

	"github.com/stsgo/sts/internal/jsonstr"
)

// leafKind says how a leaf is answered.
type leafKind uint8

const (
	leafText     leafKind = iota // one value, as is
	leafList                     // one value a line; a JSON array
	leafNumber                   // a decimal number; a JSON number
	leafToken                    // the access token answer
	leafIdentity                 // the ID token answer
)

// node is one entry of the metadata tree: a directory (kids != nil) or a
// leaf.
type node struct {
	name string // path segment
	key  string // JSON key in recursive answers
	kids []*node
	kind leafKind
	text string
	list []string
	// unlisted nodes are served but appear neither in listings nor in
	// recursive answers; dynamic ones (tokens) are listed but left out of
	// recursive answers, as the real server does.
	unlisted, dynamic bool
}

func (n *node) isDir() bool { return n.kids != nil }

func dir(name, key string, kids ...*node) *node {
	if kids == nil {
		kids = []*node{}
	}
	return &node{name: name, key: key, kids: kids}
}

func leaf(name, key string, kind leafKind, text string, list ...string) *node {
	return &node{name: name, key: key, kind: kind, text: text, list: list}
}

// buildTree builds the tree a Server answers from; its values are fixed
// for the server's life.
func buildTree(email string, scopes []string, projectID, numericProjectID, universe string) *node {
	account := func(name string) *node {
		return dir(name, name,
			leaf("aliases", "aliases", leafList, "", "default"),
			leaf("email", "email", leafText, email),
			&node{name: "identity", key: "identity", kind: leafIdentity, dynamic: true},
			leaf("scopes", "scopes", leafList, "", scopes...),
			&node{name: "token", key: "token", kind: leafToken, dynamic: true},
		)
	}
	accounts := dir("service-accounts", "serviceAccounts", account("default"))
	if email != "default" {
		accounts.kids = append(accounts.kids, account(email))
	}
	project := dir("project", "project")
	if numericProjectID != "" {
		project.kids = append(project.kids, leaf("numeric-project-id", "numericProjectId", leafNumber, numericProjectID))
	}
	if projectID != "" {
		project.kids = append(project.kids, leaf("project-id", "projectId", leafText, projectID))
	}
	universeDir := dir("universe", "universe",
		leaf("universe-domain", "universeDomain", leafText, universe),
		// golang.org/x/oauth2/google asks for this spelling; the real
		// server answers it 404 and the client then assumes
		// googleapis.com. Answering it keeps such clients right in other
		// universes too.
		&node{name: "universe_domain", kind: leafText, text: universe, unlisted: true},
	)
	v1 := dir("v1", "v1", dir("instance", "instance", accounts), project, universeDir)
	return dir("", "", dir("computeMetadata", "computeMetadata", v1))
}

// lookup finds the node of a path ("/a/b/" or "/a/b"); dirSlash reports a
// trailing slash.
func (root *node) lookup(path string) (n *node, dirSlash bool) {
	if path == "" || path[0] != '/' {
		return nil, false
	}
	rest := path[1:]
	dirSlash = strings.HasSuffix(rest, "/") || rest == ""
	rest = strings.TrimSuffix(rest, "/")
	n = root
	if rest == "" {
		return n, true
	}
	for rest != "" {
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
			if rest == "" {
				return nil, dirSlash // "a//" : an empty segment
			}
		} else {
			rest = ""
		}
		var next *node
		for _, k := range n.kids {
			if k.name == seg {
				next = k
				break
			}
		}
		if next == nil {
			return nil, dirSlash
		}
		n = next
	}
	return n, dirSlash
}

// listing is a directory's text answer: one entry a line, "/" after
// directories.
func (n *node) listing() []string {
	var out []string
	for _, k := range n.kids {
		if k.unlisted {
			continue
		}
		if k.isDir() {
			out = append(out, k.name+"/")
		} else {
			out = append(out, k.name)
		}
	}
	return out
}

// appendText appends a leaf's text answer.
func (n *node) appendText(b []byte) []byte {
	if n.kind == leafList {
		for _, v := range n.list {
			b = append(b, v...)
			b = append(b, '\n')
		}
		return b
	}
	return append(b, n.text...)
}

// appendJSON appends a node's JSON answer: a leaf's value, or a
// directory's recursive object.
func (n *node) appendJSON(b []byte) []byte {
	if !n.isDir() {
		switch n.kind {
		case leafList:
			return appendJSONStrings(b, n.list)
		case leafNumber:
			return append(b, n.text...)
		default:
			return jsonstr.AppendString(b, n.text, true)
		}
	}
	b = append(b, '{')
	first := true
	for _, k := range n.kids {
		if k.unlisted || k.dynamic {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = jsonstr.AppendString(b, k.key, true)
		b = append(b, ':')
		b = k.appendJSON(b)
	}
	return append(b, '}')
}

// appendFlat appends a directory's recursive text answer: one "path value"
// line per value, list items numbered.
func (n *node) appendFlat(b []byte, prefix string) []byte {
	for _, k := range n.kids {
		if k.unlisted || k.dynamic {
			continue
		}
		switch {
		case k.isDir():
			b = k.appendFlat(b, prefix+k.name+"/")
		case k.kind == leafList:
			for i, v := range k.list {
				b = append(b, prefix...)
				b = append(b, k.name...)
				b = append(b, '/')
				b = strconv.AppendInt(b, int64(i), 10)
				b = append(b, ' ')
				b = append(b, v...)
				b = append(b, '\n')
			}
		default:
			b = append(b, prefix...)
			b = append(b, k.name...)
			b = append(b, ' ')
			b = append(b, k.text...)
			b = append(b, '\n')
		}
	}
	return b
}

func appendJSONStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, v := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.AppendString(b, v, true)
	}
	return append(b, ']')
}
