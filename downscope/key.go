package downscope

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"sync"

	"github.com/stsgo/sts"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	aesgcmpb "github.com/tink-crypto/tink-go/v2/proto/aes_gcm_go_proto"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/protobuf/proto"
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
	// gcm seals when the keyset's primary key is AES-GCM with the TINK or
	// RAW output prefix (what STS sends): the same ciphertext as aead's,
	// prefix || nonce || sealed boundary || tag, written into a buffer of
	// the caller's instead of a new one. Nil otherwise (aead seals).
	gcm    cipher.AEAD
	prefix []byte // the primary key's output prefix
	// ownNonce: gcm takes a nonce (from nonces), else it draws its own
	// (in FIPS 140-only mode, where a caller's nonce is not allowed).
	ownNonce bool
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
	a, h, err := aeadFromKeyset(raw)
	if err != nil {
		return nil, errBadSessionKey
	}
	k := &SessionKey{aead: a}
	k.gcm, k.prefix, k.ownNonce = primaryGCM(h)
	return k, nil
}

func aeadFromKeyset(raw []byte) (a tink.AEAD, h *keyset.Handle, err error) {
	defer func() {
		if r := recover(); r != nil {
			a, h, err = nil, nil, errBadSessionKey
		}
	}()
	h, err = insecurecleartextkeyset.Read(keyset.NewBinaryReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, nil, err
	}
	a, err = aead.New(h)
	return a, h, err
}

// aesGCMKeyType is the type URL of Tink's AES-GCM keys.
const aesGCMKeyType = "type.googleapis.com/google.crypto.tink.AesGcmKey"

// primaryGCM returns the AES-GCM AEAD of h's primary key, its output prefix,
// and whether the AEAD takes the nonce (12 random bytes, which the
// ciphertext starts with; otherwise it draws and prepends them itself), or
// nil when the primary key is something else (another algorithm, another
// prefix type, a key size Tink's AES-GCM does not use), which tink's AEAD
// then handles.
func primaryGCM(h *keyset.Handle) (gcm cipher.AEAD, prefix []byte, ownNonce bool) {
	ks := insecurecleartextkeyset.KeysetMaterial(h)
	for _, k := range ks.GetKey() {
		if k.GetKeyId() != ks.GetPrimaryKeyId() || k.GetStatus() != tinkpb.KeyStatusType_ENABLED {
			continue
		}
		if k.GetKeyData().GetTypeUrl() != aesGCMKeyType {
			return nil, nil, false
		}
		var key aesgcmpb.AesGcmKey
		if proto.Unmarshal(k.GetKeyData().GetValue(), &key) != nil || key.GetVersion() != 0 {
			return nil, nil, false
		}
		if n := len(key.GetKeyValue()); n != 16 && n != 32 {
			return nil, nil, false
		}
		switch k.GetOutputPrefixType() {
		case tinkpb.OutputPrefixType_TINK:
			prefix = binary.BigEndian.AppendUint32([]byte{1}, k.GetKeyId())
		case tinkpb.OutputPrefixType_RAW:
		default:
			return nil, nil, false
		}
		block, err := aes.NewCipher(key.GetKeyValue())
		if err != nil {
			return nil, nil, false
		}
		if fips140.Enabled() {
			gcm, err := cipher.NewGCMWithRandomNonce(block)
			if err != nil {
				return nil, nil, false
			}
			return gcm, prefix, false
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, nil, false
		}
		return gcm, prefix, true
	}
	return nil, nil, false
}

// nonceSize is the size of the random nonces of Tink's AES-GCM.
const nonceSize = 12

// nonceBatch is how many random bytes a nonce buffer draws at a time.
const nonceBatch = 64 * nonceSize

// nonceBuffer hands out nonces from random bytes drawn from the system a
// batch at a time: crypto/rand for each nonce would cost a system call (or
// vDSO call) and an atomic operation shared by every CPU, most of a mint.
// Each byte is handed out once; a buffer is used by one goroutine at a
// time (it lives in nonces, a sync.Pool, between uses).
type nonceBuffer struct {
	b   [nonceBatch]byte
	off int
}

// next returns the next nonceSize random bytes, valid until the next call.
func (n *nonceBuffer) next() []byte {
	if n.off+nonceSize > len(n.b) {
		_, _ = rand.Read(n.b[:]) // never fails; see crypto/rand.Read
		n.off = 0
	}
	s := n.b[n.off : n.off+nonceSize : n.off+nonceSize]
	n.off += nonceSize
	return s
}

var nonces = sync.Pool{New: func() any { return &nonceBuffer{off: nonceBatch} }}

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
	// The sealed boundary goes to a pooled buffer, its base64 after it,
	// and the token is then built with one allocation.
	buf := sealBuffers.Get().(*[]byte)
	defer sealBuffers.Put(buf)
	var ct []byte
	if k.gcm != nil {
		sealed := len(k.prefix) + nonceSize + len(cb.plaintext) + k.gcm.Overhead()
		if need := sealed + base64.RawURLEncoding.EncodedLen(sealed); cap(*buf) < need {
			*buf = make([]byte, 0, need)
		}
		ct = append((*buf)[:0], k.prefix...)
		if k.ownNonce {
			n := nonces.Get().(*nonceBuffer)
			nonce := n.next()
			ct = k.gcm.Seal(append(ct, nonce...), nonce, cb.plaintext, nil)
			nonces.Put(n)
		} else {
			ct = k.gcm.Seal(ct, nil, cb.plaintext, nil)
		}
	} else {
		var err error
		if ct, err = k.aead.Encrypt(cb.plaintext, nil); err != nil {
			return "", &sts.Error{Op: "mint", Err: errors.New("encrypting the boundary failed")}
		}
	}
	enc := base64.RawURLEncoding.AppendEncode(ct[len(ct):], ct)
	var b strings.Builder
	b.Grow(len(intermediary) + 1 + len(enc))
	b.WriteString(intermediary)
	b.WriteByte('.')
	b.Write(enc)
	return b.String(), nil
}

// sealBuffers hold the sealed boundary and its base64 while a token is
// minted.
var sealBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// decrypt opens a ciphertext sealed with this key (for tests).
func (k *SessionKey) decrypt(ct []byte) ([]byte, error) {
	return k.aead.Decrypt(ct, nil)
}
