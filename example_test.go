package sts_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/ststest"
)

// Federation from AWS: the subject token is a signed GetCallerIdentity
// request. On EC2, set RegionURL, CredentialsURL and IMDSv2TokenURL from the
// credential file instead; elsewhere, pass the AWS SDK's credentials chain
// (config.LoadDefaultConfig(ctx).Credentials) to get EKS, ECS and SSO roles.
func ExampleAWSSubject() {
	emu := ststest.NewServer(ststest.Options{
		ValidateSubject: func(_, token string) error {
			raw, _ := url.QueryUnescape(token)
			if !strings.Contains(raw, `"method":"POST"`) || !strings.Contains(raw, "x-goog-cloud-target-resource") {
				return fmt.Errorf("not a GetCallerIdentity request")
			}
			return nil
		},
	})
	defer emu.Close()

	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "example-secret-key"}, nil
	})
	ts, err := sts.NewTokenSource(sts.Config{
		Subject:          &sts.AWSSubject{Region: "us-east-2", Credentials: creds},
		SubjectTokenType: sts.TokenTypeAWS4Request,
		Audience:         "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/aws-pool/providers/aws",
		TokenURL:         emu.TokenURL(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := ts.Token()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.Valid(), emu.Count("/v1/token"))
	// Output: true 1
}

// Certificate-based federation: the workload's certificate is the subject
// token, and the exchange goes over mutual TLS with it. The certificate
// configuration is the file gcloud writes; the key pair it names is read
// again whenever it is rotated.
func ExampleX509Subject() {
	_, err := sts.NewTokenSource(sts.Config{
		Subject: &sts.X509Subject{
			CertificateConfigFile: "/etc/workload/certificate_config.json",
			TrustChainFile:        "/etc/workload/chain.pem",
		},
		SubjectTokenType: sts.TokenTypeMTLS,
		Audience:         "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/x509-pool/providers/corp-ca",
		TokenURL:         "https://sts.mtls.googleapis.com/v1/token",
	})
	// Here the files do not exist: construction fails, naming the field.
	fmt.Println(err != nil && strings.Contains(err.Error(), "X509Subject.CertificateConfigFile"))
	// Output: true
}

// An ExecutableSubject runs a local command for the subject token. The command
// line of a credential file is split with quoting honoured and never run
// through a shell; nothing runs unless the environment allows executables.
func ExampleExecutableSubject() {
	argv, err := sts.ParseExecutableCommand(`"/opt/my idp/bin/fetch-token" --audience gcp`)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", argv)

	subject := sts.ExecutableSubject{
		Command:    argv,
		Timeout:    10 * time.Second,
		OutputFile: "/var/cache/idp/token.json",
		// As if GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES were not set. Leave
		// Getenv nil to read the process environment.
		Getenv: func(string) string { return "" },
	}
	_, err = subject.SubjectToken(context.Background(), sts.SubjectRequest{
		Audience:         "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/idp",
		SubjectTokenType: sts.TokenTypeIDToken,
	})
	fmt.Println(err)
	// Output:
	// ["/opt/my idp/bin/fetch-token" "--audience" "gcp"]
	// sts: subject: executable: running credential executables is not allowed; set the environment variable GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 to allow it
}

// Loading a credential configuration file as gcloud writes it: here a
// workload identity pool file with service account impersonation, pointed at
// the emulator. With Google Cloud clients, pass
// option.WithCredentials(creds.GoogleCredentials()) (quota project included)
// or option.WithTokenSource(creds.TokenSource()).
func ExampleLoadCredentials() {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	dir, err := os.MkdirTemp("", "sts-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	tokenFile := filepath.Join(dir, "token")
	// The CI system's OIDC token (minted here by the emulator: a JWT for the provider).
	subject := emu.SubjectJWT("ci-job", "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool/providers/gitlab")
	if err := os.WriteFile(tokenFile, []byte(subject), 0o600); err != nil {
		log.Fatal(err)
	}
	file := fmt.Sprintf(`{
  "type": "external_account",
  "audience": "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool/providers/gitlab",
  "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
  "token_url": %q,
  "service_account_impersonation_url": %q,
  "service_account_impersonation": {"token_lifetime_seconds": 1800},
  "quota_project_id": "example-project",
  "credential_source": {"file": %q}
}`, emu.TokenURL(), emu.ImpersonationURL("deployer@example-project.iam.gserviceaccount.com"), tokenFile)

	creds, err := sts.LoadCredentials([]byte(file), sts.LoadOptions{
		Scopes: []string{"https://www.googleapis.com/auth/devstorage.read_only"},
		// An empty environment keeps the example's output fixed (a set
		// GOOGLE_CLOUD_QUOTA_PROJECT would override quota_project_id).
		Getenv: func(string) string { return "" },
	})
	if err != nil {
		fmt.Println(err) // a *sts.ValidationError naming the JSON field
		return
	}
	tok, err := creds.TokenSource().Token()
	if err != nil {
		fmt.Println(err)
		return
	}
	info, _ := emu.Lookup(tok.AccessToken)
	fmt.Println(creds.ServiceAccount(), creds.QuotaProjectID())
	fmt.Println(info.Kind, info.ExpiresAt.Sub(info.IssuedAt))
	// Output:
	// deployer@example-project.iam.gserviceaccount.com example-project
	// impersonated 30m0s
}

// A bad file fails at load, naming the field.
func ExampleLoadCredentials_validation() {
	_, err := sts.LoadCredentials([]byte(`{
  "type": "external_account",
  "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
  "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
  "credential_source": {"file": "/token", "format": {"type": "json"}}
}`), sts.LoadOptions{})
	var ve *sts.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Field)
	}
	// Output: credential_source.format.subject_token_field_name
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
	// level=DEBUG msg="sts: request" op=exchange method=POST url=http://ststest.localhost/v1/token attempt=1
	// level=DEBUG msg="sts: response" op=exchange status=503
	// level=DEBUG msg="sts: error response" op=exchange status=503 code=temporarily_unavailable
	// level=INFO msg="sts: retrying" op=exchange attempt=2 cause="sts: exchange: POST http://ststest.localhost/v1/token: status 503: temporarily_unavailable: the service is temporarily unavailable"
	// level=DEBUG msg="sts: request" op=exchange method=POST url=http://ststest.localhost/v1/token attempt=2
	// level=DEBUG msg="sts: response" op=exchange status=200
	// level=DEBUG msg="sts: token refreshed"
}
