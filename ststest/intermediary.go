package ststest

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"sync"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// cabState holds what the server needs to check client-side Credential
// Access Boundary tokens: the session key of every intermediary token it
// issued. Its zero value is ready to use.
type cabState struct {
	mu   sync.Mutex
	keys map[string]tink.AEAD // intermediary token → its session key
}

func (c *cabState) put(token string, a tink.AEAD) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = make(map[string]tink.AEAD)
	}
	c.keys[token] = a
}

func (c *cabState) get(token string) (tink.AEAD, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.keys[token]
	return a, ok
}

// newSessionKey generates a fresh AES-256-GCM keyset with the TINK output
// prefix, as STS does for every intermediary token, and returns its AEAD and
// its serialization in standard base64 (access_boundary_session_key).
func newSessionKey() (tink.AEAD, string, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewBinaryWriter(&buf)); err != nil {
		return nil, "", err
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, "", err
	}
	return a, base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// serveIntermediary answers a validated token exchange whose
// requested_token_type is the access boundary intermediary token type: it
// issues a token of Kind "intermediary" with a fresh session key, returned
// as access_boundary_session_key. Like STS for any access token subject, it
// gives no expires_in: the intermediary token expires with its subject
// (when the subject is a token this server issued; otherwise after the
// configured lifetime, which the client cannot know).
func (s *Server) serveIntermediary(w http.ResponseWriter, req *tokenRequest, info TokenInfo) {
	if req.AccessBoundary != nil {
		writeOAuthError(w, badRequest("options.accessBoundary cannot be combined with requested_token_type %s", typeIntermediary))
		return
	}
	a, key, err := newSessionKey()
	if err != nil {
		writeOAuthError(w, &oauthError{status: http.StatusInternalServerError, code: "server_error", desc: "ststest: could not generate a session key"})
		return
	}
	info.Kind = "intermediary"
	info.Scopes = nil
	info = s.issue(info)
	s.cab.put(info.Token, a)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":                info.Token,
		"issued_token_type":           typeIntermediary,
		"token_type":                  "Bearer",
		"access_boundary_session_key": key,
	})
}
