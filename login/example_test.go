package login_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"

	"github.com/stsgo/sts/credfile"
	"github.com/stsgo/sts/login"
	"github.com/stsgo/sts/ststest"
)

// A workforce identity federation browser sign-in against the emulator,
// which approves at once. A real program leaves AuthURL, TokenURL and
// TokenInfoURL empty (Google's endpoints) and opens a browser in OpenURL;
// here the example plays the browser, following the redirect to Run's
// loopback listener.
func ExampleRun() {
	emu := ststest.NewServer(ststest.Options{ClientID: "my-client", ClientSecret: "my-client-secret"})
	defer emu.Close()
	ctx := context.Background()
	res, err := login.Run(ctx, login.Config{
		Audience:     "//iam.googleapis.com/locations/global/workforcePools/corp/providers/okta",
		ClientID:     "my-client",
		ClientSecret: "my-client-secret",
		AuthURL:      emu.AuthorizeURL(),
		TokenURL:     emu.OAuthTokenURL(),
		TokenInfoURL: emu.IntrospectURL(),
		OpenURL: func(authURL string) error {
			resp, err := http.Get(authURL)
			if err != nil {
				return err
			}
			return resp.Body.Close()
		},
	})
	if err != nil {
		fmt.Println(err) // an *sts.Error with Op "login"
		return
	}
	dir, err := os.MkdirTemp("", "sts-login")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "credentials.json")
	if err := res.WriteCredentialsFile(path); err != nil {
		log.Fatal(err)
	}

	// The file is an external_account_authorized_user credential: its token
	// source refreshes with the refresh token the sign-in returned.
	creds, err := credfile.LoadFile(path, credfile.Options{Getenv: func(string) string { return "" }})
	if err != nil {
		log.Fatal(err)
	}
	info, err := creds.Introspect(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fi, _ := os.Stat(path)
	fmt.Println(creds.Type(), fi.Mode().Perm())
	fmt.Println(info.Active, info.Username)
	// Output:
	// external_account_authorized_user -rw-------
	// true user@ststest.example
}
