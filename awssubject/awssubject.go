// Package awssubject is the subject-token provider of workload identity
// federation from AWS: the subject token is a GetCallerIdentity request
// signed with the workload's AWS credentials (AWS Signature Version 4), as
// Google's STS expects it. It links the AWS SDK's signer, which the root
// package does not.
//
//	ts, err := sts.NewTokenSource(sts.Config{
//		Subject:          &awssubject.Subject{Region: "us-east-2"},
//		SubjectTokenType: sts.TokenTypeAWS4Request,
//		Audience:         "//iam.googleapis.com/projects/…/providers/aws",
//	})
//
// Credential files whose credential_source has environment_id "aws1" are
// loaded by package credfile with this provider.
package awssubject

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stsgo/sts"
	awssub "github.com/stsgo/sts/internal/aws"
	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/public"
	"github.com/stsgo/sts/internal/secret"
)

// DefaultRegionalCredVerificationURL is the GetCallerIdentity endpoint a
// Subject signs a request for when its RegionalCredVerificationURL is
// empty. "{region}" is replaced by the resolved region.
const DefaultRegionalCredVerificationURL = "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"

const (
	awsMetadataTimeout    = 10 * time.Second
	awsMetadataMaxBody    = 64 << 10
	awsIMDSv2TTLHeader    = "X-aws-ec2-metadata-token-ttl-seconds"
	awsIMDSv2TokenHeader  = "X-aws-ec2-metadata-token"
	awsIMDSv2TTL          = "300"
	awsCredentialsRefresh = 5 * time.Minute
)

// Subject is the subject-token provider of workload identity federation
// from AWS (subject token type sts.TokenTypeAWS4Request). Its subject token is a
// GetCallerIdentity request signed with the workload's AWS credentials
// (AWS Signature Version 4), serialized as Google's STS expects, including the
// header x-goog-cloud-target-resource set to the exchange's audience. Google
// verifies it with AWS; the AWS secret key never leaves the process.
//
// The region is, in order: Region; the environment's AWS_REGION, then
// AWS_DEFAULT_REGION; the availability zone served at RegionURL with its zone
// letter dropped. The credentials are, in order: Credentials; the environment's
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN, if set);
// the role credentials of the EC2 instance metadata service at CredentialsURL,
// fetched with an IMDSv2 session token when IMDSv2TokenURL is set.
//
// What the metadata service served (region and credentials) is cached until
// the credentials expire (less a five-minute margin). Use an Subject
// through a pointer. Copying one is safe: a copy made before first use has a
// cache of its own, a copy made after shares the original's, and a cache is
// dropped when the metadata URLs it was filled from change. All methods are
// safe for concurrent use, but the exported fields must not be changed while
// the provider is in use.
//
// The fields mirror the "credential_source" of an external_account
// credential file whose environment_id is "aws1".
type Subject struct {
	// Region is the AWS region (such as "us-east-2") of the GetCallerIdentity
	// endpoint. Empty means: from the environment or RegionURL.
	Region string
	// RegionURL is the metadata endpoint that serves the instance's
	// availability zone, for example
	// "http://169.254.169.254/latest/meta-data/placement/availability-zone"
	// (the file's "region_url"). Required only when the region is not given
	// otherwise.
	RegionURL string
	// CredentialsURL is the metadata endpoint that serves the instance role's
	// name, under which the role's credentials are served, for example
	// "http://169.254.169.254/latest/meta-data/iam/security-credentials"
	// (the file's "url"). Required only when the credentials are not given
	// otherwise.
	CredentialsURL string
	// IMDSv2TokenURL is the endpoint that hands out IMDSv2 session tokens,
	// for example "http://169.254.169.254/latest/api/token" (the file's
	// "imdsv2_session_token_url"). Empty means IMDSv1: no session token.
	IMDSv2TokenURL string
	// RegionalCredVerificationURL is the GetCallerIdentity URL to sign, with
	// "{region}" standing for the region (the file's
	// "regional_cred_verification_url"). Empty means
	// DefaultRegionalCredVerificationURL. It must be https.
	RegionalCredVerificationURL string
	// Credentials, when set, supplies the AWS credentials, taking precedence
	// over the environment and the metadata service; use the AWS SDK's
	// default chain (config.LoadDefaultConfig(ctx).Credentials) to get EKS web
	// identity, ECS task roles, SSO and profiles. It is called once per
	// subject token; wrap it in aws.NewCredentialsCache to cache.
	Credentials aws.CredentialsProvider `json:"-"`
	// HTTPClient sends the metadata requests. Nil means http.DefaultClient.
	// Each request also gets a 10 s deadline, and redirects are not
	// followed.
	HTTPClient *http.Client
	// Getenv reads the environment. Nil means os.Getenv.
	Getenv func(string) string
	// Now tells the time, for signing and for the cache. Nil means time.Now.
	Now func() time.Time

	cache atomic.Value // *awsCache, shared by copies
}

// awsCacheKey names the metadata endpoints a cache was filled from.
type awsCacheKey struct{ regionURL, credentialsURL, imdsv2URL string }

type awsCache struct {
	key awsCacheKey
	sem chan struct{} // held while the metadata service is asked: one fetch at a time

	// guarded by sem
	region  string
	creds   func() aws.Credentials // a closure, printed by no path; nil when none
	expires time.Time              // when creds and region must be fetched again; zero: never
}

var _ sts.SubjectTokenProvider = (*Subject)(nil)

// SourceKind returns "aws".
func (s *Subject) SourceKind() string { return "aws" }

// SubjectTokenTypes returns sts.TokenTypeAWS4Request.
func (s *Subject) SubjectTokenTypes() []string { return []string{sts.TokenTypeAWS4Request} }

// String describes the provider without any credential.
func (s *Subject) String() string {
	if s == nil {
		return "awssubject.Subject(nil)"
	}
	var src []string
	switch {
	case s.Credentials != nil:
		src = append(src, "credentials=provider")
	case s.CredentialsURL != "":
		src = append(src, "credentials=metadata")
	default:
		src = append(src, "credentials=environment")
	}
	if s.Region != "" {
		src = append(src, "region="+s.Region)
	}
	return "awssubject.Subject{" + strings.Join(src, " ") + "}"
}

// Format prints String whatever the verb: no verb shows a credential or
// cached state. It has a value receiver so that a dereferenced Subject
// prints redacted too.
func (s Subject) Format(f fmt.State, verb rune) { secret.Format(f, verb, s.String()) }

func (s *Subject) getenv(k string) string {
	if s.Getenv != nil {
		return s.Getenv(k)
	}
	return os.Getenv(k)
}

func (s *Subject) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// client returns the metadata client. Redirects are never followed, so the
// IMDSv2 session token cannot be carried to another host.
func (s *Subject) client() *http.Client { return httpx.NoRedirects(s.HTTPClient) }

func (s *Subject) verificationURL() string {
	if s.RegionalCredVerificationURL != "" {
		return s.RegionalCredVerificationURL
	}
	return DefaultRegionalCredVerificationURL
}

// Validate checks the configuration and that the environment gives what
// the fields leave out, naming the offending field.
func (s *Subject) Validate() error {
	if s == nil {
		return &sts.ValidationError{Field: "awssubject.Subject", Reason: "must not be nil"}
	}
	return public.Invalid(awssub.Check(s.settings(), awsFields))
}

// awsFields names an Subject's fields in its validation errors.
var awsFields = awssub.Fields{
	Region:          "awssubject.Subject.Region",
	RegionURL:       "awssubject.Subject.RegionURL",
	CredentialsURL:  "awssubject.Subject.CredentialsURL",
	IMDSv2TokenURL:  "awssubject.Subject.IMDSv2TokenURL",
	VerificationURL: "awssubject.Subject.RegionalCredVerificationURL",
	Provider:        "awssubject.Subject.Credentials",
}

func (s *Subject) settings() awssub.Settings {
	return awssub.Settings{
		Region: s.Region, RegionURL: s.RegionURL, CredentialsURL: s.CredentialsURL, IMDSv2TokenURL: s.IMDSv2TokenURL,
		VerificationURL: s.RegionalCredVerificationURL, HasProvider: s.Credentials != nil, Getenv: s.Getenv,
	}
}

func (s *Subject) envHasCredentials() bool {
	st := s.settings()
	return st.EnvHasCredentials()
}

// SubjectToken returns the serialized, signed GetCallerIdentity request, with
// req.Audience as its x-goog-cloud-target-resource header. Failures to reach
// the metadata service or the credentials provider are *Error values with Op
// "subject"; none of them contains a secret.
func (s *Subject) SubjectToken(ctx context.Context, req sts.SubjectRequest) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	var r resolved
	if err := s.resolve(ctx, &r); err != nil {
		return "", err
	}
	target := strings.ReplaceAll(s.verificationURL(), "{region}", r.region)
	tok, err := awssub.SubjectToken(ctx, r.creds, r.region, target, req.Audience, s.now())
	if err != nil {
		return "", fail(0, "", err) // its text names AWS already
	}
	return tok, nil
}

// fail is the error of a subject token: an *sts.Error with Op "subject".
// It is not inlined: it is called at a dozen cold places.
//
//go:noinline
func fail(status int, desc string, cause error) error {
	return &sts.Error{Op: "subject", StatusCode: status, Description: desc, Err: cause}
}

// resolved is what a subject token is signed with.
type resolved struct {
	region string
	creds  aws.Credentials
}

// resolve finds the region and the credentials, asking the metadata service
// (through the cache) for what the configuration and environment lack.
func (s *Subject) resolve(ctx context.Context, r *resolved) error {
	r.region = s.Region
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if r.region == "" {
			r.region = s.getenv(k)
		}
	}
	haveCreds := true
	switch {
	case s.Credentials != nil:
		c, err := s.Credentials.Retrieve(ctx)
		switch {
		case err != nil:
			return fail(0, "", httpx.Transient(errs.Errorf("aws credentials provider: %w", err)))
		case c.AccessKeyID == "" || c.SecretAccessKey == "":
			return fail(0, "aws credentials provider returned credentials without an access key id or secret access key", nil)
		case c.CanExpire && !s.now().Before(c.Expires):
			return fail(0, "", httpx.Retryable(errs.New("aws credentials provider returned expired credentials")))
		}
		r.creds = c
	case s.envHasCredentials():
		r.creds = aws.Credentials{
			AccessKeyID:     s.getenv("AWS_ACCESS_KEY_ID"),
			SecretAccessKey: s.getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken:    s.getenv("AWS_SESSION_TOKEN"),
			Source:          "environment",
		}
	default:
		haveCreds = false
	}
	switch {
	case r.region != "" && haveCreds:
		return nil
	case r.region == "" && s.RegionURL == "":
		return fail(0, "aws region unknown: set AWS_REGION or a region URL", nil)
	case !haveCreds && s.CredentialsURL == "":
		return fail(0, "aws credentials unknown: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a credentials provider or a credentials URL", nil)
	}
	return s.fromMetadata(ctx, r, !haveCreds)
}

func (s *Subject) sharedCache() *awsCache {
	key := awsCacheKey{s.RegionURL, s.CredentialsURL, s.IMDSv2TokenURL}
	for {
		old, _ := s.cache.Load().(*awsCache)
		if old != nil && old.key == key {
			return old
		}
		c := &awsCache{key: key, sem: make(chan struct{}, 1)}
		var prev any
		if old != nil {
			prev = old
		}
		if s.cache.CompareAndSwap(prev, c) {
			return c
		}
	}
}

// fromMetadata fills in r's region when it is empty, and its credentials
// when wantCreds, from the cache, or from the metadata service when the
// cache lacks them or they expired.
func (s *Subject) fromMetadata(ctx context.Context, r *resolved, wantCreds bool) error {
	c := s.sharedCache()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return fail(0, "", httpx.Transient(ctx.Err()))
	}
	defer func() { <-c.sem }()

	now := s.now()
	if !c.expires.IsZero() && !now.Before(c.expires) {
		// The cached credentials expired: forget them and the region.
		c.region, c.creds, c.expires = "", nil, time.Time{}
	}
	var session string // the IMDSv2 session token
	if s.IMDSv2TokenURL != "" && (r.region == "" && c.region == "" || wantCreds && c.creds == nil) {
		tok, err := s.metadata(ctx, http.MethodPut, s.IMDSv2TokenURL, awsIMDSv2TTLHeader, awsIMDSv2TTL, "IMDSv2 session token")
		if err != nil {
			return err
		}
		if session = strings.TrimSpace(string(tok)); session == "" {
			return fail(0, "aws metadata returned an empty IMDSv2 session token", nil)
		}
	}
	if r.region == "" && c.region == "" {
		body, err := s.metadata(ctx, http.MethodGet, s.RegionURL, awsIMDSv2TokenHeader, session, "availability zone")
		if err != nil {
			return err
		}
		region, ok := awssub.RegionFromZone(string(body))
		if !ok {
			return fail(0, "aws metadata returned an invalid availability zone "+quoteIfPlain(strings.TrimSpace(string(body))), nil)
		}
		c.region = region
	}
	if r.region == "" {
		r.region = c.region
	}
	if !wantCreds {
		return nil
	}
	if c.creds != nil {
		r.creds = c.creds()
		return nil
	}
	body, err := s.metadata(ctx, http.MethodGet, s.CredentialsURL, awsIMDSv2TokenHeader, session, "role name")
	if err != nil {
		return err
	}
	role, _, _ := strings.Cut(string(body), "\n")
	if role = strings.TrimSpace(role); !awssub.ValidRoleName(role) {
		// A role name goes into the next request's path: anything else
		// (credentials JSON from a misconfigured URL, say) must not.
		return fail(0, "aws metadata returned an invalid role name "+quoteIfPlain(role), nil)
	}
	body, err = s.metadata(ctx, http.MethodGet, strings.TrimRight(s.CredentialsURL, "/")+"/"+url.PathEscape(role), awsIMDSv2TokenHeader, session, "role credentials")
	if err != nil {
		return err
	}
	mc, err := awssub.ParseMetadataCredentials(body)
	if err != nil {
		return fail(0, "", err)
	}
	if !mc.Expires.IsZero() && !now.Before(mc.Expires) {
		return fail(0, "", httpx.Retryable(errs.New("aws metadata returned expired role credentials")))
	}
	r.creds = aws.Credentials{
		AccessKeyID: mc.AccessKeyID, SecretAccessKey: mc.SecretAccessKey, SessionToken: mc.SessionToken,
		Source: "ec2 instance metadata", CanExpire: !mc.Expires.IsZero(), Expires: mc.Expires,
	}
	if !mc.Expires.IsZero() && now.Before(mc.Expires.Add(-awsCredentialsRefresh)) {
		creds := r.creds
		c.creds, c.expires = func() aws.Credentials { return creds }, mc.Expires.Add(-awsCredentialsRefresh)
	}
	// Otherwise there is nothing to cache against: used once, only the
	// region is kept.
	return nil
}

// metadata performs one request to the metadata service, with the header
// name: value unless value is empty, and returns its body.
func (s *Subject) metadata(ctx context.Context, method, rawURL, name, value, what string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, awsMetadataTimeout)
	defer cancel()
	what = "aws metadata " + what
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, fail(0, what+": invalid URL", nil)
	}
	if value != "" {
		req.Header[name] = []string{value}
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return nil, fail(0, "", httpx.Transient(errs.Errorf("%s: %w", what, stripURLError(err))))
	}
	defer resp.Body.Close()
	body, err := fsutil.ReadUpTo(resp.Body, awsMetadataMaxBody)
	switch {
	case err != nil:
		return nil, fail(0, "", httpx.Transient(errs.Errorf("%s: reading the response: %w", what, err)))
	case resp.StatusCode != http.StatusOK:
		return nil, fail(resp.StatusCode, what+" request to "+httpx.RedactURL(req.URL)+" failed", nil)
	case len(body) > awsMetadataMaxBody:
		return nil, fail(0, fmt.Sprintf("%s response is larger than %d bytes", what, awsMetadataMaxBody), nil)
	}
	return body, nil
}

// stripURLError replaces a *url.Error's URL by its redacted form, keeping the
// error chain.
func stripURLError(err error) error {
	if ue, ok := errtree.As[*url.Error](err); ok {
		if u, perr := url.Parse(ue.URL); perr == nil {
			c := *ue
			c.URL = httpx.RedactURL(u)
			return &c
		}
	}
	return err
}

// quoteIfPlain quotes a short metadata answer made of name characters, and
// otherwise gives only its length: a misconfigured URL may serve credentials.
func quoteIfPlain(s string) string {
	if len(s) <= 64 && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("(%d bytes)", len(s))
}
