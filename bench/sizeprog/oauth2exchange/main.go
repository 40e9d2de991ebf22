// Command oauth2exchange exchanges a token file with
// golang.org/x/oauth2/google/externalaccount and prints the token.
package main

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/oauth2/google/externalaccount"
)

func main() {
	ts, err := externalaccount.NewTokenSource(context.Background(), externalaccount.Config{
		Audience:         os.Args[2],
		SubjectTokenType: "urn:ietf:params:oauth:token-type:jwt",
		TokenURL:         "https://sts.googleapis.com/v1/token",
		Scopes:           []string{"https://www.googleapis.com/auth/cloud-platform"},
		CredentialSource: &externalaccount.CredentialSource{File: os.Args[1]},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tok, err := ts.Token()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(tok.AccessToken)
}
