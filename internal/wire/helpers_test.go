package wire

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFormatLifetime(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Hour: "3600s", 600 * time.Second: "600s", 1500 * time.Millisecond: "1s"} {
		if got := FormatLifetime(d); got != want {
			t.Errorf("FormatLifetime(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestContentTypeIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"": true, "application/json": true, "application/JSON; charset=utf-8": true,
		"application/problem+json": true, "text/html": false, "text/plain; charset=utf-8": false,
	} {
		if got := ContentTypeIsJSON(ct); got != want {
			t.Errorf("ContentTypeIsJSON(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	var v struct {
		Token string `json:"token"`
	}
	if err := DecodeJSON([]byte(`{"token":"x"}`), &v, "token"); err != nil || v.Token != "x" {
		t.Errorf("good JSON: %v, %q", err, v.Token)
	}
	for _, bad := range []string{``, `{`, `{"token":"x"} trailing`, `[1]`, `{"token":1}`, `{"token":"x","token":"y"}`, `{"Token":"x"}`} {
		if err := DecodeJSON([]byte(bad), &v, "token"); err == nil {
			t.Errorf("DecodeJSON(%q): no error", bad)
		}
	}
}

// TestMemberLists: the member names the decoders give decodeJSON are the
// json tags of the structs they decode into, in order.
func TestMemberLists(t *testing.T) {
	for _, tc := range []struct {
		v     any
		names []string
	}{
		{tokenResponseJSON{}, tokenFields[:]},
		{accessTokenJSON{}, accessTokenMembers},
		{introspectionJSON{}, introspectionMembers},
	} {
		typ := reflect.TypeOf(tc.v)
		var tags []string
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			tags = append(tags, name)
		}
		if !slices.Equal(tags, tc.names) {
			t.Errorf("%v: json tags %q, member list %q", typ, tags, tc.names)
		}
	}
}
