package awssubject

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/public"
)

func TestCorpusAWSMetadata(t *testing.T) {
	creds := func(s string) map[string]string { return map[string]string{"role": s} }
	goodCreds := `{"Code":"Success","AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"` + fixture.ClientSecret + `","Token":"` + fixture.AccessToken + `","Expiration":"2999-01-01T00:00:00Z"}`
	type awsCase struct {
		name   string
		zone   string // body of the availability zone answer
		role   string // body of the role name answer
		cred   map[string]string
		status int // status of the credentials answer (0: 200)
		want   string
	}
	_ = creds
	cases := []awsCase{
		{name: "empty zone", zone: "", role: "r", want: "availability zone"},
		{name: "zone without letter", zone: "us-east-1", role: "r", want: "availability zone"},
		{name: "zone html", zone: "<html>404</html>", role: "r", want: "availability zone"},
		{name: "zone with slash", zone: "evil.com/a", role: "r", want: "availability zone"},
		{name: "zone 10 MB", zone: strings.Repeat("a", 10<<20), role: "r", want: "availability zone"},
		{name: "empty role", zone: "us-east-1a", role: "", want: "role"},
		{name: "role with slash", zone: "us-east-1a", role: "../../etc", want: "role"},
		{name: "credentials not json", zone: "us-east-1a", role: "r", cred: map[string]string{"r": "AccessKeyId=A"}, want: "credentials"},
		{name: "credentials empty", zone: "us-east-1a", role: "r", cred: map[string]string{"r": ""}, want: "credentials"},
		{name: "credentials no secret", zone: "us-east-1a", role: "r", cred: map[string]string{"r": `{"Code":"Success","AccessKeyId":"A"}`}, want: "credentials"},
		{name: "credentials no key id", zone: "us-east-1a", role: "r", cred: map[string]string{"r": `{"Code":"Success","SecretAccessKey":"` + fixture.ClientSecret + `"}`}, want: "credentials"},
		{name: "credentials failure code", zone: "us-east-1a", role: "r", cred: map[string]string{"r": `{"Code":"AssumeRoleUnauthorizedAccess","Message":"denied"}`}, want: "credentials"},
		{name: "credentials expired", zone: "us-east-1a", role: "r", cred: map[string]string{"r": strings.Replace(goodCreds, "2999", "1999", 1)}, want: "expire"},
		{name: "credentials bad expiration", zone: "us-east-1a", role: "r", cred: map[string]string{"r": strings.Replace(goodCreds, "2999-01-01T00:00:00Z", "soon", 1)}, want: "expiration"},
		{name: "credentials wrong types", zone: "us-east-1a", role: "r", cred: map[string]string{"r": `{"AccessKeyId":1,"SecretAccessKey":2}`}, want: "credentials"},
		{name: "credentials 404", zone: "us-east-1a", role: "r", cred: map[string]string{"r": goodCreds}, status: 404, want: "404"},
		{name: "credentials 500", zone: "us-east-1a", role: "r", cred: map[string]string{"r": goodCreds}, status: 500, want: "500"},
		{name: "credentials redirect", zone: "us-east-1a", role: "r", cred: map[string]string{"r": goodCreds}, status: 302, want: "302"},
		{name: "zone never answers", zone: "hang", role: "r", want: "deadline exceeded"},
		{name: "zone body never ends", zone: "stall", role: "r", want: "deadline exceeded"},
		{name: "role never answers", zone: "us-east-1a", role: "hang", want: "deadline exceeded"},
		{name: "credentials never answer", zone: "us-east-1a", role: "r", cred: map[string]string{"r": "hang"}, want: "deadline exceeded"},
	}
	// hangs reports whether the answer to path is configured as "hang".
	hangs := func(path, zone, role string, cred map[string]string) bool {
		switch {
		case path == "/latest/meta-data/placement/availability-zone":
			return zone == "hang"
		case strings.TrimSuffix(path, "/") == "/latest/meta-data/iam/security-credentials":
			return role == "hang"
		}
		name := strings.TrimPrefix(path, "/latest/meta-data/iam/security-credentials/")
		return cred[name] == "hang"
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := &http.Client{Transport: fixture.RoundTrip(func(r *http.Request) (*http.Response, error) {
					if hangs(r.URL.Path, c.zone, c.role, c.cred) {
						<-r.Context().Done()
						return nil, r.Context().Err()
					}
					switch p := r.URL.Path; {
					case p == "/latest/meta-data/placement/availability-zone" && c.zone == "stall":
						return fixture.Response(r, 200, "text/plain", &fixture.Stall{Prefix: []byte("us-ea"), Ctx: r.Context()}), nil
					case p == "/latest/meta-data/placement/availability-zone":
						return fixture.Response(r, 200, "text/plain", strings.NewReader(c.zone)), nil
					case p == "/latest/meta-data/iam/security-credentials" || p == "/latest/meta-data/iam/security-credentials/":
						return fixture.Response(r, 200, "text/plain", strings.NewReader(c.role)), nil
					case strings.HasPrefix(p, "/latest/meta-data/iam/security-credentials/"):
						name := strings.TrimPrefix(p, "/latest/meta-data/iam/security-credentials/")
						body, ok := c.cred[name]
						if !ok {
							return fixture.Response(r, 404, "text/plain", strings.NewReader("not found")), nil
						}
						st := c.status
						if st == 0 {
							st = 200
						}
						return fixture.Response(r, st, "text/plain", strings.NewReader(body), "Location", "http://evil.example/"), nil
					}
					return fixture.Response(r, 404, "text/plain", strings.NewReader("not found")), nil
				})}
				s := &Subject{
					RegionURL:      "http://169.254.169.254/latest/meta-data/placement/availability-zone",
					CredentialsURL: "http://169.254.169.254/latest/meta-data/iam/security-credentials",
					HTTPClient:     client,
					Getenv:         func(string) string { return "" },
				}
				start := time.Now()
				tok, err := s.SubjectToken(context.Background(), sts.SubjectRequest{Audience: corpusAud, SubjectTokenType: sts.TokenTypeAWS4Request})
				if err == nil {
					t.Fatalf("accepted: token of %d bytes", len(tok))
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("took %v, past the 10 s metadata deadline", d)
				}
				fixture.CheckCorpusError(t, err, c.want, isPublic)
				fixture.CheckErrorSecrets(t, "aws", err, "")
			})
		})
	}
	t.Logf("AWS metadata corpus: %d malformed answers", len(cases))
}

const corpusAud = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov"

// isPublic reports whether err is, or wraps, an *sts.Error or an
// *sts.ValidationError.
var isPublic = public.Is

// TestSubjectTypeMismatchFailsAtConstruction: a Subject supplies AWS
// requests only; another token type fails in sts.NewTokenSource, naming the
// field, as subject and as actor.
func TestSubjectTypeMismatchFailsAtConstruction(t *testing.T) {
	aws := &Subject{Region: "us-east-1", Getenv: fixture.EnvMap(map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": fixture.ClientSecret})}
	for _, typ := range []string{sts.TokenTypeJWT, sts.TokenTypeSAML2, sts.TokenTypeMTLS} {
		_, err := sts.NewTokenSource(sts.Config{Subject: aws, SubjectTokenType: typ, Audience: corpusAud})
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != "Config.SubjectTokenType" || !strings.Contains(ve.Reason, "a aws subject supplies") {
			t.Fatalf("%s: err = %v, want a *sts.ValidationError for Config.SubjectTokenType", typ, err)
		}
		fixture.CheckErrorSecrets(t, "type", err, "")
		_, err = sts.NewTokenSource(sts.Config{Subject: sts.StaticSubject(fixture.SubjectToken), SubjectTokenType: sts.TokenTypeJWT, Audience: corpusAud,
			ActorToken: aws, ActorTokenType: typ})
		if !errors.As(err, &ve) || ve.Field != "Config.ActorTokenType" {
			t.Fatalf("actor %s: err = %v, want a *sts.ValidationError for Config.ActorTokenType", typ, err)
		}
	}
	// The type it supplies is accepted, and a bad configuration is the
	// constructor's error, naming the Subject's field.
	if _, err := sts.NewTokenSource(sts.Config{Subject: aws, SubjectTokenType: sts.TokenTypeAWS4Request, Audience: corpusAud}); err != nil {
		t.Fatal(err)
	}
	var ve *sts.ValidationError
	_, err := sts.NewTokenSource(sts.Config{Subject: &Subject{Region: "not a region", Getenv: fixture.EnvMap(nil)}, SubjectTokenType: sts.TokenTypeAWS4Request, Audience: corpusAud})
	if !errors.As(err, &ve) || ve.Field != "awssubject.Subject.Region" {
		t.Errorf("bad region: %v", err)
	}
}
