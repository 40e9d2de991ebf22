// Command stsload loads a credential file with sts and prints a token.
package main

import (
	"fmt"
	"os"

	"github.com/stsgo/sts/credfile"
)

func main() {
	creds, err := credfile.LoadFile(os.Args[1], credfile.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tok, err := creds.TokenSource().Token()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(tok.AccessToken)
}
