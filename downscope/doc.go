// Package downscope limits what the tokens of a root credential can do with
// Credential Access Boundaries (Cloud Storage buckets, object prefixes, CEL
// conditions), in the two ways Google's Security Token Service offers:
//
//   - Server-side, NewTokenSource: STS exchanges the root token for one
//     limited by a boundary. The source is an sts.CachedTokenSource, so a
//     boundary costs one STS request per root token, not one per call.
//   - Client-side, NewMinter: STS gives one intermediary token and a session
//     key; the Minter then mints tokens for any number of boundaries
//     locally, without a round trip per token. A boundary is compiled once
//     with Compile (its CEL conditions parsed into CEL's syntax tree, the
//     whole serialized as the ClientSideAccessBoundary protocol buffer); each
//     token is the intermediary token, a ".", and the unpadded base64url
//     encoding of the boundary encrypted with the session key (a Tink AEAD
//     keyset, AES-256-GCM, empty associated data).
//
// Either way, a downscoped token expires with the root token it came from.
//
//	b := &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
//		sts.ObjectPrefixRule("my-bucket", "customer-a/", "roles/storage.objectViewer"),
//	}}
//	ts, err := downscope.NewTokenSource(downscope.Config{Source: root, Boundary: b}) // server-side
//
//	m, err := downscope.NewMinter(downscope.Config{Source: root}) // client-side
//	cb, err := downscope.Compile(b)
//	ts := m.TokenSource(cb) // an oauth2.TokenSource for that boundary
//
// Both check each boundary's conditions with a CEL parser, which is why the
// package is separate from github.com/stsgo/sts: it links cel-go, protobuf
// and Tink, which programs that only federate do not need.
package downscope
