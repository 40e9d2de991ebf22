package aws

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
)

// Published test values of Google's auth libraries for the GetCallerIdentity
// request (fixed keys, fixed clock, expected signatures).
const (
	vecAccessKeyID = "ASIARD4OQDT6A77FR3CL"
	vecSecret      = "Y8AfSaucF37G4PpvfguKZ3/l7Id4uocLXxX0+VTx"
	vecToken       = "IQoJb3JpZ2luX2VjEIz//////////wEaCXVzLWVhc3QtMiJGMEQCIH7MHX/Oy/OB8OlLQa9GrqU1B914+iMikqWQW7vPCKlgAiA/Lsv8Jcafn14owfxXn95FURZNKaaphj0ykpmS+Ki+CSq0AwhlEAAaDDA3NzA3MTM5MTk5NiIMx9sAeP1ovlMTMKLjKpEDwuJQg41/QUKx0laTZYjPlQvjwSqS3OB9P1KAXPWSLkliVMMqaHqelvMF/WO/glv3KwuTfQsavRNs3v5pcSEm4SPO3l7mCs7KrQUHwGP0neZhIKxEXy+Ls//1C/Bqt53NL+LSbaGv6RPHaX82laz2qElphg95aVLdYgIFY6JWV5fzyjgnhz0DQmy62/Vi8pNcM2/VnxeCQ8CC8dRDSt52ry2v+nc77vstuI9xV5k8mPtnaPoJDRANh0bjwY5Sdwkbp+mGRUJBAQRlNgHUJusefXQgVKBCiyJY4w3Csd8Bgj9IyDV+Azuy1jQqfFZWgP68LSz5bURyIjlWDQunO82stZ0BgplKKAa/KJHBPCp8Qi6i99uy7qh76FQAqgVTsnDuU6fGpHDcsDSGoCls2HgZjZFPeOj8mmRhFk1Xqvkbjuz8V1cJk54d3gIJvQt8gD2D6yJQZecnuGWd5K2e2HohvCc8Fc9kBl1300nUJPV+k4tr/A5R/0QfEKOZL1/k5lf1g9CREnrM8LVkGxCgdYMxLQow1uTL+QU67AHRRSp5PhhGX4Rek+01vdYSnJCMaPhSEgcLqDlQkhk6MPsyT91QMXcWmyO+cAZwUPwnRamFepuP4K8k2KVXs/LIJHLELwAZ0ekyaS7CptgOqS7uaSTFG3U+vzFZLEnGvWQ7y9IPNQZ+Dffgh4p3vF4J68y9049sI6Sr5d5wbKkcbm8hdCDHZcv4lnqohquPirLiFQ3q7B17V9krMPu3mz1cg4Ekgcrn/E09NTsxAqD8NcZ7C7ECom9r+X3zkDOxaajW6hu3Az8hGlyylDaMiFfRbBJpTIlxp7jfa7CxikNgNtEKLH9iCzvuSg2vhA=="
	vecURL         = "https://sts.us-east-2.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
)

var vecTime = time.Date(2020, 8, 11, 6, 55, 22, 0, time.UTC)

func TestSignKnownAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, token, signedHeaders, signature string
	}{
		{"session token", vecToken, "host;x-amz-date;x-amz-security-token", "73452984e4a880ffdc5c392355733ec3f5ba310d5e0609a89244440cadfe7a7a"},
		{"no session token", "", "host;x-amz-date", "d095ba304919cd0d5570ba8a3787884ee78b860f268ed040ba23831d55536d56"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds := sdkaws.Credentials{AccessKeyID: vecAccessKeyID, SecretAccessKey: vecSecret, SessionToken: tc.token}
			r, err := Sign(context.Background(), creds, "us-east-2", vecURL, "", vecTime)
			if err != nil {
				t.Fatal(err)
			}
			want := "AWS4-HMAC-SHA256 Credential=" + vecAccessKeyID + "/20200811/us-east-2/sts/aws4_request, SignedHeaders=" + tc.signedHeaders + ", Signature=" + tc.signature
			if got := header(r, "Authorization"); got != want {
				t.Errorf("Authorization = %q\nwant %q", got, want)
			}
			if got := header(r, "x-amz-date"); got != "20200811T065522Z" {
				t.Errorf("x-amz-date = %q", got)
			}
			if got := header(r, "host"); got != "sts.us-east-2.amazonaws.com" {
				t.Errorf("host = %q", got)
			}
			if got := header(r, "x-amz-security-token"); got != tc.token {
				t.Errorf("x-amz-security-token = %q, want %q", got, tc.token)
			}
			// The independent implementation below must agree too.
			if got := referenceAuthorization(t, r, creds, "us-east-2"); got != want {
				t.Errorf("reference Authorization = %q\nwant %q", got, want)
			}
		})
	}
}

// TestReferenceSignerAWSExample checks the test's own SigV4 implementation
// against the worked example of AWS's SigV4 documentation (IAM ListUsers).
func TestReferenceSignerAWSExample(t *testing.T) {
	got := referenceSignature(referenceInput{
		method: "GET", host: "iam.amazonaws.com", path: "/", query: "Action=ListUsers&Version=2010-05-08",
		headers: map[string]string{
			"content-type": "application/x-www-form-urlencoded; charset=utf-8",
			"host":         "iam.amazonaws.com",
			"x-amz-date":   "20150830T123600Z",
		},
		region: "us-east-1", service: "iam", secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		time: time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC),
	})
	if want := "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"; got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
}

func TestSubjectTokenFormat(t *testing.T) {
	const target = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/aws"
	creds := sdkaws.Credentials{AccessKeyID: vecAccessKeyID, SecretAccessKey: vecSecret, SessionToken: vecToken}
	tok, err := SubjectToken(context.Background(), creds, "us-east-2", vecURL, target, vecTime)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := url.QueryUnescape(tok)
	if err != nil {
		t.Fatalf("token is not query-escaped: %v", err)
	}
	if url.QueryEscape(raw) != tok {
		t.Fatalf("token is not exactly query-escaped JSON")
	}
	var r Request
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.URL != vecURL || r.Method != "POST" {
		t.Errorf("url, method = %q, %q", r.URL, r.Method)
	}
	var keys []string
	for _, h := range r.Headers {
		keys = append(keys, h.Key)
	}
	if got, want := strings.Join(keys, ","), "Authorization,host,x-amz-date,x-amz-security-token,x-goog-cloud-target-resource"; got != want {
		t.Errorf("header keys = %s, want %s", got, want)
	}
	if got := header(&r, "x-goog-cloud-target-resource"); got != target {
		t.Errorf("target = %q", got)
	}
	auth := header(&r, "Authorization")
	if !strings.Contains(auth, "SignedHeaders=host;x-amz-date;x-amz-security-token;x-goog-cloud-target-resource,") {
		t.Errorf("target resource header not signed: %s", auth)
	}
	if got := referenceAuthorization(t, &r, creds, "us-east-2"); got != auth {
		t.Errorf("Authorization = %q\nreference    %q", auth, got)
	}
}

func TestSignErrors(t *testing.T) {
	ctx := context.Background()
	good := sdkaws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "very-secret-key", SessionToken: "very-secret-token"}
	for _, tc := range []struct {
		name   string
		creds  sdkaws.Credentials
		region string
		url    string
	}{
		{"no key id", sdkaws.Credentials{SecretAccessKey: "very-secret-key"}, "us-east-1", vecURL},
		{"no secret", sdkaws.Credentials{AccessKeyID: "AKID"}, "us-east-1", vecURL},
		{"bad region", good, "us-east-1.evil.com/", vecURL},
		{"empty region", good, "", vecURL},
		{"bad url", good, "us-east-1", "://nope"},
		{"no host", good, "us-east-1", "/relative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SubjectToken(ctx, tc.creds, tc.region, tc.url, "aud", vecTime)
			if err == nil {
				t.Fatal("no error")
			}
			if s := err.Error(); strings.Contains(s, "very-secret") {
				t.Errorf("error reveals a secret: %s", s)
			}
		})
	}
}

func TestRegionFromZone(t *testing.T) {
	for in, want := range map[string]string{
		"us-east-2b":     "us-east-2",
		"us-east-2b\n":   "us-east-2",
		"eu-west-1a":     "eu-west-1",
		"us-gov-west-1c": "us-gov-west-1",
		"":               "",
		"a":              "",
		"us-east-2":      "",
		"US-EAST-2B":     "",
		"evil.com/xb":    "",
	} {
		got, ok := RegionFromZone(in)
		if want == "" {
			if ok {
				t.Errorf("RegionFromZone(%q) = %q, want failure", in, got)
			}
			continue
		}
		if !ok || got != want {
			t.Errorf("RegionFromZone(%q) = %q, %v, want %q", in, got, ok, want)
		}
	}
}

func TestParseMetadataCredentials(t *testing.T) {
	c, err := ParseMetadataCredentials([]byte(`{"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC",
		"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"s3cr3t-key","Token":"s3ss10n-token","Expiration":"2026-01-01T06:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := MetadataCredentials{"ASIAEXAMPLE", "s3cr3t-key", "s3ss10n-token", time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)}
	if c != want {
		t.Errorf("got %+v", c)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, "s3ss10n") {
			t.Errorf("formatting reveals a secret: %s", s)
		}
	}
	c, err = ParseMetadataCredentials([]byte(`{"AccessKeyId":"A","SecretAccessKey":"B"}`))
	if err != nil || !c.Expires.IsZero() || c.SessionToken != "" {
		t.Errorf("minimal document: %+v, %v", c, err)
	}
	for _, bad := range []string{
		``, `null`, `[]`, `"x"`, `{`, `{"AccessKeyId":1}`,
		`{"SecretAccessKey":"s3cr3t-key"}`,
		`{"AccessKeyId":"A"}`,
		`{"Code":"Failure","AccessKeyId":"A","SecretAccessKey":"s3cr3t-key"}`,
		`{"AccessKeyId":"A","SecretAccessKey":"s3cr3t-key","Expiration":"tomorrow"}`,
	} {
		_, err := ParseMetadataCredentials([]byte(bad))
		if err == nil {
			t.Errorf("%q: no error", bad)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%q: error reveals a secret: %v", bad, err)
		}
	}
}

func FuzzParseMetadataCredentials(f *testing.F) {
	f.Add([]byte(`{"Code":"Success","AccessKeyId":"A","SecretAccessKey":"B","Token":"C","Expiration":"2026-01-01T06:00:00Z"}`))
	f.Add([]byte(`{"AccessKeyId":"A","SecretAccessKey":"B"}`))
	f.Add([]byte(`{"Code":"Failure"}`))
	f.Add([]byte(`{"AccessKeyId":"A","SecretAccessKey":"B","Expiration":"x"}`))
	f.Add([]byte(`null`))
	f.Add([]byte{0xff, '{'})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseMetadataCredentials(data)
		if err != nil {
			if c != (MetadataCredentials{}) {
				t.Fatalf("non-zero credentials with error")
			}
			return
		}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			t.Fatalf("accepted credentials without keys")
		}
		// String must not depend on the secrets at all (a short secret may
		// appear in the text by chance, so compare against other secrets).
		other := c
		other.SecretAccessKey, other.SessionToken = c.SecretAccessKey+"-other", c.SessionToken+"-other"
		if c.String() != other.String() || c.GoString() != other.GoString() {
			t.Fatalf("String depends on the secret key or session token: %q", c.String())
		}
	})
}

func header(r *Request, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return ""
}

// ---- an independent SigV4 implementation, written from the specification's
// steps (canonical request, string to sign, signing key, signature). ----

type referenceInput struct {
	method, host, path, query string
	headers                   map[string]string // lower-case names
	payload                   string
	region, service, secret   string
	time                      time.Time
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

func hexSHA256(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func referenceSignedHeaders(in referenceInput) string {
	var names []string
	for k := range in.headers {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ";")
}

func referenceSignature(in referenceInput) string {
	// Step 1: canonical request.
	names := strings.Split(referenceSignedHeaders(in), ";")
	var ch strings.Builder
	for _, k := range names {
		ch.WriteString(k + ":" + strings.TrimSpace(in.headers[k]) + "\n")
	}
	q, _ := url.ParseQuery(in.query)
	var qs []string
	for k, vs := range q {
		for _, v := range vs {
			qs = append(qs, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	sort.Strings(qs)
	canonical := strings.Join([]string{in.method, in.path, strings.Join(qs, "&"), ch.String(), strings.Join(names, ";"), hexSHA256(in.payload)}, "\n")
	// Step 2: string to sign.
	date := in.time.UTC().Format("20060102")
	scope := date + "/" + in.region + "/" + in.service + "/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + in.time.UTC().Format("20060102T150405Z") + "\n" + scope + "\n" + hexSHA256(canonical)
	// Step 3: signing key; step 4: signature.
	k := hmacSHA256([]byte("AWS4"+in.secret), date)
	k = hmacSHA256(k, in.region)
	k = hmacSHA256(k, in.service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, sts))
}

// referenceAuthorization recomputes the Authorization header of a serialized
// request from its URL and its non-Authorization headers.
func referenceAuthorization(t *testing.T, r *Request, creds sdkaws.Credentials, region string) string {
	t.Helper()
	u, err := url.Parse(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	in := referenceInput{method: r.Method, host: u.Host, path: path, query: u.RawQuery, headers: map[string]string{},
		region: region, service: "sts", secret: creds.SecretAccessKey}
	for _, h := range r.Headers {
		if h.Key == "Authorization" {
			continue
		}
		in.headers[strings.ToLower(h.Key)] = h.Value
	}
	ts, err := time.Parse("20060102T150405Z", in.headers["x-amz-date"])
	if err != nil {
		t.Fatalf("x-amz-date: %v", err)
	}
	in.time = ts
	scope := ts.Format("20060102") + "/" + region + "/sts/aws4_request"
	return "AWS4-HMAC-SHA256 Credential=" + creds.AccessKeyID + "/" + scope + ", SignedHeaders=" + referenceSignedHeaders(in) + ", Signature=" + referenceSignature(in)
}

func TestValidRoleName(t *testing.T) {
	for _, s := range []string{"my-role", "Role_1", "a+b=c,d.e@f", strings.Repeat("r", 64)} {
		if !ValidRoleName(s) {
			t.Errorf("ValidRoleName(%q) = false", s)
		}
	}
	for _, s := range []string{"", "../admin", "role name", "a/b", `{"AccessKeyId":"A"}`, strings.Repeat("r", 65), "rôle"} {
		if ValidRoleName(s) {
			t.Errorf("ValidRoleName(%q) = true", s)
		}
	}
}
