package downscope

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/stsgo/sts"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// maxSessionKeyLen bounds the encoded session key accepted: one AES-256-GCM
// keyset is about 120 characters; a few rotated keys stay far below this.
const maxSessionKeyLen = 16 << 10

// SessionKey is a parsed access boundary session key: the AEAD that
// encrypts boundaries for one intermediary token. It never reveals the key:
// String, GoString and %v print "REDACTED". Create it with
// ParseSessionKey; it is safe for concurrent use.
type SessionKey struct {
	aead tink.AEAD
}

// errBadSessionKey is the only error a bad key produces: the causes
// reported by the keyset parser could describe key material.
var errBadSessionKey = &sts.ValidationError{Field: "SessionKey", Reason: "not a base64 Tink AEAD keyset"}

// ParseSessionKey parses access_boundary_session_key as STS returns it: the
// standard base64 encoding (padding optional) of a serialized cleartext Tink
// keyset holding an AEAD key (AES-256-GCM with the TINK output prefix, in
// practice). The key comes from STS over TLS, in clear, which is why the
// cleartext keyset reader is the right one here. The error, a
// *sts.ValidationError for the field "SessionKey", never quotes the key.
func ParseSessionKey(encoded string) (*SessionKey, error) {
	if encoded == "" || len(encoded) > maxSessionKeyLen {
		return nil, errBadSessionKey
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(encoded, "="))
		if err != nil {
			return nil, errBadSessionKey
		}
	}
	a, err := aeadFromKeyset(raw)
	if err != nil {
		return nil, errBadSessionKey
	}
	return &SessionKey{aead: a}, nil
}

func aeadFromKeyset(raw []byte) (a tink.AEAD, err error) {
	defer func() {
		if r := recover(); r != nil {
			a, err = nil, errBadSessionKey
		}
	}()
	h, err := insecurecleartextkeyset.Read(keyset.NewBinaryReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, err
	}
	return aead.New(h)
}

// String returns "downscope.SessionKey(REDACTED)".
func (k *SessionKey) String() string { return "downscope.SessionKey(REDACTED)" }

// GoString is String, so %#v redacts too.
func (k *SessionKey) GoString() string { return k.String() }

// Mint returns the client-side downscoped token for intermediary and cb:
// intermediary + "." + base64url(encrypt(boundary)), unpadded, with empty
// associated data. The token is valid as long as intermediary is, and only
// with the intermediary token this key came with.
func (k *SessionKey) Mint(intermediary string, cb *CompiledBoundary) (string, error) {
	if k == nil || k.aead == nil {
		return "", &sts.ValidationError{Field: "SessionKey", Reason: "must not be nil"}
	}
	if cb == nil {
		return "", &sts.ValidationError{Field: "CompiledBoundary", Reason: "must not be nil"}
	}
	if intermediary == "" {
		return "", &sts.ValidationError{Field: "intermediary", Reason: "must not be empty"}
	}
	ct, err := k.aead.Encrypt(cb.plaintext, nil)
	if err != nil {
		return "", &sts.Error{Op: "mint", Err: errors.New("encrypting the boundary failed")}
	}
	var b strings.Builder
	b.Grow(len(intermediary) + 1 + base64.RawURLEncoding.EncodedLen(len(ct)))
	b.WriteString(intermediary)
	b.WriteByte('.')
	enc := base64.NewEncoder(base64.RawURLEncoding, &b)
	_, _ = enc.Write(ct)
	_ = enc.Close()
	return b.String(), nil
}

// decrypt opens a ciphertext sealed with this key (for tests).
func (k *SessionKey) decrypt(ct []byte) ([]byte, error) {
	return k.aead.Decrypt(ct, nil)
}
