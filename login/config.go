package login

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/httpx"
)

// ConfigFileType is the type of the login configuration files that
// "gcloud iam workforce-pools create-login-config" writes.
const ConfigFileType = "external_account_authorized_user_login_config"

// maxConfigFileSize caps a login configuration file.
const maxConfigFileSize = 1 << 20

// ParseConfig reads a workforce login configuration file (type
// ConfigFileType: audience, auth_url, token_url, token_info_url,
// universe_domain, universe_cloud_web_domain) into a Config. Such files name
// no OAuth client: set ClientID and ClientSecret (and OpenURL) on the result
// before calling Run. When the file has no auth_url but a
// universe_cloud_web_domain, the authorization URL is
// "https://auth.<universe_cloud_web_domain>/authorize".
//
// Problems are *sts.ValidationError naming the JSON field. The endpoints are
// checked (https, or http on a loopback host); everything else is checked by
// Run.
func ParseConfig(data []byte) (*Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var se *json.SyntaxError
		switch {
		case len(strings.TrimSpace(string(data))) == 0:
			return nil, invalid("login configuration", "is empty")
		case errors.As(err, &se):
			return nil, invalid("login configuration", "is not valid JSON (syntax error at offset %d)", se.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, invalid("login configuration", "is truncated JSON")
		}
		return nil, invalid("login configuration", "must be a JSON object")
	}
	if raw == nil {
		return nil, invalid("login configuration", "must be a JSON object")
	}
	str := func(name string) (string, error) {
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			return "", nil
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", invalid(name, "must be a string")
		}
		return strings.TrimSpace(s), nil
	}
	var f struct{ typ, audience, authURL, tokenURL, infoURL, universe, web string }
	for _, x := range []struct {
		name string
		dst  *string
	}{
		{"type", &f.typ}, {"audience", &f.audience}, {"auth_url", &f.authURL}, {"token_url", &f.tokenURL},
		{"token_info_url", &f.infoURL}, {"universe_domain", &f.universe}, {"universe_cloud_web_domain", &f.web},
	} {
		s, err := str(x.name)
		if err != nil {
			return nil, err
		}
		*x.dst = s
	}
	if f.typ != ConfigFileType {
		if f.typ == "" {
			return nil, invalid("type", "must be %q", ConfigFileType)
		}
		return nil, invalid("type", "must be %q, got %q", ConfigFileType, httpx.Truncate(f.typ, 64))
	}
	if f.audience == "" {
		return nil, invalid("audience", "must not be empty")
	}
	if check.Audience("audience", f.audience) != nil || !check.WorkforceAudience(f.audience, "") {
		return nil, invalid("audience", "must name a workforce pool provider")
	}
	if err := check.Universe("universe_domain", f.universe); err != nil {
		return nil, verr(err)
	}
	if f.authURL == "" && f.web != "" {
		if !check.Domain(f.web) {
			return nil, invalid("universe_cloud_web_domain", "%q is not a domain name", httpx.Truncate(f.web, 100))
		}
		f.authURL = "https://auth." + f.web + "/authorize"
	}
	for _, u := range []struct{ field, val string }{{"auth_url", f.authURL}, {"token_url", f.tokenURL}, {"token_info_url", f.infoURL}} {
		if u.val != "" {
			if err := verr(check.Endpoint(u.field, u.val)); err != nil {
				return nil, err
			}
		}
	}
	return &Config{
		Audience:       f.audience,
		AuthURL:        f.authURL,
		TokenURL:       f.tokenURL,
		TokenInfoURL:   f.infoURL,
		UniverseDomain: f.universe,
	}, nil
}

// ReadConfigFile reads a login configuration file (at most 1 MiB) and
// parses it with ParseConfig. An empty path is a *sts.ValidationError; a
// file that cannot be read gives an *sts.Error with Op "load".
func ReadConfigFile(path string) (*Config, error) {
	if path == "" {
		return nil, invalid("path", "must not be empty")
	}
	data, err := fsutil.ReadFileLimited(path, maxConfigFileSize)
	if err != nil {
		return nil, &sts.Error{Op: "load", Err: fmt.Errorf("reading login configuration: %w", err)}
	}
	return ParseConfig(data)
}

// invalid returns a *sts.ValidationError for field with a formatted reason.
func invalid(field, format string, args ...any) *sts.ValidationError {
	return (*sts.ValidationError)(check.Errorf(field, format, args...))
}

// verr converts the result of an internal check, keeping nil an untyped
// nil.
func verr(e *check.Error) error {
	if e == nil {
		return nil
	}
	return (*sts.ValidationError)(e)
}
