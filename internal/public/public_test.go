package public

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/refresh"
)

func TestConversions(t *testing.T) {
	he := &httpx.Error{Op: "exchange", StatusCode: 400, Code: "invalid_grant"}
	if se, ok := Err(he).(*sts.Error); !ok || se.Code != "invalid_grant" || se.Error() != he.Error() {
		t.Errorf("Err(httpx) = %#v", Err(he))
	}
	ce := check.Errorf("downscope.Config.TokenURL", "must be https")
	if ve, ok := Err(ce).(*sts.ValidationError); !ok || ve.Field != "downscope.Config.TokenURL" {
		t.Errorf("Err(check) = %#v", Err(ce))
	}
	if ve, ok := Invalid(ce).(*sts.ValidationError); !ok || ve.Reason != "must be https" {
		t.Errorf("Invalid = %#v", Invalid(ce))
	}
	plain := errors.New("plain")
	if Err(plain) != plain || Err(nil) != nil || Invalid(nil) != nil {
		t.Error("other errors and nil are not kept")
	}
	for err, want := range map[error]bool{
		(*sts.Error)(he):                       true,
		fmt.Errorf("wrapped: %w", Invalid(ce)): true,
		he:                                     false,
		plain:                                  false,
	} {
		if Is(err) != want {
			t.Errorf("Is(%v) = %v, want %v", err, !want, want)
		}
	}
}

func TestRecall(t *testing.T) {
	orig := &sts.Error{Op: "exchange", StatusCode: 400, Code: "invalid_grant", Description: "bad subject"}
	r := &refresh.Recalled{Err: orig, Wait: 2500 * time.Millisecond}
	got, ok := Recall(r).(*sts.Error)
	if !ok {
		t.Fatalf("Recall(*sts.Error) = %T, want *sts.Error", Recall(r))
	}
	if got == orig || got.Code != orig.Code || got.StatusCode != orig.StatusCode || got.Op != orig.Op {
		t.Errorf("Recall = %#v, want a copy of %#v", got, orig)
	}
	if !errors.Is(got, orig) {
		t.Error("the recalled copy does not unwrap to the original")
	}
	if msg := got.Error(); !strings.HasSuffix(msg, "(cached failure, retry after 3s)") || strings.Count(msg, "cached failure") != 1 {
		t.Errorf("text %q, want one note, rounded up to whole seconds", msg)
	}
	// Remembered again by an outer cache: still one note.
	again, _ := Recall(&refresh.Recalled{Err: got, Wait: 40 * time.Millisecond}).(*sts.Error)
	if again == nil || strings.Count(again.Error(), "cached failure") != 1 || !strings.HasSuffix(again.Error(), "retry after 40ms)") {
		t.Errorf("recalled twice: %v", again)
	}

	// Another failure stays the *refresh.Recalled.
	other := &refresh.Recalled{Err: errors.New("source broke"), Wait: time.Second}
	if Recall(other) != error(other) {
		t.Errorf("Recall(other) = %#v, want the Recalled itself", Recall(other))
	}
}
