package ststest

import (
	"crypto/subtle"
	"net/http"
	"net/url"
)

// The emulator has one client policy, applied by every endpoint that takes
// client credentials (token exchange, introspection, revocation, the
// workforce token endpoint, and the client_id of the authorization
// endpoint):
//
//   - Credentials come from HTTP Basic authentication (each part
//     form-encoded, RFC 6749 section 2.3.1) or, without an Authorization
//     header, from the client_id and client_secret body parameters. Any
//     other Authorization scheme is refused.
//   - With Options.NoClientAuth, any client credentials are refused.
//   - With Options.ClientID set, presented credentials must be that client
//     and Options.ClientSecret; without it, any client ID is accepted (the
//     emulator has no client registry).
//   - A request without credentials is accepted, unless
//     Options.RequireClientAuth is set or the endpoint needs to know the
//     client (the grants and revocations of tokens issued to a client).
//
// Every refusal is 401 invalid_client.

func invalidClient(desc string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: desc}
}

// authClient applies the client policy to r, whose decoded body is form. It
// returns the authenticated client ID, "" when the request carries no client
// credentials and may proceed without them. needClient makes credentials
// required whatever the options.
func (s *Server) authClient(r *http.Request, form url.Values, needClient bool) (string, *oauthError) {
	id, secret, ok := clientBasicAuth(r)
	if !ok && r.Header.Get("Authorization") != "" {
		return "", invalidClient("unsupported client authentication (want HTTP Basic)")
	}
	if !ok && (form.Has("client_id") || form.Has("client_secret")) {
		id, secret, ok = form.Get("client_id"), form.Get("client_secret"), true
	}
	if ok && s.opts.NoClientAuth {
		return "", invalidClient("unexpected client authentication (the emulator accepts no client credentials)")
	}
	if !ok {
		if needClient || s.opts.RequireClientAuth {
			return "", invalidClient("client authentication is required")
		}
		return "", nil
	}
	if id == "" {
		return "", invalidClient("client authentication failed: empty client_id")
	}
	if s.opts.ClientID != "" && !s.isClient(id, secret) {
		return "", invalidClient("client authentication failed")
	}
	return id, nil
}

// isClient reports, in constant time, whether id and secret are the
// configured client's.
func (s *Server) isClient(id, secret string) bool {
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) == 1
	return idOK && secretOK
}

// knownClientID reports whether the authorization endpoint may issue a code
// to clientID under the client policy.
func (s *Server) knownClientID(clientID string) bool {
	if s.opts.NoClientAuth {
		return false
	}
	return s.opts.ClientID == "" || subtle.ConstantTimeCompare([]byte(clientID), []byte(s.opts.ClientID)) == 1
}

// clientBasicAuth reads HTTP Basic client credentials, undoing the
// form-encoding RFC 6749 section 2.3.1 applies to both parts. A part that is
// not valid form-encoding is taken as it is.
func clientBasicAuth(r *http.Request) (id, secret string, ok bool) {
	id, secret, ok = r.BasicAuth()
	if !ok {
		return "", "", false
	}
	if u, err := url.QueryUnescape(id); err == nil {
		id = u
	}
	if u, err := url.QueryUnescape(secret); err == nil {
		secret = u
	}
	return id, secret, true
}
