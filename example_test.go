package sts_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/ststest"
)

// The whole pipeline: a subject token from a file is exchanged at STS, the
// result is narrowed by a Credential Access Boundary, and each layer is an
// oauth2.TokenSource that caches and refreshes ahead. The emulator from
// package ststest stands in for STS; in production, leave TokenURL empty.
func Example() {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	aud := "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov"
	dir, _ := os.MkdirTemp("", "sts-example")
	defer os.RemoveAll(dir)
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(emu.SubjectJWT("workload", aud)), 0o600) // as Kubernetes projects it

	// Subject -> exchange -> cache.
	federated, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.FileSubject{Path: tokenFile},
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         aud,
		TokenURL:         emu.TokenURL(),
	})
	if err != nil {
		log.Fatal(err) // a *sts.ValidationError naming the field
	}

	// -> access boundary -> cache: read-only access to one bucket.
	readOnly, err := downscope.NewTokenSource(downscope.Config{
		Source: federated,
		Boundary: &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
			sts.BucketRule("example-bucket", "roles/storage.objectViewer"),
		}},
		TokenURL: emu.TokenURL(),
	})
	if err != nil {
		log.Fatal(err)
	}

	tok, err := readOnly.Token() // hand readOnly to option.WithTokenSource
	if err != nil {
		log.Fatal(err) // an *sts.Error: Op, StatusCode, Code, Description
	}
	info, err := sts.Introspect(context.Background(), tok.AccessToken, sts.IntrospectOptions{URL: emu.IntrospectURL()})
	if err != nil {
		log.Fatal(err)
	}
	canRead, _ := emu.Allows(tok.AccessToken, "storage.objects.get", "//storage.googleapis.com/projects/_/buckets/example-bucket", "")
	canWrite, _ := emu.Allows(tok.AccessToken, "storage.objects.create", "//storage.googleapis.com/projects/_/buckets/example-bucket", "")
	fmt.Println(info.Active, canRead, canWrite, emu.Count("/v1/token"))
	// Output: true true false 2
}

// An ExecutableSubject runs a local command for the subject token, from its
// argv, never through a shell; nothing runs unless the environment allows
// executables.
func ExampleExecutableSubject() {
	subject := sts.ExecutableSubject{
		Command:    []string{"/opt/my idp/bin/fetch-token", "--audience", "gcp"},
		Timeout:    10 * time.Second,
		OutputFile: "/var/cache/idp/token.json",
		// As if GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES were not set. Leave
		// Getenv nil to read the process environment.
		Getenv: func(string) string { return "" },
	}
	_, err := subject.SubjectToken(context.Background(), sts.SubjectRequest{
		Audience:         "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/idp",
		SubjectTokenType: sts.TokenTypeIDToken,
	})
	fmt.Println(err)
	// Output:
	// sts: subject: executable: running credential executables is not allowed; set the environment variable GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 to allow it
}

// A boundary file in the form Google's documentation uses.
func ExampleParseAccessBoundary() {
	b, err := sts.ParseAccessBoundary([]byte(`{
	  "accessBoundary": {
	    "accessBoundaryRules": [{
	      "availableResource": "//storage.googleapis.com/projects/_/buckets/example-bucket",
	      "availablePermissions": ["inRole:roles/storage.objectViewer"]
	    }]
	  }
	}`))
	fmt.Println(len(b.Rules), err)

	_, err = sts.ParseAccessBoundary([]byte(`{"accessBoundary": {"accessBoundaryRules": [{
	  "availableResource": "//storage.googleapis.com/projects/_/buckets/example-bucket",
	  "availablePermissions": ["roles/storage.objectViewer"]}]}}`))
	fmt.Println(err)
	// Output:
	// 1 <nil>
	// sts: invalid accessBoundary.accessBoundaryRules[0].availablePermissions[0]: must have the form "inRole:ROLE", as in "inRole:roles/storage.objectViewer"
}

// Introspecting the current token of a token source (here an exchanged
// token from the emulator): get the token, then ask about it. Unknown and
// expired tokens are inactive results, not errors.
func ExampleIntrospect() {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	ts, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.StaticSubject(emu.SubjectJWT("ci-job", "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool/providers/gitlab")),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool/providers/gitlab",
		TokenURL:         emu.TokenURL(),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	tok, err := ts.TokenContext(ctx)
	if err != nil {
		log.Fatal(err)
	}
	opts := sts.IntrospectOptions{URL: emu.IntrospectURL()}
	info, err := sts.Introspect(ctx, tok.AccessToken, opts)
	if err != nil {
		fmt.Println(err) // an *sts.Error with Op "introspect"
		return
	}
	fmt.Println(info.Active, info.Subject, info.Scopes, info.Expiry.Sub(info.IssuedAt))

	info, err = sts.Introspect(ctx, "a-token-nobody-issued", opts)
	fmt.Println(info.Active, err)
	// Output:
	// true ci-job [https://www.googleapis.com/auth/cloud-platform] 1h0m0s
	// false <nil>
}

// Logging: give a config a *slog.Logger (or set GOOGLE_SDK_GO_LOGGING_LEVEL
// to debug, info, warn or error to log JSON to standard error). Requests,
// responses, retries and refreshes are logged; tokens and secrets never are.
func ExampleConfig_logger() {
	emu := ststest.NewInMemoryServer(ststest.Options{})
	defer emu.Close()
	emu.PushFaults(ststest.UnavailableFault(0)) // one 503, to show a retry

	// Drop the attributes that change from run to run.
	steady := func(_ []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case slog.TimeKey, "elapsed", "expiry", "backoff":
			return slog.Attr{}
		}
		return a
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: steady}))

	ts, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.StaticSubject(emu.SubjectJWT("app", "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/oidc")),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/oidc",
		TokenURL:         emu.TokenURL(),
		HTTPOptions:      sts.HTTPOptions{HTTPClient: emu.Client(), Retry: sts.RetryPolicy{InitialBackoff: time.Millisecond}, Logger: logger},
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// level=DEBUG msg="sts: subject token" source=static
	// level=DEBUG msg="sts: request" op=exchange method=POST url=http://127.0.0.1:0/v1/token attempt=1
	// level=DEBUG msg="sts: response" op=exchange status=503
	// level=DEBUG msg="sts: error response" op=exchange status=503 code=temporarily_unavailable
	// level=INFO msg="sts: retrying" op=exchange attempt=2 cause="sts: exchange: POST http://127.0.0.1:0/v1/token: status 503: temporarily_unavailable: the service is temporarily unavailable"
	// level=DEBUG msg="sts: request" op=exchange method=POST url=http://127.0.0.1:0/v1/token attempt=2
	// level=DEBUG msg="sts: response" op=exchange status=200
	// level=DEBUG msg="sts: token refreshed"
}
