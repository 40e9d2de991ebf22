package awssubject

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

const (
	testAWSKeyID   = fixture.AWSKeyID
	testAWSSecret  = fixture.AWSSecret
	testAWSToken   = fixture.AWSToken
	testAWSAud     = "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/aws-pool/providers/aws-account"
	testIMDSv2Tok  = fixture.IMDSv2Tok
	testAWSRole    = fixture.AWSRole
	testAWSZone    = fixture.AWSZone
	testAWSVerify  = fixture.AWSVerify
	testAWSVerify2 = fixture.AWSVerify2
)

var testAWSTime = fixture.AWSTime

// imdsSubject returns an Subject wired to the fake metadata service, with
// an empty environment and the fixed clock.
func imdsSubject(f *fixture.IMDS, v2 bool) *Subject {
	s := &Subject{
		RegionURL:                   f.URL(fixture.IMDSZonePath),
		CredentialsURL:              f.URL(fixture.IMDSRolePath),
		RegionalCredVerificationURL: testAWSVerify,
		HTTPClient:                  f.Srv.Client(),
		Getenv:                      envMap(nil),
		Now:                         func() time.Time { return testAWSTime },
	}
	if v2 {
		s.IMDSv2TokenURL = f.URL(fixture.IMDSTokenPath)
	}
	return s
}

var envMap = fixture.EnvMap

type decodedAWSToken struct {
	URL     string `json:"url"`
	Method  string `json:"method"`
	Headers []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"headers"`
}

func (d *decodedAWSToken) header(k string) string {
	for _, h := range d.Headers {
		if h.Key == k {
			return h.Value
		}
	}
	return ""
}

func decodeAWSToken(t *testing.T, tok string) *decodedAWSToken {
	t.Helper()
	raw, err := url.QueryUnescape(tok)
	if err != nil {
		t.Fatalf("token is not query-escaped: %v", err)
	}
	var d decodedAWSToken
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatalf("token is not JSON: %v", err)
	}
	return &d
}

func awsToken(t *testing.T, s *Subject) *decodedAWSToken {
	t.Helper()
	tok, err := s.SubjectToken(context.Background(), sts.SubjectRequest{Audience: testAWSAud, SubjectTokenType: sts.TokenTypeAWS4Request})
	if err != nil {
		t.Fatalf("SubjectToken: %v", err)
	}
	return decodeAWSToken(t, tok)
}

func TestAWSSubjectKnownAnswer(t *testing.T) {
	// Environment credentials, fixed clock, no audience: the token's
	// signature must be the published value for this request.
	s := &Subject{
		Getenv: envMap(map[string]string{
			"AWS_ACCESS_KEY_ID": testAWSKeyID, "AWS_SECRET_ACCESS_KEY": testAWSSecret,
			"AWS_SESSION_TOKEN": "", "AWS_REGION": "us-east-2",
		}),
		Now: func() time.Time { return testAWSTime },
	}
	tok, err := s.SubjectToken(context.Background(), sts.SubjectRequest{})
	if err != nil {
		t.Fatal(err)
	}
	d := decodeAWSToken(t, tok)
	want := "AWS4-HMAC-SHA256 Credential=" + testAWSKeyID + "/20200811/us-east-2/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=d095ba304919cd0d5570ba8a3787884ee78b860f268ed040ba23831d55536d56"
	if got := d.header("Authorization"); got != want {
		t.Errorf("Authorization = %q\nwant %q", got, want)
	}
	if d.URL != testAWSVerify2 || d.Method != "POST" {
		t.Errorf("url, method = %q, %q", d.URL, d.Method)
	}
	if len(d.Headers) != 3 || d.header("host") != "sts.us-east-2.amazonaws.com" || d.header("x-amz-date") != "20200811T065522Z" {
		t.Errorf("headers = %+v", d.Headers)
	}
}

func TestAWSSubjectMetadata(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("imdsv2=%v", v2), func(t *testing.T) {
			f := fixture.NewIMDS(t, v2)
			d := awsToken(t, imdsSubject(f, v2))
			if d.URL != testAWSVerify2 {
				t.Errorf("url = %q (zone letter not dropped?)", d.URL)
			}
			if got := d.header("x-amz-security-token"); got != testAWSToken {
				t.Errorf("x-amz-security-token = %q", got)
			}
			if got := d.header("x-goog-cloud-target-resource"); got != testAWSAud {
				t.Errorf("target = %q", got)
			}
			auth := d.header("Authorization")
			if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+testAWSKeyID+"/20200811/us-east-2/sts/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token;x-goog-cloud-target-resource, Signature=") {
				t.Errorf("Authorization = %q", auth)
			}
			wantPut := 0
			if v2 {
				wantPut = 1
			}
			if n := f.Count("/latest/api/token"); n != wantPut {
				t.Errorf("%d session token requests, want %d", n, wantPut)
			}
		})
	}
}

func TestAWSSubjectIMDSv2Required(t *testing.T) {
	// A metadata service that requires IMDSv2 refuses a provider configured
	// without a session token URL.
	f := fixture.NewIMDS(t, true)
	_, err := imdsSubject(f, false).SubjectToken(context.Background(), sts.SubjectRequest{Audience: testAWSAud})
	var e *sts.Error
	if !errors.As(err, &e) || e.Op != "subject" || e.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %v", err)
	}
}

func TestAWSSubjectEnvironmentPrecedence(t *testing.T) {
	f := fixture.NewIMDS(t, true)
	envCreds := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret-key"}
	for _, tc := range []struct {
		name       string
		region     string
		env        map[string]string
		provider   bool
		wantRegion string
		wantKey    string
		wantMDCred int
		wantMDZone int
	}{
		{"all metadata", "", nil, false, "us-east-2", testAWSKeyID, 1, 1},
		{"AWS_REGION", "", map[string]string{"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "ap-south-1"}, false, "eu-west-1", testAWSKeyID, 1, 0},
		{"AWS_DEFAULT_REGION", "", map[string]string{"AWS_DEFAULT_REGION": "ap-south-1"}, false, "ap-south-1", testAWSKeyID, 1, 0},
		{"Region field wins", "ca-central-1", map[string]string{"AWS_REGION": "eu-west-1"}, false, "ca-central-1", testAWSKeyID, 1, 0},
		{"env credentials", "", envCreds, false, "us-east-2", "AKIDENV", 0, 1},
		{"env everything", "", merge(envCreds, map[string]string{"AWS_REGION": "eu-west-1"}), false, "eu-west-1", "AKIDENV", 0, 0},
		{"only key id in env", "", map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV"}, false, "us-east-2", testAWSKeyID, 1, 1},
		{"provider wins", "", envCreds, true, "us-east-2", "AKIDPROVIDER", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := imdsSubject(f, true)
			s.Region = tc.region
			s.Getenv = envMap(tc.env)
			if tc.provider {
				s.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{AccessKeyID: "AKIDPROVIDER", SecretAccessKey: "provider-secret"}, nil
				})
			}
			credPath := "/latest/meta-data/iam/security-credentials/" + testAWSRole
			zonePath := "/latest/meta-data/placement/availability-zone"
			c0, z0 := f.Count(credPath), f.Count(zonePath)
			d := awsToken(t, s)
			if want := "https://sts." + tc.wantRegion + ".amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"; d.URL != want {
				t.Errorf("url = %q, want %q", d.URL, want)
			}
			if auth := d.header("Authorization"); !strings.Contains(auth, "Credential="+tc.wantKey+"/20200811/"+tc.wantRegion+"/sts/") {
				t.Errorf("Authorization = %q", auth)
			}
			if n := f.Count(credPath) - c0; n != tc.wantMDCred {
				t.Errorf("%d credential requests, want %d", n, tc.wantMDCred)
			}
			if n := f.Count(zonePath) - z0; n != tc.wantMDZone {
				t.Errorf("%d zone requests, want %d", n, tc.wantMDZone)
			}
		})
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestAWSSubjectEnvSessionToken(t *testing.T) {
	s := &Subject{Getenv: envMap(map[string]string{
		"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "env-session", "AWS_REGION": "us-west-1",
	})}
	d := awsToken(t, s)
	if d.header("x-amz-security-token") != "env-session" {
		t.Errorf("headers = %+v", d.Headers)
	}
}

func TestAWSSubjectCachesUntilExpiry(t *testing.T) {
	f := fixture.NewIMDS(t, true)
	var now atomic.Pointer[time.Time]
	setNow := func(t time.Time) { now.Store(&t) }
	setNow(testAWSTime)
	s := imdsSubject(f, true)
	s.Now = func() time.Time { return *now.Load() }

	credPath := "/latest/meta-data/iam/security-credentials/" + testAWSRole
	check := func(step string, token, role, creds, zone int) {
		t.Helper()
		got := [4]int{f.Count("/latest/api/token"), f.Count("/latest/meta-data/iam/security-credentials"), f.Count(credPath), f.Count("/latest/meta-data/placement/availability-zone")}
		if want := [4]int{token, role, creds, zone}; got != want {
			t.Errorf("%s: requests (token, role, creds, zone) = %v, want %v", step, got, want)
		}
	}
	// Concurrent first use: one fetch.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.SubjectToken(context.Background(), sts.SubjectRequest{Audience: testAWSAud}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	check("first use", 1, 1, 1, 1)
	awsToken(t, s)
	check("second use", 1, 1, 1, 1)
	setNow(testAWSTime.Add(54 * time.Minute))
	awsToken(t, s)
	check("before the refresh margin", 1, 1, 1, 1)
	// Five minutes before expiry the credentials (and the region) are
	// fetched again.
	f.SetExpiry(testAWSTime.Add(2 * time.Hour))
	setNow(testAWSTime.Add(56 * time.Minute))
	awsToken(t, s)
	check("after the refresh margin", 2, 2, 2, 2)
	awsToken(t, s)
	check("cached again", 2, 2, 2, 2)

	// A copy shares the cache; a copy pointing elsewhere has its own.
	cp := *s
	awsToken(t, &cp)
	check("copy", 2, 2, 2, 2)
	other := fixture.NewIMDS(t, true)
	cp.RegionURL = other.Srv.URL + "/latest/meta-data/placement/availability-zone"
	cp.CredentialsURL = other.Srv.URL + "/latest/meta-data/iam/security-credentials"
	cp.IMDSv2TokenURL = other.Srv.URL + "/latest/api/token"
	cp.HTTPClient = other.Srv.Client()
	other.SetExpiry(testAWSTime.Add(3 * time.Hour))
	awsToken(t, &cp)
	if other.Count(credPath) != 1 {
		t.Errorf("re-pointed copy used a stale cache")
	}
}

func TestAWSSubjectRegionCachedWithEnvCredentials(t *testing.T) {
	f := fixture.NewIMDS(t, false)
	s := imdsSubject(f, false)
	s.Getenv = envMap(map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"})
	for range 3 {
		awsToken(t, s)
	}
	if n := f.Count("/latest/meta-data/placement/availability-zone"); n != 1 {
		t.Errorf("%d zone requests, want 1", n)
	}
}

func TestAWSSubjectShortLivedCredentialsNotCached(t *testing.T) {
	f := fixture.NewIMDS(t, false)
	f.SetExpiry(testAWSTime.Add(time.Minute)) // inside the refresh margin
	s := imdsSubject(f, false)
	awsToken(t, s)
	awsToken(t, s)
	if n := f.Count("/latest/meta-data/iam/security-credentials/" + testAWSRole); n != 2 {
		t.Errorf("%d credential requests, want 2", n)
	}
}

func TestAWSSubjectMetadataFailures(t *testing.T) {
	credPath := "/latest/meta-data/iam/security-credentials/" + testAWSRole
	status := func(code int) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			// A body that echoes secrets must not reach the error.
			http.Error(w, "denied "+testAWSSecret+" "+testAWSToken, code)
		}
	}
	body := func(s string) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, s) }
	}
	for _, tc := range []struct {
		name      string
		path      string
		h         func(http.ResponseWriter, *http.Request)
		status    int
		temporary bool
		contains  string
	}{
		{"token 403", "/latest/api/token", status(403), 403, false, "IMDSv2 session token"},
		{"token 503", "/latest/api/token", status(503), 503, true, "IMDSv2 session token"},
		{"token empty", "/latest/api/token", body(" \n"), 0, false, "empty IMDSv2"},
		{"zone 404", "/latest/meta-data/placement/availability-zone", status(404), 404, false, "availability zone"},
		{"zone garbage", "/latest/meta-data/placement/availability-zone", body("not a zone!"), 0, false, "invalid availability zone"},
		{"role 500", "/latest/meta-data/iam/security-credentials", status(500), 500, true, "role name"},
		{"role empty", "/latest/meta-data/iam/security-credentials", body(""), 0, false, "invalid role name"},
		{"role with slash", "/latest/meta-data/iam/security-credentials", body("../admin"), 0, false, "invalid role name"},
		{"role is credentials JSON", "/latest/meta-data/iam/security-credentials", body(`{"AccessKeyId":"A","SecretAccessKey":"` + testAWSSecret + `","Token":"` + testAWSToken + `"}`), 0, false, "invalid role name"},
		{"zone is credentials JSON", "/latest/meta-data/placement/availability-zone", body(`{"SecretAccessKey":"` + testAWSSecret + `"}`), 0, false, "invalid availability zone"},
		{"creds 404", credPath, status(404), 404, false, "role credentials"},
		{"creds not JSON", credPath, body("<html>" + testAWSSecret), 0, false, "not a JSON object"},
		{"creds failure code", credPath, body(`{"Code":"AssumeRoleUnauthorizedAccess","AccessKeyId":"A","SecretAccessKey":"` + testAWSSecret + `"}`), 0, false, "AssumeRoleUnauthorizedAccess"},
		{"creds without secret", credPath, body(`{"AccessKeyId":"A","Token":"` + testAWSToken + `"}`), 0, false, "lack SecretAccessKey"},
		{"creds expired", credPath, body(`{"AccessKeyId":"A","SecretAccessKey":"` + testAWSSecret + `","Expiration":"2020-01-01T00:00:00Z"}`), 0, true, "expired"},
		{"creds redirect", credPath, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://192.0.2.1/steal", http.StatusFound)
		}, 302, false, "role credentials"},
		{"creds huge", credPath, body(strings.Repeat(" ", 70<<10)), 0, false, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fixture.NewIMDS(t, true)
			f.Set(tc.path, tc.h)
			_, err := imdsSubject(f, true).SubjectToken(context.Background(), sts.SubjectRequest{Audience: testAWSAud})
			var e *sts.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %T %v, want *sts.Error", err, err)
			}
			if e.Op != "subject" || e.StatusCode != tc.status || e.Temporary() != tc.temporary {
				t.Errorf("err = %+v (temporary %v), want status %d temporary %v", e, e.Temporary(), tc.status, tc.temporary)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "sts: subject: ") || !strings.Contains(msg, tc.contains) {
				t.Errorf("error %q lacks %q", msg, tc.contains)
			}
			for _, secret := range []string{testAWSSecret, testAWSToken, testIMDSv2Tok} {
				if strings.Contains(msg, secret) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), secret) {
					t.Errorf("error reveals a secret: %s", msg)
				}
			}
		})
	}
}

func TestAWSSubjectUnreachableMetadata(t *testing.T) {
	f := fixture.NewIMDS(t, false)
	s := imdsSubject(f, false)
	f.Srv.Close()
	_, err := s.SubjectToken(context.Background(), sts.SubjectRequest{Audience: testAWSAud})
	var e *sts.Error
	if !errors.As(err, &e) || e.Op != "subject" || !e.Temporary() {
		t.Fatalf("err = %v, want a temporary *sts.Error", err)
	}
}

func TestAWSSubjectContextCancelled(t *testing.T) {
	f := fixture.NewIMDS(t, false)
	s := imdsSubject(f, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.SubjectToken(ctx, sts.SubjectRequest{Audience: testAWSAud})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if sts.IsTemporary(err) {
		t.Errorf("a cancelled call is not temporary")
	}
}

func TestAWSSubjectCredentialsProvider(t *testing.T) {
	s := &Subject{Region: "us-east-1", Getenv: envMap(nil), Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(
		func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDSDK", SecretAccessKey: "sdk-secret", SessionToken: "sdk-session"}, nil
		}))}
	d := awsToken(t, s)
	if !strings.Contains(d.header("Authorization"), "Credential=AKIDSDK/") || d.header("x-amz-security-token") != "sdk-session" {
		t.Errorf("headers = %+v", d.Headers)
	}

	s.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no web identity token file")
	})
	_, err := s.SubjectToken(context.Background(), sts.SubjectRequest{Audience: testAWSAud})
	var e *sts.Error
	if !errors.As(err, &e) || e.Op != "subject" || !strings.Contains(err.Error(), "no web identity token file") {
		t.Errorf("err = %v", err)
	}
	s.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKID"}, nil
	})
	if _, err := s.SubjectToken(context.Background(), sts.SubjectRequest{}); !errors.As(err, &e) {
		t.Errorf("incomplete provider credentials: err = %v", err)
	}
	s.Now = func() time.Time { return testAWSTime }
	s.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "sdk-secret", CanExpire: true, Expires: testAWSTime.Add(-time.Second)}, nil
	})
	if _, err := s.SubjectToken(context.Background(), sts.SubjectRequest{}); !errors.As(err, &e) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired provider credentials: err = %v", err)
	}
}

func TestAWSSubjectValidate(t *testing.T) {
	creds := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"}
	full := merge(creds, map[string]string{"AWS_REGION": "us-east-1"})
	for _, tc := range []struct {
		name  string
		s     Subject
		env   map[string]string
		field string
	}{
		{"env only", Subject{}, full, ""},
		{"metadata", Subject{RegionURL: "http://169.254.169.254/latest/meta-data/placement/availability-zone", CredentialsURL: "http://169.254.169.254/latest/meta-data/iam/security-credentials", IMDSv2TokenURL: "http://169.254.169.254/latest/api/token"}, nil, ""},
		{"ipv6 metadata", Subject{RegionURL: "http://[fd00:ec2::254]/latest/meta-data/placement/availability-zone"}, creds, ""},
		{"https metadata", Subject{RegionURL: "https://metadata.example/zone"}, creds, ""},
		{"loopback metadata", Subject{RegionURL: "http://127.0.0.1:8080/zone"}, creds, ""},
		{"provider", Subject{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}}, nil, ""},
		{"no region", Subject{}, creds, "awssubject.Subject.RegionURL"},
		{"no credentials", Subject{Region: "us-east-1"}, nil, "awssubject.Subject.CredentialsURL"},
		{"half env credentials", Subject{Region: "us-east-1"}, map[string]string{"AWS_ACCESS_KEY_ID": "AKID"}, "awssubject.Subject.CredentialsURL"},
		{"bad region", Subject{Region: "us-east-1.evil.example"}, creds, "awssubject.Subject.Region"},
		{"bad env region", Subject{}, merge(creds, map[string]string{"AWS_REGION": "Not A Region"}), "AWS_REGION"},
		{"bad default region", Subject{}, merge(creds, map[string]string{"AWS_DEFAULT_REGION": "x/y"}), "AWS_DEFAULT_REGION"},
		{"http region url elsewhere", Subject{RegionURL: "http://169.254.169.253/zone"}, creds, "awssubject.Subject.RegionURL"},
		{"http credentials url elsewhere", Subject{Region: "us-east-1", CredentialsURL: "http://metadata.example/creds"}, nil, "awssubject.Subject.CredentialsURL"},
		{"bad imdsv2 url", Subject{IMDSv2TokenURL: "ftp://169.254.169.254/token"}, full, "awssubject.Subject.IMDSv2TokenURL"},
		{"user info", Subject{RegionURL: "http://user:pw@169.254.169.254/zone"}, creds, "awssubject.Subject.RegionURL"},
		{"http verification url", Subject{RegionalCredVerificationURL: "http://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}, full, "awssubject.Subject.RegionalCredVerificationURL"},
		{"bad verification url", Subject{RegionalCredVerificationURL: "sts.amazonaws.com"}, full, "awssubject.Subject.RegionalCredVerificationURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			s.Getenv = envMap(tc.env)
			err := s.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			var ve *sts.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("err = %v, want a ValidationError for %s", err, tc.field)
			}
			if _, err := s.SubjectToken(context.Background(), sts.SubjectRequest{}); !errors.As(err, &ve) {
				t.Errorf("SubjectToken did not validate: %v", err)
			}
		})
	}
	var nilSubject *Subject
	if err := nilSubject.Validate(); err == nil {
		t.Error("nil subject validated")
	}
}

func TestAWSSubjectNoSecretsInFormatting(t *testing.T) {
	f := fixture.NewIMDS(t, true)
	s := imdsSubject(f, true)
	awsToken(t, s) // fill the cache with secrets
	s.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: testAWSSecret}, nil
	})
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), s.String(),
		fmt.Sprintf("%v", *s), fmt.Sprintf("%+v", *s),
	} {
		for _, secret := range []string{testAWSSecret, testAWSToken, testIMDSv2Tok} {
			if strings.Contains(out, secret) {
				t.Errorf("formatting reveals a secret: %s", out)
			}
		}
	}
	if got := s.SourceKind(); got != "aws" {
		t.Errorf("sourceKind = %q", got)
	}
	// (TestAWSSubjectExchangeEndToEnd sees it in the x-goog-api-client header.)
}

func TestAWSSubjectExchangeEndToEnd(t *testing.T) {
	f := fixture.NewIMDS(t, true)
	var seen atomic.Int32
	srv := ststest.NewServer(ststest.Options{ValidateSubject: func(typ, tok string) error {
		seen.Add(1)
		if typ != sts.TokenTypeAWS4Request {
			return fmt.Errorf("subject token type %q", typ)
		}
		raw, err := url.QueryUnescape(tok)
		if err != nil {
			return errors.New("not query-escaped")
		}
		var d decodedAWSToken
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return errors.New("not JSON")
		}
		if d.Method != "POST" || d.URL != testAWSVerify2 || d.header("x-goog-cloud-target-resource") != testAWSAud ||
			!strings.Contains(d.header("Authorization"), "x-goog-cloud-target-resource") {
			return errors.New("not a signed GetCallerIdentity request for this audience")
		}
		return nil
	}})
	defer srv.Close()

	// The provider and the exchange use different clients: the metadata
	// service's and the emulator's.
	ts, err := sts.NewTokenSource(sts.Config{
		Subject:          imdsSubject(f, true),
		SubjectTokenType: sts.TokenTypeAWS4Request,
		Audience:         testAWSAud,
		TokenURL:         srv.TokenURL(),
		HTTPOptions:      sts.HTTPOptions{HTTPClient: srv.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	fixture.WantOneExchange(t, ts, srv, &seen, "source/aws")

	// A bad configuration fails at construction, naming the field.
	_, err = sts.NewTokenSource(sts.Config{
		Subject:          &Subject{Getenv: envMap(nil)},
		SubjectTokenType: sts.TokenTypeAWS4Request,
		Audience:         testAWSAud,
		TokenURL:         srv.TokenURL(),
	})
	var ve *sts.ValidationError
	if !errors.As(err, &ve) || ve.Field != "awssubject.Subject.RegionURL" {
		t.Errorf("NewTokenSource with no region: %v", err)
	}
}

// TestAWSSubjectDescribesItsSources: String names where credentials and the
// region come from, and nothing secret.
func TestAWSSubjectDescribesItsSources(t *testing.T) {
	for _, tc := range []struct {
		s    *Subject
		want string
	}{
		{nil, "awssubject.Subject(nil)"},
		{&Subject{}, "awssubject.Subject{credentials=environment}"},
		{&Subject{CredentialsURL: "http://169.254.169.254/x", Region: "us-east-2"}, "awssubject.Subject{credentials=metadata region=us-east-2}"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("String = %q, want %q", got, tc.want)
		}
	}
}

// TestAWSSubjectProcessEnvironment: without Getenv the process environment
// gives the region and the credentials.
func TestAWSSubjectProcessEnvironment(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-2")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", testAWSSecret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	s := &Subject{Now: func() time.Time { return testAWSTime }}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := awsToken(t, s); !strings.Contains(d.URL, "us-east-2") {
		t.Errorf("token for %s", d.URL)
	}
}

// TestAWSSubjectRoleListingTakesFirstRole: a metadata answer listing
// several roles uses the first.
func TestAWSSubjectRoleListingTakesFirstRole(t *testing.T) {
	f := fixture.NewIMDS(t, false)
	f.Set(fixture.IMDSRolePath, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, testAWSRole+"\nanother-role\n")
	})
	if d := awsToken(t, imdsSubject(f, false)); d.Method != "POST" {
		t.Errorf("token %+v", d)
	}
	if f.Count(fixture.IMDSRolePath+"/"+testAWSRole) != 1 {
		t.Error("the first role's credentials were not asked for")
	}
}
