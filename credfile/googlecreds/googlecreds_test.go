package googlecreds

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/credfile"
)

func load(t *testing.T, data []byte, opts credfile.Options) *credfile.Credentials {
	t.Helper()
	c, err := credfile.Load(data, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "credentials", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFrom(t *testing.T) {
	raw := readTestdata(t, "impersonation.json")
	c := load(t, raw, credfile.Options{})
	g := From(c)
	if g.TokenSource != c.TokenSource() || string(g.JSON) != string(raw) || g.ProjectID != "" {
		t.Errorf("From = %+v", g)
	}
	if ud, err := g.GetUniverseDomain(); err != nil || ud != sts.DefaultUniverseDomain {
		t.Errorf("universe = %q, %v", ud, err)
	}
	var q struct {
		Quota string `json:"quota_project_id"`
	}
	if json.Unmarshal(g.JSON, &q); q.Quota != "example-project" {
		t.Errorf("JSON quota_project_id = %q", q.Quota)
	}
	g.JSON[0] = 'X'
	if From(c).JSON[0] == 'X' {
		t.Error("JSON is shared with the credentials")
	}
}

func TestFromUniverse(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal(readTestdata(t, "oidc-file.json"), &m); err != nil {
		t.Fatal(err)
	}
	m["universe_domain"] = "example-universe.test"
	delete(m, "token_url")
	m["audience"] = "//iam.example-universe.test/locations/global/workforcePools/p/providers/q"
	m["workforce_pool_user_project"] = "proj"
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	g := From(load(t, data, credfile.Options{UniverseDomain: "example-universe.test"}))
	if ud, err := g.GetUniverseDomain(); err != nil || ud != "example-universe.test" {
		t.Errorf("universe = %q, %v", ud, err)
	}
}

func TestFromServiceAccount(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "demo-project", "private_key_id": "kid-1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "robot@demo-project.iam.gserviceaccount.com", "client_id": "1234567890",
	})
	if err != nil {
		t.Fatal(err)
	}
	if g := From(load(t, data, credfile.Options{})); g.ProjectID != "demo-project" {
		t.Errorf("ProjectID = %q", g.ProjectID)
	}
}
