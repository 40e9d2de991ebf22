package credfile

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
)

// validFile is an external_account file that loads without I/O.
var validFile = doc(hType, hAud, hSubject, hGoogle, hSource)

func writeAt(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// noMetadata points GCE_METADATA_HOST at a closed loopback port, so that
// no test probes the real network.
func noMetadata(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	t.Setenv(EnvMetadataHost, strings.TrimPrefix(srv.URL, "http://"))
}

func TestWellKnownFilePerSystem(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		goos string
		want string
	}{
		{map[string]string{"HOME": "/home/u"}, "linux", filepath.Join("/home/u", ".config", "gcloud", WellKnownFileName)},
		{map[string]string{"HOME": "/Users/u"}, "darwin", filepath.Join("/Users/u", ".config", "gcloud", WellKnownFileName)},
		{map[string]string{"HOME": "/home/u", EnvCloudSDKConfig: "/etc/gc"}, "linux", filepath.Join("/etc/gc", WellKnownFileName)},
		{map[string]string{"APPDATA": `C:\Users\u\AppData\Roaming`, "HOME": "/ignored"}, "windows", filepath.Join(`C:\Users\u\AppData\Roaming`, "gcloud", WellKnownFileName)},
		{map[string]string{EnvCloudSDKConfig: `D:\gc`, "APPDATA": `C:\x`}, "windows", filepath.Join(`D:\gc`, WellKnownFileName)},
		{nil, "linux", ""},
		{map[string]string{"HOME": "/home/u"}, "windows", ""},
	} {
		if got := wellKnownFile(fixture.EnvMap(tc.env), tc.goos); got != tc.want {
			t.Errorf("%s %v: %q, want %q", tc.goos, tc.env, got, tc.want)
		}
	}
}

// TestDetectOrder: the environment variable wins over the well-known file,
// which wins over the metadata server; each says where it came from.
func TestDetectOrder(t *testing.T) {
	noMetadata(t)
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env.json")
	writeAt(t, envFile, strings.Replace(validFile, "p/providers/x", "p/providers/from-env", 1))
	gcloud := filepath.Join(dir, "gcloud")
	wk := filepath.Join(gcloud, WellKnownFileName)
	writeAt(t, wk, strings.Replace(validFile, "p/providers/x", "p/providers/from-gcloud", 1))
	home := filepath.Join(dir, "home")
	homeFile := filepath.Join(home, ".config", "gcloud", WellKnownFileName)
	writeAt(t, homeFile, strings.Replace(validFile, "p/providers/x", "p/providers/from-home", 1))

	for _, tc := range []struct {
		name   string
		env    map[string]string
		origin Origin
		path   string
		aud    string
	}{
		{"environment", map[string]string{EnvCredentials: envFile, EnvCloudSDKConfig: gcloud, "HOME": home}, FromEnv, envFile, "from-env"},
		{"CLOUDSDK_CONFIG", map[string]string{EnvCloudSDKConfig: gcloud, "HOME": home}, FromWellKnownFile, wk, "from-gcloud"},
		{"HOME", map[string]string{"HOME": home}, FromWellKnownFile, homeFile, "from-home"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Detect(context.Background(), Options{Getenv: fixture.EnvMap(tc.env)})
			if err != nil {
				t.Fatal(err)
			}
			if c.Origin() != tc.origin || c.Path() != tc.path || !strings.HasSuffix(c.Audience(), tc.aud) {
				t.Errorf("origin %v path %q audience %q", c.Origin(), c.Path(), c.Audience())
			}
		})
	}
	if FromEnv.String() != EnvCredentials || FromWellKnownFile.String() != "gcloud well-known file" ||
		FromMetadataServer.String() != "metadata server" || FromCaller.String() != "caller" || Origin(9).String() != "Origin(9)" {
		t.Error("Origin.String")
	}
}

// TestDetectBrokenFileStops: a file that exists but does not load is an
// error naming it; Detect does not go on to the next place.
func TestDetectBrokenFileStops(t *testing.T) {
	noMetadata(t)
	gcloud := t.TempDir()
	wk := filepath.Join(gcloud, WellKnownFileName)
	writeAt(t, wk, `{"type":"external_account","Type":"x"}`)
	_, err := Detect(context.Background(), Options{Getenv: fixture.EnvMap(map[string]string{EnvCloudSDKConfig: gcloud})})
	var ve *sts.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), `credential file "`+wk+`"`) {
		t.Errorf("broken well-known file: %v", err)
	}
	_, err = Detect(context.Background(), Options{Getenv: fixture.EnvMap(map[string]string{EnvCredentials: filepath.Join(gcloud, "missing.json")})})
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNoCredentials) {
		t.Errorf("missing GOOGLE_APPLICATION_CREDENTIALS file: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Detect(ctx, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// metadataServer plays the metadata server on loopback through
// GCE_METADATA_HOST.
func metadataServer(t *testing.T) (*httptest.Server, *atomic.Value) {
	var scopes atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Metadata-Flavor", "Google")
		if r.Header.Get("Metadata-Flavor") != "Google" {
			w.WriteHeader(403)
			return
		}
		switch r.URL.Path {
		case "/computeMetadata/v1/":
			io.WriteString(w, "instance/\n")
		case "/computeMetadata/v1/instance/service-accounts/default/token":
			scopes.Store(r.URL.Query().Get("scopes"))
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"ya29.from-metadata","expires_in":3000,"token_type":"Bearer"}`)
		case "/computeMetadata/v1/instance/service-accounts/default/email":
			io.WriteString(w, robotEmail)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv(EnvMetadataHost, strings.TrimPrefix(srv.URL, "http://"))
	return srv, &scopes
}

func TestDetectMetadataServer(t *testing.T) {
	srv, scopes := metadataServer(t)
	c, err := Detect(context.Background(), Options{Getenv: fixture.EnvMap(map[string]string{"HOME": t.TempDir()}),
		Scopes: []string{"https://www.googleapis.com/auth/devstorage.read_only"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Origin() != FromMetadataServer || c.Type() != TypeMetadataServer || c.Path() != "" || c.ServiceAccount() != robotEmail ||
		c.UniverseDomain() != "googleapis.com" || c.TokenURL() != srv.URL+"/computeMetadata/v1/instance/service-accounts/default/token" {
		t.Errorf("%v origin %v path %q account %q", c, c.Origin(), c.Path(), c.ServiceAccount())
	}
	tok, err := c.TokenSource().Token()
	if err != nil || tok.AccessToken != "ya29.from-metadata" || time.Until(tok.Expiry) < 49*time.Minute {
		t.Fatalf("%+v %v", tok, err)
	}
	if scopes.Load() != "https://www.googleapis.com/auth/devstorage.read_only" {
		t.Errorf("scopes %v", scopes.Load())
	}
	// MetadataProbe < 0: not looked for.
	_, err = Detect(context.Background(), Options{Getenv: fixture.EnvMap(nil), MetadataProbe: -1})
	if !errors.Is(err, ErrNoCredentials) || strings.Contains(err.Error(), "metadata") {
		t.Errorf("probe off: %v", err)
	}
}

// TestDetectNothing: nothing anywhere is an *sts.Error that says what was
// tried; a metadata server that accepts connections and never answers
// costs only the probe's bound.
func TestDetectNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c // held open, never answered
		}
	}()
	defer func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	}()
	t.Setenv(EnvMetadataHost, ln.Addr().String())
	home := t.TempDir()
	_, err = Detect(context.Background(), Options{Getenv: fixture.EnvMap(map[string]string{"HOME": home}), MetadataProbe: 50 * time.Millisecond})
	var se *sts.Error
	want := "sts: detect: no credentials found: GOOGLE_APPLICATION_CREDENTIALS is not set; there is no file " +
		filepath.Join(home, ".config", "gcloud", WellKnownFileName) + "; no metadata server answered within 50ms"
	if !errors.As(err, &se) || se.Op != "detect" || !errors.Is(err, ErrNoCredentials) || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	_, err = Detect(context.Background(), Options{Getenv: fixture.EnvMap(nil), MetadataProbe: -1})
	if err == nil || !strings.Contains(err.Error(), "neither CLOUDSDK_CONFIG nor HOME") {
		t.Errorf("no home: %v", err)
	}
}
