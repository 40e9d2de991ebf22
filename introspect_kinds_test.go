package sts_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/impersonate"
	"github.com/stsgo/sts/ststest"
)

// TestIntrospectImpersonatedAndClientSideDownscoped introspects the token
// kinds that need other layers: an impersonated token (IAM's, in the
// emulator) and a client-side downscoped token (intermediary "." boundary).
func TestIntrospectImpersonatedAndClientSideDownscoped(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	ctx := context.Background()
	const aud = "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool-1/providers/prov-1"
	root, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.StaticSubject(emu.SubjectJWT("user-42", aud)),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         aud,
		TokenURL:         emu.TokenURL(),
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := sts.IntrospectOptions{URL: emu.IntrospectURL()}

	imp, err := impersonate.NewTokenSource(impersonate.Config{
		Source: root, TargetPrincipal: "sa@proj.iam.gserviceaccount.com",
		URL: emu.ImpersonationURL("sa@proj.iam.gserviceaccount.com"),
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := imp.Token()
	if err != nil {
		t.Fatal(err)
	}
	got, err := sts.Introspect(ctx, tok.AccessToken, opts)
	if err != nil {
		t.Fatal(err)
	}
	info, ok := emu.Lookup(tok.AccessToken)
	if !ok || info.Kind != "impersonated" || !got.Active || got.Subject != info.Subject {
		t.Errorf("impersonated: %v (recorded %v)", got, info)
	}

	m, err := downscope.NewMinter(downscope.Config{Source: root, TokenURL: emu.TokenURL()})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := downscope.Compile(&sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("b1", "roles/storage.objectViewer")}})
	if err != nil {
		t.Fatal(err)
	}
	dtok, err := m.Token(ctx, cb)
	if err != nil {
		t.Fatal(err)
	}
	got, err = sts.Introspect(ctx, dtok.AccessToken, opts)
	if err != nil || !got.Active || got.Subject != "user-42" {
		t.Errorf("client-side downscoped: %v, %v", got, err)
	}
	// A made-up boundary is not active, on a known intermediary or not.
	inter, _, _ := strings.Cut(dtok.AccessToken, ".")
	for _, forged := range []string{"unknown-intermediary.Zm9v", inter + ".Zm9vYmFy", inter + ".!!"} {
		got, err = sts.Introspect(ctx, forged, opts)
		if err != nil || got.Active {
			t.Errorf("forged: %v, %v", got, err)
		}
	}
}
