package integration

import (
	"context"
	"errors"
	"slices"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/stsgo/sts/ststest"
)

// TestStorageClient passes an exchange token source to the Cloud Storage
// client; the fake JSON API accepts only tokens the emulator issued.
func TestStorageClient(t *testing.T) {
	ts, emu := exchangeSource(t)
	api := newFakeAPI(t, emu, map[string]string{
		"GET /storage/v1/b/demo-bucket":   `{"kind":"storage#bucket","name":"demo-bucket","location":"EU","storageClass":"STANDARD"}`,
		"GET /storage/v1/b/demo-bucket/o": `{"kind":"storage#objects","items":[{"kind":"storage#object","name":"a.txt","bucket":"demo-bucket","size":"3"},{"kind":"storage#object","name":"b.txt","bucket":"demo-bucket","size":"5"}]}`,
	})
	ctx := context.Background()
	client, err := storage.NewClient(ctx, option.WithTokenSource(ts), option.WithEndpoint(api.URL+"/storage/v1/"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	attrs, err := client.Bucket("demo-bucket").Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Name != "demo-bucket" || attrs.Location != "EU" {
		t.Errorf("attrs %+v", attrs)
	}
	var names []string
	it := client.Bucket("demo-bucket").Objects(ctx, nil)
	for {
		o, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, o.Name)
	}
	if !slices.Equal(names, []string{"a.txt", "b.txt"}) {
		t.Errorf("objects %v", names)
	}
	paths, tokens := api.requests()
	if len(paths) != 2 || tokens != 1 {
		t.Errorf("API saw %v with %d distinct tokens; want 2 requests with one cached token", paths, tokens)
	}
	if n := emu.Count("/v1/token"); n != 1 {
		t.Errorf("%d exchanges, want 1 (the cache serves the rest)", n)
	}
}

// TestStorageClientRejectedToken shows the error a Google client reports
// when STS refuses the subject token: the exchange's *sts.Error comes
// through, and no API request is made. The emulator refuses this subject in
// every exchange (not one queued fault), so the outcome does not depend on
// how many exchanges the client stack makes or when: no token can ever be
// obtained, whatever the timing.
func TestStorageClientRejectedToken(t *testing.T) {
	ts, emu := exchangeSourceWith(t, ststest.Options{ValidateSubject: func(string, string) error {
		return errors.New("the subject token was rejected")
	}})
	api := newFakeAPI(t, emu, nil)
	ctx := context.Background()
	client, err := storage.NewClient(ctx, option.WithTokenSource(ts), option.WithEndpoint(api.URL+"/storage/v1/"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, err = client.Bucket("demo-bucket").Attrs(ctx)
	if !isSTSError(err, "invalid_grant") {
		t.Fatalf("want the exchange's invalid_grant *sts.Error, got %v", err)
	}
	if n := emu.Count("/v1/token"); n == 0 {
		t.Error("no exchange was attempted")
	}
	if paths, _ := api.requests(); len(paths) != 0 {
		t.Errorf("API requests made with a token: %v", paths)
	}
}
