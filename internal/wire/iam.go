package wire

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stsgo/sts/internal/errs"
)

// GenerateAccessTokenRequest is the JSON body of IAM Credentials'
// projects.serviceAccounts.generateAccessToken.
type GenerateAccessTokenRequest struct {
	Scope     []string `json:"scope"`
	Lifetime  string   `json:"lifetime,omitempty"`
	Delegates []string `json:"delegates,omitempty"`
}

// FormatLifetime renders a lifetime as Google's Duration JSON ("3600s").
func FormatLifetime(d time.Duration) string {
	return fmt.Sprintf("%ds", int64(d/time.Second))
}

// GenerateAccessTokenResponse is a decoded generateAccessToken answer.
type GenerateAccessTokenResponse struct {
	AccessToken string
	ExpireTime  time.Time
}

// DecodeGenerateAccessTokenResponse decodes {"accessToken": …, "expireTime":
// RFC 3339}. The error never quotes the body, which holds the token.
func DecodeGenerateAccessTokenResponse(body []byte) (*GenerateAccessTokenResponse, error) {
	var j accessTokenJSON
	if err := decodeJSON(body, &j, accessTokenMembers...); err != nil {
		return nil, err
	}
	if j.AccessToken == "" {
		return nil, errs.New("response has no accessToken")
	}
	if j.ExpireTime == "" {
		return nil, errs.New("response has no expireTime")
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(j.ExpireTime))
	if err != nil {
		return nil, errs.Errorf("response expireTime %s is not an RFC 3339 time", Quote(j.ExpireTime, 64))
	}
	return &GenerateAccessTokenResponse{AccessToken: j.AccessToken, ExpireTime: t}, nil
}

// accessTokenJSON is a generateAccessToken answer as encoding/json decodes
// it; accessTokenMembers are its members (a test checks them against the
// tags).
type accessTokenJSON struct {
	AccessToken string `json:"accessToken"`
	ExpireTime  string `json:"expireTime"`
}

var accessTokenMembers = []string{"accessToken", "expireTime"}

// GenerateIDTokenRequest is the JSON body of IAM Credentials'
// projects.serviceAccounts.generateIdToken.
type GenerateIDTokenRequest struct {
	Audience     string   `json:"audience"`
	IncludeEmail bool     `json:"includeEmail"`
	Delegates    []string `json:"delegates,omitempty"`
}

// maxIDToken bounds an ID token read from an answer.
const maxIDToken = 64 << 10

// DecodeGenerateIDTokenResponse decodes {"token": JWT} and returns the token
// and its exp claim, read without verifying the signature (the token came
// from IAM over TLS; the expiry only schedules refreshes). A token that is
// not a JWT or has no numeric exp is an error; errors never quote the body
// or the token.
func DecodeGenerateIDTokenResponse(body []byte) (token string, expiry time.Time, err error) {
	var j struct {
		Token string `json:"token"`
	}
	if err := decodeJSON(body, &j, "token"); err != nil {
		return "", time.Time{}, err
	}
	if j.Token == "" {
		return "", time.Time{}, errs.New("response has no token")
	}
	if len(j.Token) > maxIDToken {
		return "", time.Time{}, errs.Errorf("response token is longer than %d bytes", maxIDToken)
	}
	parts := strings.Split(j.Token, ".")
	if len(parts) != 3 {
		return "", time.Time{}, errs.New("response token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", time.Time{}, errs.New("response token payload is not base64url")
	}
	var claims struct {
		Exp json.RawMessage `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return "", time.Time{}, errs.New("response token payload is not a JSON object")
	}
	if len(claims.Exp) == 0 || string(claims.Exp) == "null" {
		return "", time.Time{}, errs.New("response token has no exp claim")
	}
	exp, err := ParseJSONInt(claims.Exp)
	if err != nil || exp <= 0 || exp > time.Now().Add(MaxLifetime).Unix() {
		return "", time.Time{}, errs.New("response token exp claim is not a plausible time")
	}
	return j.Token, time.Unix(exp, 0), nil
}
