// Package metaserver serves access tokens, ID tokens and a few identity
// facts over the protocol of the Google Compute Engine metadata server, so
// that programs in any language get credentials from this module's token
// sources without changing a line: every Google client library asks the
// metadata server when it finds no other credentials, and honours the
// GCE_METADATA_HOST environment variable that points it elsewhere.
//
// It is the server behind `sts serve`. A Server is an http.Handler built by
// New from a Config; Listen and ListenUnix open the only listeners it is meant
// for: a loopback address or a Unix socket that only its owner (or a named
// group) may reach.
//
// # What it serves
//
// Under /computeMetadata/v1/ (answers as the real server gives them: a
// Metadata-Flavor: Google header on every answer, text values as
// "application/text", JSON as "application/json", ?alt=json and
// ?recursive=true on directories, a 301 to the slash form for a directory
// named without its trailing slash):
//
//	instance/service-accounts/                   "default/" and "EMAIL/"
//	instance/service-accounts/default/           aliases, email, identity, scopes, token
//	instance/service-accounts/default/token      {"access_token","expires_in","token_type"}
//	instance/service-accounts/default/identity   an ID token for ?audience= (404 when none can be minted)
//	instance/service-accounts/default/email      the service account's email
//	instance/service-accounts/default/scopes     one scope a line
//	project/project-id, project/numeric-project-id  when known (404 otherwise)
//	universe/universe-domain                     "googleapis.com" unless configured
//
// The account may be named "default" or by its email. The root "/" answers
// "computeMetadata/" (the ping some clients use to detect the server).
// ReadinessPath answers 200 "ok" only while a valid access token is held,
// for Kubernetes probes; it is outside the metadata tree and needs no header.
//
// # Security model
//
// A request for the metadata tree is refused with 403 when it lacks the
// header Metadata-Flavor: Google (so a browser page or a server-side request
// forgery that cannot set headers gets nothing), when it carries
// X-Forwarded-For (so a proxy that forwards requests gets nothing), when it
// carries an Origin header (a browser), or when its Host is not one a local
// client uses (so DNS rebinding gets nothing). Only GET and HEAD are
// answered. Tokens are never logged: the log holds method, path (without the
// query), status and duration. A failed refresh answers 503 with a fixed
// text; the error itself goes to the log only. Anyone who can connect gets
// tokens, which is why the server listens only on loopback or on a Unix
// socket with owner (or group) permissions.
package metaserver
