package wire

import (
	"errors"
	"fmt"
	"strings"
	"time"
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
	var j struct {
		AccessToken string `json:"accessToken"`
		ExpireTime  string `json:"expireTime"`
	}
	if err := decodeJSON(body, &j); err != nil {
		return nil, err
	}
	if j.AccessToken == "" {
		return nil, errors.New("response has no accessToken")
	}
	if j.ExpireTime == "" {
		return nil, errors.New("response has no expireTime")
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(j.ExpireTime))
	if err != nil {
		return nil, fmt.Errorf("response expireTime %q is not an RFC 3339 time", truncate(clean(j.ExpireTime, 64), 64))
	}
	return &GenerateAccessTokenResponse{AccessToken: j.AccessToken, ExpireTime: t}, nil
}
