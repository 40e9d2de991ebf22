package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/credfile"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

// TestStorageCertificateBoundToken: an agent identity's certificate file
// gets a token bound to its certificate; the Cloud Storage client reaches
// an API that checks the binding through the credentials' HTTP client,
// which presents the certificate, and is refused through a client that
// carries the same token without it.
func TestStorageCertificateBoundToken(t *testing.T) {
	f := fixture.NewX509(t)
	f.Rotate(t, "spiffe://agents.global.proj-123.system.id.goog/resources/agent")
	emu := ststest.NewTLSServer(ststest.Options{})
	defer emu.Close()
	var refused atomic.Int32
	api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		ok, err := emu.AllowsRequest(r, "storage.buckets.get", "//storage.googleapis.com/projects/_/buckets/demo-bucket", "")
		if err != nil || !ok {
			refused.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"kind":"storage#bucket","name":"demo-bucket","location":"EU"}`))
	}))
	api.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	api.StartTLS()
	defer api.Close()

	roots := x509.NewCertPool()
	roots.AddCert(emu.Certificate())
	roots.AddCert(api.Certificate())
	base := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	file, _ := json.Marshal(map[string]any{
		"type":               "external_account",
		"audience":           "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/agents/providers/x509",
		"subject_token_type": "urn:ietf:params:oauth:token-type:mtls",
		"token_url":          emu.TokenURL(),
		"credential_source":  map[string]any{"certificate": map[string]any{"certificate_config_location": f.Config}},
	})
	creds, err := credfile.Load(file, credfile.Options{
		HTTPOptions: sts.HTTPOptions{HTTPClient: base},
		Getenv:      func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, err := creds.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := emu.Lookup(tok.AccessToken); info.CertFingerprint == "" {
		t.Fatal("the agent identity's token is not bound")
	}

	client, err := storage.NewClient(ctx, option.WithHTTPClient(creds.HTTPClient(base)), option.WithEndpoint(api.URL+"/storage/v1/"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	attrs, err := client.Bucket("demo-bucket").Attrs(ctx)
	if err != nil || attrs.Name != "demo-bucket" {
		t.Fatalf("with the certificate: %v, %v", attrs, err)
	}

	plain := &http.Client{Transport: &oauth2.Transport{Source: creds.TokenSource(), Base: base.Transport}}
	noCert, err := storage.NewClient(ctx, option.WithHTTPClient(plain), option.WithEndpoint(api.URL+"/storage/v1/"))
	if err != nil {
		t.Fatal(err)
	}
	defer noCert.Close()
	_, err = noCert.Bucket("demo-bucket").Attrs(ctx)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("without the certificate: %v; want 401", err)
	}
	if refused.Load() == 0 {
		t.Error("the API refused nothing")
	}
}
