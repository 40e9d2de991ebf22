package ststest

import (
	"testing"

	"github.com/google/cel-go/cel"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// clientBoundary builds ClientSideAccessBoundary bytes for fuzz seeds.
func clientBoundary(tb testing.TB, resource, perm, cond string) []byte {
	var rb []byte
	rb = protowire.AppendTag(rb, 1, protowire.BytesType)
	rb = protowire.AppendString(rb, resource)
	rb = protowire.AppendTag(rb, 2, protowire.BytesType)
	rb = protowire.AppendString(rb, perm)
	if cond != "" {
		env, err := cel.NewEnv()
		if err != nil {
			tb.Fatal(err)
		}
		a, iss := env.Parse(cond)
		if iss.Err() != nil {
			tb.Fatal(iss.Err())
		}
		pe, _ := cel.AstToParsedExpr(a)
		eb, err := proto.Marshal(pe.GetExpr())
		if err != nil {
			tb.Fatal(err)
		}
		rb = protowire.AppendTag(rb, 4, protowire.BytesType)
		rb = protowire.AppendBytes(rb, eb)
	}
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, rb)
}

// FuzzDecodeClientBoundary feeds the emulator's decoder of client-side
// boundaries (and its condition evaluation) arbitrary bytes: errors, never
// panics.
func FuzzDecodeClientBoundary(f *testing.F) {
	f.Add(clientBoundary(f, "//storage.googleapis.com/projects/_/buckets/b", "inRole:roles/storage.objectViewer", ""))
	f.Add(clientBoundary(f, "//storage.googleapis.com/projects/_/buckets/b", "inRole:roles/storage.objectViewer",
		"resource.name.startsWith('projects/_/buckets/b/objects/a/') || api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('a/')"))
	f.Add(clientBoundary(f, "//x/y", "inRole:roles/x", "[1, 2].exists(i, i > 1) && {'a': 1}.a == 1 ? 1 / 0 == 1 : resource.missing"))
	f.Add([]byte{0x0a, 0x02, 0x22, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := decodeClientBoundary(data)
		if err != nil {
			return
		}
		vars := map[string]any{
			"resource": map[string]any{"name": "projects/_/buckets/b/objects/a/x", "service": storageService, "type": storageService + "/Object"},
			"api":      map[string]string{listPrefixAttr: "a/"},
		}
		for _, r := range rules {
			if r.condition != nil {
				_, _ = evalCondition(r.condition, vars)
			}
		}
	})
}
