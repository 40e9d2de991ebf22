package metaserver_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/metaserver"
)

// A metadata server on loopback over any token source; programs then run
// with GCE_METADATA_HOST set to its address.
func Example() {
	// In a real program: an sts.CachedTokenSource (an exchange, an
	// impersonation, a downscoped source, …).
	src := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "example-token", Expiry: time.Now().Add(time.Hour)})
	s, err := metaserver.New(metaserver.Config{
		TokenSource: src,
		Email:       "runner@example-project.iam.gserviceaccount.com",
		ProjectID:   "example-project",
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := metaserver.Listen("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Println("GCE_METADATA_HOST=127.0.0.1:PORT") // ln.Addr().String()

	// What a client library does:
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/computeMetadata/v1/project/project-id", nil)
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Metadata-Flavor"), string(body))
	http.DefaultClient.CloseIdleConnections()
	// Output:
	// GCE_METADATA_HOST=127.0.0.1:PORT
	// 200 OK Google example-project
}
