package downscope_test

import (
	"context"
	"fmt"
	"log"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/ststest"
)

// Client-side downscoping: one intermediary token from STS, then any
// number of boundaries minted locally.
func Example() {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	root, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.StaticSubject("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhcHAiLCJleHAiOjQxMDI0NDQ4MDB9.c2ln"),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov",
		TokenURL:         emu.TokenURL(),
	})
	if err != nil {
		log.Fatal(err)
	}
	m, err := downscope.NewMinter(downscope.Config{Source: root, TokenURL: emu.TokenURL()})
	if err != nil {
		log.Fatal(err)
	}
	const object = "//storage.googleapis.com/projects/_/buckets/example-bucket/objects/customer-%s/report.csv"
	for _, customer := range []string{"a", "b", "c"} {
		// Compile once per boundary (here, per customer), mint many.
		cb, err := downscope.Compile(&sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
			sts.ObjectPrefixRule("example-bucket", "customer-"+customer+"/", "roles/storage.objectViewer"),
		}})
		if err != nil {
			log.Fatal(err)
		}
		tok, err := m.Token(context.Background(), cb)
		if err != nil {
			log.Fatal(err)
		}
		own, _ := emu.Allows(tok.AccessToken, "storage.objects.get", fmt.Sprintf(object, customer), "")
		other, _ := emu.Allows(tok.AccessToken, "storage.objects.get", fmt.Sprintf(object, "z"), "")
		fmt.Println(customer, own, other)
	}
	fmt.Println("STS requests:", emu.Count("/v1/token"))
	// Output:
	// a true false
	// b true false
	// c true false
	// STS requests: 2
}

// Server-side downscoping: a root credential is narrowed to one prefix of a
// bucket through STS. The downscoped source is cached: asking for a token
// again costs nothing until the token nears expiry.
func ExampleNewTokenSource() {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	// Any oauth2.TokenSource can be the root; here, a federated one.
	root, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.StaticSubject("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhcHAiLCJleHAiOjQxMDI0NDQ4MDB9.c2ln"),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov",
		TokenURL:         emu.TokenURL(),
	})
	if err != nil {
		log.Fatal(err)
	}
	down, err := downscope.NewTokenSource(downscope.Config{
		Source: root,
		Boundary: &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
			sts.ObjectPrefixRule("example-bucket", "customer-a/", "roles/storage.objectViewer"),
		}},
		TokenURL: emu.TokenURL(),
	})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := down.Token()
	if err != nil {
		log.Fatal(err)
	}
	down.Token() // cached
	mine, _ := emu.Allows(tok.AccessToken, "storage.objects.get", "//storage.googleapis.com/projects/_/buckets/example-bucket/objects/customer-a/report.csv", "")
	theirs, _ := emu.Allows(tok.AccessToken, "storage.objects.get", "//storage.googleapis.com/projects/_/buckets/example-bucket/objects/customer-b/report.csv", "")
	fmt.Println(mine, theirs, emu.Count("/v1/token"))
	// Output: true false 2
}
