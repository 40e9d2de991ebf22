package integration_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/oauth2adapt"
	"cloud.google.com/go/storage"
	cloudresourcemanager "google.golang.org/api/cloudresourcemanager/v3"
	"google.golang.org/api/option"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/ststest"
)

// fakeGoogleAPI answers every request with body if it carries a token the
// emulator issued. Real programs talk to Google instead.
func fakeGoogleAPI(emu *ststest.Server, body string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		if _, ok := emu.Lookup(tok); !ok {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"code":401,"message":"unauthenticated","status":"UNAUTHENTICATED"}}`)
			return
		}
		fmt.Fprint(w, body)
	}))
}

// newTokenSource builds the exchange a workload outside Google Cloud would
// use. In production, drop TokenURL and HTTPClient, and read the subject
// token from where your platform puts it (sts.FileSubject, sts.URLSubject…).
func newTokenSource(emu *ststest.Server) *sts.CachedTokenSource {
	ts, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.StaticSubject("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCIsImV4cCI6NDEwMjQ0NDgwMH0.signature"),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/oidc",
		TokenURL:         emu.TokenURL(),
		HTTPOptions:      sts.HTTPOptions{HTTPClient: emu.Client()},
	})
	if err != nil {
		log.Fatal(err)
	}
	return ts
}

// A token source of this package goes to Cloud Storage with
// option.WithTokenSource.
func Example_storage() {
	emu := ststest.NewInMemoryServer(ststest.Options{})
	defer emu.Close()
	api := fakeGoogleAPI(emu, `{"kind":"storage#bucket","name":"my-bucket","location":"EU"}`)
	defer api.Close()

	ctx := context.Background()
	client, err := storage.NewClient(ctx,
		option.WithTokenSource(newTokenSource(emu)),
		option.WithEndpoint(api.URL+"/storage/v1/")) // omit in production
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	attrs, err := client.Bucket("my-bucket").Attrs(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(attrs.Name, attrs.Location)
	// Output: my-bucket EU
}

// Generated clients in google.golang.org/api take the token source the same
// way.
func Example_generatedClient() {
	emu := ststest.NewInMemoryServer(ststest.Options{})
	defer emu.Close()
	api := fakeGoogleAPI(emu, `{"name":"projects/123","projectId":"my-project"}`)
	defer api.Close()

	ctx := context.Background()
	crm, err := cloudresourcemanager.NewService(ctx,
		option.WithTokenSource(newTokenSource(emu)),
		option.WithEndpoint(api.URL+"/")) // omit in production
	if err != nil {
		log.Fatal(err)
	}
	p, err := crm.Projects.Get("projects/my-project").Context(ctx).Do()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.ProjectId, p.Name)
	// Output: my-project projects/123
}

// Libraries built on cloud.google.com/go/auth take an auth.TokenProvider or
// *auth.Credentials; oauth2adapt turns the token source into one.
func Example_authTokenProvider() {
	emu := ststest.NewInMemoryServer(ststest.Options{})
	defer emu.Close()
	api := fakeGoogleAPI(emu, `{"name":"projects/123","projectId":"my-project"}`)
	defer api.Close()

	tp := oauth2adapt.TokenProviderFromTokenSource(newTokenSource(emu))
	creds := auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: tp})

	ctx := context.Background()
	crm, err := cloudresourcemanager.NewService(ctx,
		option.WithAuthCredentials(creds),
		option.WithEndpoint(api.URL+"/")) // omit in production
	if err != nil {
		log.Fatal(err)
	}
	p, err := crm.Projects.Get("projects/my-project").Context(ctx).Do()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.ProjectId)
	// Output: my-project
}
