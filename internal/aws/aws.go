// Package aws builds the AWS subject token of Google's workload identity
// federation (a serialized, SigV4-signed GetCallerIdentity request) and
// parses the role credentials served by the EC2 instance metadata service.
//
// It holds no state and does no I/O; the root package fetches, caches and
// reports errors.
package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stsgo/sts/internal/errs"
)

// Service is the SigV4 signing name of AWS STS, which GetCallerIdentity
// belongs to whatever the endpoint's host name is.
const Service = "sts"

// emptyPayloadHash is the hex SHA-256 of an empty body: GetCallerIdentity
// carries its parameters in the query string.
var emptyPayloadHash = func() string {
	h := sha256.Sum256(nil)
	return hex.EncodeToString(h[:])
}()

// Header is one header of the serialized request.
type Header struct {
	// Not comparable, so that no equality function is linked for it.
	_     [0]func()
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Request is the JSON form Google's STS expects as an AWS subject token.
type Request struct {
	URL     string   `json:"url"`
	Method  string   `json:"method"`
	Headers []Header `json:"headers"`
}

// SubjectToken signs a POST to verificationURL (region already substituted)
// with creds at time now, including the header x-goog-cloud-target-resource
// (when target is not empty), and returns the query-escaped JSON that Google's
// STS accepts as an aws4_request subject token.
//
// Errors never contain the secret key or the session token.
func SubjectToken(ctx context.Context, creds sdkaws.Credentials, region, verificationURL, target string, now time.Time) (string, error) {
	r, err := Sign(ctx, creds, region, verificationURL, target, now)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	return url.QueryEscape(string(b)), nil
}

// Sign builds the signed request that SubjectToken serializes. The headers are
// Authorization, host, x-amz-date, x-amz-security-token (only with a session
// token) and x-goog-cloud-target-resource (only with a target), in that order.
func Sign(ctx context.Context, creds sdkaws.Credentials, region, verificationURL, target string, now time.Time) (*Request, error) {
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return nil, errs.New("aws credentials need an access key id and a secret access key")
	}
	if !ValidRegion(region) {
		return nil, errs.Errorf("invalid aws region %q", region)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, verificationURL, nil)
	if err != nil {
		return nil, errs.New("invalid regional credential verification url")
	}
	if req.URL.Host == "" {
		return nil, errs.New("regional credential verification url has no host")
	}
	if target != "" {
		req.Header.Set("x-goog-cloud-target-resource", target)
	}
	signer := v4.NewSigner()
	if err := signer.SignHTTP(ctx, creds, req, emptyPayloadHash, Service, region, now.UTC()); err != nil {
		return nil, errs.New("signing the GetCallerIdentity request failed")
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	// The headers in Google's order, their keys' byte order (upper case
	// first), which is the order they are appended in.
	out := &Request{URL: verificationURL, Method: http.MethodPost}
	out.Headers = append(make([]Header, 0, 5),
		Header{Key: "Authorization", Value: req.Header.Get("Authorization")},
		Header{Key: "host", Value: host},
		Header{Key: "x-amz-date", Value: req.Header.Get("X-Amz-Date")},
	)
	if creds.SessionToken != "" {
		out.Headers = append(out.Headers, Header{Key: "x-amz-security-token", Value: creds.SessionToken})
	}
	if target != "" {
		out.Headers = append(out.Headers, Header{Key: "x-goog-cloud-target-resource", Value: target})
	}
	return out, nil
}

// ValidRegion reports whether s looks like an AWS region name ("us-east-1",
// "cn-north-1", "us-gov-west-1"): lower-case letters, digits and dashes, so
// that it is safe to place in a host name.
func ValidRegion(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidRoleName reports whether s is an IAM role name: 1 to 64 characters,
// each a letter, a digit or one of "+=,.@_-".
func ValidRoleName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("+=,.@_-", c)) {
			return false
		}
	}
	return true
}

// RegionFromZone turns an availability zone ("us-east-2b") into its region
// ("us-east-2") by dropping the zone letter, as the metadata service's
// placement/availability-zone answers with a zone. Surrounding white space is
// ignored. It reports false when the result is not a valid region.
func RegionFromZone(zone string) (string, bool) {
	zone = strings.TrimSpace(zone)
	if len(zone) < 2 {
		return "", false
	}
	last := zone[len(zone)-1]
	if last < 'a' || last > 'z' {
		return "", false
	}
	region := zone[:len(zone)-1]
	return region, ValidRegion(region)
}

// MetadataCredentials are the role credentials the instance metadata service
// serves at .../iam/security-credentials/<role>.
type MetadataCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Expires is the credentials' expiry, or the zero time when the
	// document gave none.
	Expires time.Time
}

// String describes the credentials without their secrets.
func (c MetadataCredentials) String() string {
	return fmt.Sprintf("aws credentials %s (expires %s)", c.AccessKeyID, c.Expires.Format(time.RFC3339))
}

// GoString is String, so that %#v cannot reveal the secrets either.
func (c MetadataCredentials) GoString() string { return c.String() }

// ParseMetadataCredentials decodes the JSON document of the metadata
// service's role credentials endpoint:
//
//	{"Code":"Success","LastUpdated":"…","Type":"AWS-HMAC","AccessKeyId":"…",
//	 "SecretAccessKey":"…","Token":"…","Expiration":"2026-01-02T15:04:05Z"}
//
// AccessKeyId and SecretAccessKey are required; Code, when present, must be
// "Success"; Expiration, when present, must be RFC 3339. Errors never quote
// the document, which holds secrets.
func ParseMetadataCredentials(data []byte) (MetadataCredentials, error) {
	var doc struct {
		Code            *string `json:"Code"`
		AccessKeyID     string  `json:"AccessKeyId"`
		SecretAccessKey string  `json:"SecretAccessKey"`
		Token           string  `json:"Token"`
		Expiration      string  `json:"Expiration"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return MetadataCredentials{}, errs.New("aws metadata credentials are not a JSON object")
	}
	if doc.Code != nil && *doc.Code != "Success" {
		return MetadataCredentials{}, errs.Errorf("aws metadata credentials have code %q", truncate(*doc.Code, 64))
	}
	if doc.AccessKeyID == "" {
		return MetadataCredentials{}, errs.New("aws metadata credentials lack AccessKeyId")
	}
	if doc.SecretAccessKey == "" {
		return MetadataCredentials{}, errs.New("aws metadata credentials lack SecretAccessKey")
	}
	c := MetadataCredentials{AccessKeyID: doc.AccessKeyID, SecretAccessKey: doc.SecretAccessKey, SessionToken: doc.Token}
	if doc.Expiration != "" {
		t, err := time.Parse(time.RFC3339, doc.Expiration)
		if err != nil {
			return MetadataCredentials{}, errs.New("aws metadata credentials have an Expiration that is not RFC 3339")
		}
		c.Expires = t
	}
	return c, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
