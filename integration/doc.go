// Package integration shows the token sources of github.com/stsgo/sts at
// work with Google Cloud's Go clients: cloud.google.com/go/storage, a
// generated google.golang.org/api client, and, through
// cloud.google.com/go/auth/oauth2adapt, anything that takes a
// cloud.google.com/go/auth TokenProvider or Credentials.
//
// It is a separate module so that the sts module never depends on those
// clients. Its examples and tests run against loopback servers only: the
// ststest emulator plays STS, and small httptest servers play the Google
// APIs, checking that each request carries a token the emulator issued.
//
// The package has no API of its own; read example_test.go.
package integration
