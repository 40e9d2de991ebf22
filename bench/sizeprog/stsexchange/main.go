// Command stsexchange exchanges a token file with sts and prints the token.
package main

import (
	"fmt"
	"os"

	"github.com/stsgo/sts"
)

func main() {
	ts, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.FileSubject{Path: os.Args[1]},
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         os.Args[2],
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
