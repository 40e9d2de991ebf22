package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	cloudresourcemanager "google.golang.org/api/cloudresourcemanager/v3"
	"google.golang.org/api/option"
)

// childEnv marks the re-executed test binary of TestDebugLoggingEnv.
const childEnv = "STS_INTEGRATION_DEBUG_CHILD"

// TestDebugLoggingEnv runs Google Cloud clients fed by the package's token
// source with GOOGLE_SDK_GO_LOGGING_LEVEL=debug, in a child process (the
// variable makes loggers write to the process's standard error), and checks
// that the debug logs, of this package and of Google's clients, hold no
// token and no subject token.
func TestDebugLoggingEnv(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		debugChild(t)
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestDebugLoggingEnv$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", "GOOGLE_SDK_GO_LOGGING_LEVEL=debug")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	var tokens []string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if tok, ok := strings.CutPrefix(line, "SECRET="); ok {
			tokens = append(tokens, tok)
		}
	}
	if len(tokens) < 2 {
		t.Fatalf("child reported %d secrets:\n%s", len(tokens), stdout.String())
	}
	logs := stderr.String()
	if !strings.Contains(logs, `"message":"sts: request"`) {
		t.Errorf("the package did not log with the variable set:\n%s", logs)
	}
	if !strings.Contains(logs, `"message":"api request"`) {
		t.Errorf("Google's clients did not log with the variable set (the test would prove nothing):\n%s", logs)
	}
	for _, tok := range tokens {
		if strings.Contains(logs, tok) {
			t.Errorf("debug logs hold a secret starting %q", tok[:12])
		}
	}
}

func debugChild(t *testing.T) {
	ts, emu := exchangeSource(t) // built after the variable is set: it logs
	api := newFakeAPI(t, emu, map[string]string{
		"GET /storage/v1/b/demo-bucket": `{"kind":"storage#bucket","name":"demo-bucket"}`,
		"GET /v3/projects/demo-project": `{"name":"projects/1","projectId":"demo-project"}`,
	})
	ctx := context.Background()
	client, err := storage.NewClient(ctx, option.WithTokenSource(ts), option.WithEndpoint(api.URL+"/storage/v1/"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Bucket("demo-bucket").Attrs(ctx); err != nil {
		t.Fatal(err)
	}
	crm, err := cloudresourcemanager.NewService(ctx, option.WithTokenSource(ts), option.WithEndpoint(api.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crm.Projects.Get("projects/demo-project").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("SECRET=%s\n", tok.AccessToken)
	fmt.Printf("SECRET=%s\n", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCIsImV4cCI6NDEwMjQ0NDgwMH0.signature")
}
