// Package sts gives Go programs composable [oauth2.TokenSource]s for Google's
// Security Token Service (STS): it exchanges a token a workload already has
// (from Kubernetes, AWS, Azure, GitHub Actions, an executable, a certificate
// or any other token source) for a Google access token, by the RFC 8693
// token exchange, and keeps that token fresh.
//
// # The pipeline
//
// Each box is a value that can be built alone and plugged into the next:
//
//	subject-token provider ──► STS exchange ──► [impersonation] ──► [access boundary] ──► cache ──► oauth2.TokenSource
//	(FileSubject, URLSubject,   NewTokenSource    package             package downscope      CachedTokenSource
//	 ExecutableSubject, …)                        impersonate        (server or client side)
//
// This package holds the light core: the exchange ([NewTokenSource] with a
// [Config]), the subject providers that need no heavy dependency
// ([FileSubject], [URLSubject], [ExecutableSubject], [StaticSubject],
// [TokenSourceSubject], [MetadataSubject], [SubjectTokenFunc]), the
// refresh-ahead cache ([CachedTokenSource], which wraps any token source),
// Credential Access Boundary values ([AccessBoundary]), introspection
// ([Introspect]) and the error types ([Error], [ValidationError]). It
// depends on the standard library, golang.org/x/oauth2 and
// cloud.google.com/go/compute/metadata only.
//
// Other packages of this module add what is heavier or separate; each
// imports this one, never the reverse:
//
//   - credfile: reads the credential files gcloud writes and finds
//     credentials the way Google's libraries do (Application Default
//     Credentials).
//   - impersonate: service account impersonation (IAM Credentials) over any
//     token source, for access tokens and ID tokens.
//   - downscope: Credential Access Boundaries, server-side through STS and
//     client-side by minting tokens locally.
//   - awssubject, x509subject, githubactions: subject providers for AWS
//     (signed with the AWS SDK), X.509 certificates over mutual TLS, and
//     GitHub Actions' OIDC tokens.
//   - login: sign-in to a workforce identity pool in a browser.
//   - metaserver: the GCE metadata-server protocol, so that programs in any
//     language get this package's tokens (the sts serve command).
//   - ststest: an in-process STS emulator for tests.
//
// # What every token source here does
//
// A configuration is checked when the source is built: a mistake is a
// *[ValidationError] naming the field, never a failure at the first Token
// call. A token is served from memory while fresh; in the last part of its
// lifetime one background refresh replaces it while callers keep getting the
// current one, and only a token that is actually expired makes callers wait,
// all of them for one shared exchange. Temporary failures (network errors,
// 408, 429, 5xx) are retried with jittered backoff that honours Retry-After;
// permanent ones are not, and are remembered briefly so that a loop of
// callers cannot hammer STS. Every request and every executable run has a
// deadline and every answer a size limit. Failures are *[Error] values. No
// secret (subject token, access token, client secret, session key) appears
// in an error, a log record or any formatted output. Logging goes to a
// [Logger] (a *slog.Logger usually) and is off unless configured (see
// [HTTPOptions]).
package sts
