package ststest_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stsgo/sts/ststest"
)

func TestClientAuth(t *testing.T) {
	tests := []struct {
		name       string
		require    bool
		id, secret string // Basic credentials; id "" means none
		inBody     bool
		status     int
	}{
		{name: "no credentials", status: 200},
		{name: "right credentials", id: "client", secret: "s3cret", status: 200},
		{name: "wrong secret", id: "client", secret: "nope", status: 401},
		{name: "wrong id", id: "other", secret: "s3cret", status: 401},
		{name: "right credentials in body", id: "client", secret: "s3cret", inBody: true, status: 200},
		{name: "wrong credentials in body", id: "client", secret: "bad", inBody: true, status: 401},
		{name: "required and missing", require: true, status: 401},
		{name: "required and present", require: true, id: "client", secret: "s3cret", status: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ststest.NewInMemoryServer(ststest.Options{ClientID: "client", ClientSecret: "s3cret", RequireClientAuth: tc.require})
			defer s.Close()
			form := exchangeForm()
			if tc.inBody {
				form.Set("client_id", tc.id)
				form.Set("client_secret", tc.secret)
			}
			req, _ := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.id != "" && !tc.inBody {
				req.SetBasicAuth(tc.id, tc.secret)
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			wwwAuth := resp.Header.Get("WWW-Authenticate")
			status, tr := decode(t, resp)
			if status != tc.status {
				t.Fatalf("status %d (%+v), want %d", status, tr, tc.status)
			}
			if status == 401 {
				if tr.Error != "invalid_client" || wwwAuth == "" {
					t.Fatalf("401 answer: %+v, WWW-Authenticate %q", tr, wwwAuth)
				}
				if strings.Contains(tr.ErrorDescription, "s3cret") || (tc.secret != "" && strings.Contains(tr.ErrorDescription, tc.secret)) {
					t.Fatal("error description leaks the secret")
				}
			}
		})
	}
}

func TestBearerAuthorizationRejected(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{ClientID: "client", ClientSecret: "s3cret"})
	defer s.Close()
	req, _ := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(exchangeForm().Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer abc")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if status, tr := decode(t, resp); status != 401 || tr.Error != "invalid_client" {
		t.Fatalf("got %d %+v", status, tr)
	}
}

func TestValidateSubject(t *testing.T) {
	var gotType, gotToken string
	s := ststest.NewInMemoryServer(ststest.Options{ValidateSubject: func(typ, tok string) error {
		gotType, gotToken = typ, tok
		if tok != testJWT {
			return errors.New("the subject token is not valid for this provider")
		}
		return nil
	}})
	defer s.Close()
	status, tr := postForm(t, s.Client(), s.TokenURL(), exchangeForm())
	if status != 200 || gotType != ttJWT || gotToken != testJWT {
		t.Fatalf("status %d, validator saw %q %q", status, gotType, gotToken)
	}
	form := exchangeForm()
	form.Set("subject_token", s.SubjectJWT("someone-else", workloadAud))
	status, tr = postForm(t, s.Client(), s.TokenURL(), form)
	if status != 400 || tr.Error != "invalid_grant" || tr.ErrorDescription != "the subject token is not valid for this provider" {
		t.Fatalf("got %d %+v", status, tr)
	}
	// The emulator's own checks come first.
	gotToken = ""
	form.Set("subject_token", "not-a-jwt")
	if status, tr = postForm(t, s.Client(), s.TokenURL(), form); status != 400 || tr.ErrorDescription != "Unable to parse the ID Token." || gotToken != "" {
		t.Fatalf("got %d %+v, validator saw %q", status, tr, gotToken)
	}
}

func TestOptionsString(t *testing.T) {
	o := ststest.Options{ClientID: "client", ClientSecret: "s3cret"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, o); strings.Contains(out, "s3cret") {
			t.Errorf("%s leaks the secret: %s", f, out)
		}
	}
}

func TestUnexpectedClientAuth(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{NoClientAuth: true})
	defer s.Close()
	for _, mod := range []func(*http.Request){
		func(r *http.Request) { r.SetBasicAuth("client", "secret") },
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") },
	} {
		req, _ := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(exchangeForm().Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		mod(req)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if status, tr := decode(t, resp); status != 401 || tr.Error != "invalid_client" {
			t.Fatalf("got %d %+v", status, tr)
		}
	}
	form := exchangeForm()
	form.Set("client_id", "client")
	if status, tr := postForm(t, s.Client(), s.TokenURL(), form); status != 401 || tr.Error != "invalid_client" {
		t.Fatalf("client_id in body: %d %+v", status, tr)
	}
}
