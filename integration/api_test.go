package integration

import (
	"context"
	"testing"

	cloudresourcemanager "google.golang.org/api/cloudresourcemanager/v3"
	"google.golang.org/api/option"
)

// TestGeneratedAPIClient passes an exchange token source to a client
// generated in google.golang.org/api, with a quota project.
func TestGeneratedAPIClient(t *testing.T) {
	ts, emu := exchangeSource(t)
	api := newFakeAPI(t, emu, map[string]string{
		"GET /v3/projects/demo-project": `{"name":"projects/123456789","projectId":"demo-project","state":"ACTIVE","displayName":"Demo"}`,
	})
	ctx := context.Background()
	crm, err := cloudresourcemanager.NewService(ctx,
		option.WithTokenSource(ts),
		option.WithEndpoint(api.URL+"/"),
		option.WithQuotaProject("billing-project"))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		p, err := crm.Projects.Get("projects/demo-project").Context(ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		if p.ProjectId != "demo-project" || p.Name != "projects/123456789" {
			t.Errorf("project %+v", p)
		}
	}
	paths, tokens := api.requests()
	if len(paths) != 3 || tokens != 1 || emu.Count("/v1/token") != 1 {
		t.Errorf("API saw %v with %d tokens after %d exchanges; want 3 requests, 1 token, 1 exchange", paths, tokens, emu.Count("/v1/token"))
	}
	api.mu.Lock()
	quota := api.quota
	api.mu.Unlock()
	if len(quota) != 3 || quota[0] != "billing-project" {
		t.Errorf("x-goog-user-project values %v", quota)
	}
}
