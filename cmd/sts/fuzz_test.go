package main

import (
	"encoding/json"
	"testing"
)

func FuzzReplaceRefreshToken(f *testing.F) {
	f.Add([]byte(`{"type":"external_account_authorized_user","refresh_token":"old","client_id":"c"}`), "new")
	f.Add([]byte(`{}`), "t\u2028<>&\"")
	f.Add([]byte(`{"a":{"b":[1,2,{"c":null}]}}`), "")
	f.Add([]byte(`null`), "x")
	f.Add([]byte(`"str"`), "x")
	f.Fuzz(func(t *testing.T, data []byte, tok string) {
		out, err := replaceRefreshToken(data, tok)
		if err != nil {
			return
		}
		var before, after map[string]json.RawMessage
		if err := json.Unmarshal(data, &before); err != nil {
			t.Fatalf("accepted non-object %q", data)
		}
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("output is not JSON: %v", err)
		}
		var got string
		if err := json.Unmarshal(after["refresh_token"], &got); err != nil {
			t.Fatalf("refresh_token: %v", err)
		}
		want, _ := json.Marshal(tok) // invalid UTF-8 is replaced the same way
		var wantS string
		_ = json.Unmarshal(want, &wantS)
		if got != wantS {
			t.Fatalf("refresh_token %q, want %q", got, wantS)
		}
		if len(after) != len(before)+btoi(before["refresh_token"] == nil) {
			t.Fatalf("members %d -> %d", len(before), len(after))
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
