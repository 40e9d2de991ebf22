package executable

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"error: permission denied", "error: permission denied"},
		{"token " + secretToken + " rejected", "token " + Redacted + " rejected"},
		{"bearer eyJhbGciOi", "bearer " + Redacted},
		{"key=" + strings.Repeat("QUJD", 10), Redacted},
		{"secret: aB3dE5gH7jK9mN1p", "secret: " + Redacted},
		{"file /etc/idp/config.json not found", "file /etc/idp/config.json not found"},
		{"line1\nline2\x1b[31m\u202e", "line1 line2 [31m "},
		{"bad \xff utf8", "bad \uFFFD utf8"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClip(t *testing.T) {
	s := strings.Repeat("é", 200)
	c := clip(s, 255)
	if !utf8.ValidString(c) || len(c) > 255+len("…") {
		t.Fatalf("clip gave %d bytes, valid %t", len(c), utf8.ValidString(c))
	}
	if clip("short", 10) != "short" {
		t.Fatal("clip changed a short string")
	}
}
