// Package bench holds side-by-side benchmarks and scenario tests of
// github.com/stsgo/sts against golang.org/x/oauth2 and
// cloud.google.com/go/auth. It is a separate module so that the main module
// never depends on them. See README.md.
package bench
