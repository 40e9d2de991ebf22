package integration

import (
	"context"
	"testing"

	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/impersonate"
)

// TestStorageWithEveryLayer hands the Cloud Storage client the token source
// of each layer in turn: exchange, impersonation, server-side and
// client-side downscoping.
func TestStorageWithEveryLayer(t *testing.T) {
	root, emu := exchangeSource(t)
	api := newFakeAPI(t, emu, map[string]string{
		"GET /storage/v1/b/demo-bucket": `{"kind":"storage#bucket","name":"demo-bucket"}`,
	})
	imp, err := impersonate.NewTokenSource(impersonate.Config{
		Source: root, URL: emu.ImpersonationURL("reader@demo.iam.gserviceaccount.com"), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	boundary := &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("demo-bucket", "roles/storage.objectViewer")}}
	server, err := downscope.NewTokenSource(downscope.Config{Source: imp, Boundary: boundary, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := downscope.NewMinter(downscope.Config{Source: imp, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := downscope.Compile(boundary)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		ts   oauth2.TokenSource
		kind string
	}{
		{"exchange", root, "exchange"},
		{"impersonated", imp, "impersonated"},
		{"server-side downscoped", server, "downscoped"},
		{"client-side downscoped", m.TokenSource(cb), "intermediary"},
	} {
		t.Run(c.name, func(t *testing.T) {
			client, err := storage.NewClient(ctx, option.WithTokenSource(c.ts), option.WithEndpoint(api.URL+"/storage/v1/"))
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			if _, err := client.Bucket("demo-bucket").Attrs(ctx); err != nil {
				t.Fatal(err)
			}
			api.mu.Lock()
			got := api.kinds[len(api.kinds)-1]
			api.mu.Unlock()
			if got != c.kind {
				t.Errorf("the API got a token of kind %q, want %q", got, c.kind)
			}
		})
	}
}
