// Package sizeprog holds four small programs, built by TestBinarySize to
// compare what sts and golang.org/x/oauth2/google add to a binary. Each
// does the same job with one library: load a gcloud credential file and
// print a token (*load), or exchange a token file with a configuration
// written in Go (*exchange).
package sizeprog
