package public

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
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
