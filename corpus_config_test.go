package sts

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The configuration half of the corpus: credential files, access boundary
// JSON, executable responses, AWS metadata answers and certificate
// configurations, each malformed in one way.

const relAud = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov"

type relConfigCase struct {
	name string
	data []byte
	want string // what the error must say, usually the field
}

func TestCorpusAccessBoundaries(t *testing.T) {
	rule := func(res, perm, cond string) string {
		r := `{"availableResource":` + res + `,"availablePermissions":` + perm
		if cond != "" {
			r += `,"availabilityCondition":` + cond
		}
		return r + `}`
	}
	ok := rule(`"//storage.googleapis.com/projects/_/buckets/b"`, `["inRole:roles/storage.objectViewer"]`, "")
	wrap := func(rules ...string) string {
		return `{"accessBoundary":{"accessBoundaryRules":[` + strings.Join(rules, ",") + `]}}`
	}
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = ok
	}
	cases := []relConfigCase{
		{"empty", []byte(``), "accessBoundary"},
		{"null", []byte(`null`), "accessBoundary"},
		{"array", []byte(`[]`), "accessBoundary"},
		{"empty object", []byte(`{}`), "missing"},
		{"truncated", []byte(wrap(ok)[:30]), "accessBoundary"},
		{"syntax error", []byte(`{"accessBoundary":{,}}`), "not valid JSON"},
		{"trailing data", []byte(wrap(ok) + `{}`), "unexpected data"},
		{"unknown top-level field", []byte(`{"accessBoundary":{"accessBoundaryRules":[` + ok + `]},"extra":1}`), "extra"},
		{"unknown rule field", []byte(wrap(`{"availableResource":"//x","availablePermissions":["inRole:roles/x"],"foo":1}`)), "foo"},
		{"rules beside wrapper", []byte(`{"accessBoundary":{"accessBoundaryRules":[` + ok + `]},"accessBoundaryRules":[` + ok + `]}`), "accessBoundaryRules"},
		{"no rules", []byte(wrap()), "accessBoundaryRules"},
		{"eleven rules", []byte(wrap(eleven...)), "accessBoundaryRules"},
		{"rules not an array", []byte(`{"accessBoundary":{"accessBoundaryRules":{}}}`), "accessBoundaryRules"},
		{"rule not an object", []byte(wrap(`"rule"`)), "accessBoundaryRules"},
		{"empty resource", []byte(wrap(rule(`""`, `["inRole:roles/x"]`, ""))), "availableResource"},
		{"resource number", []byte(wrap(rule(`5`, `["inRole:roles/x"]`, ""))), "availableResource"},
		{"no permissions", []byte(wrap(rule(`"//x"`, `[]`, ""))), "availablePermissions"},
		{"permissions string", []byte(wrap(rule(`"//x"`, `"inRole:roles/x"`, ""))), "availablePermissions"},
		{"permission without inRole", []byte(wrap(rule(`"//x"`, `["roles/storage.objectViewer"]`, ""))), "availablePermissions[0]"},
		{"empty permission", []byte(wrap(rule(`"//x"`, `["inRole:roles/x",""]`, ""))), "availablePermissions[1]"},
		{"permission with space", []byte(wrap(rule(`"//x"`, `["inRole:roles/a b"]`, ""))), "availablePermissions[0]"},
		{"condition without expression", []byte(wrap(rule(`"//x"`, `["inRole:roles/x"]`, `{"title":"t"}`))), "expression"},
		{"condition not an object", []byte(wrap(rule(`"//x"`, `["inRole:roles/x"]`, `"true"`))), "availabilityCondition"},
		{"condition expression number", []byte(wrap(rule(`"//x"`, `["inRole:roles/x"]`, `{"expression":1}`))), "expression"},
		{"huge file", []byte(wrap(rule(`"//x`+strings.Repeat("x", 3<<20)+`"`, `["inRole:roles/x"]`, ""))), "larger than"},
		{"resource with space", []byte(wrap(rule(`"//storage.googleapis.com/projects/_/buckets/a b"`, `["inRole:roles/x"]`, ""))), "availableResource"},
		{"bucket with object path", []byte(wrap(rule(`"//storage.googleapis.com/projects/_/buckets/b/objects/o"`, `["inRole:roles/x"]`, ""))), "must name one bucket"},
		{"relative resource", []byte(wrap(rule(`"projects/_/buckets/b"`, `["inRole:roles/x"]`, ""))), "full resource name"},
		{"role without name", []byte(wrap(rule(`"//x"`, `["inRole:roles/"]`, ""))), "availablePermissions[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := ParseAccessBoundary(c.data)
			if err == nil {
				t.Fatalf("accepted: %+v", b)
			}
			var ve *ValidationError
			if !asValidation(err, &ve) {
				t.Errorf("error %T is not a *ValidationError", err)
			}
			relCheckCorpusError(t, err, c.want)
		})
	}
	t.Logf("access boundary corpus: %d malformed boundaries", len(cases))
}

func asValidation(err error, ve **ValidationError) bool {
	v, ok := err.(*ValidationError)
	*ve = v
	return ok
}

// relExecResponses are malformed executable responses, with what the error
// must say. They carry the subject token, which must not leak.
func relExecResponses() []relConfigCase {
	exp := fmt.Sprint(time.Now().Add(time.Hour).Unix())
	ok := func(fields string) []byte {
		return []byte(`{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":"` + relSubjectToken + `"` + fields + `}`)
	}
	return []relConfigCase{
		{"empty output", []byte(``), "empty output"},
		{"not json", []byte(relSubjectToken), "not a JSON object"},
		{"json array", []byte(`[` + string(ok(``)) + `]`), "not a JSON object"},
		{"truncated", ok(`,"expiration_time":` + exp)[:50], "malformed JSON"},
		{"trailing garbage", append(ok(`,"expiration_time":`+exp), '}'), "malformed JSON"},
		{"no version", []byte(`{"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "missing version"},
		{"version 2", []byte(`{"version":2,"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "unsupported version"},
		{"version string", []byte(`{"version":"one","success":true}`), "version"},
		{"version fraction", []byte(`{"version":1.5,"success":true}`), "version"},
		{"no success", []byte(`{"version":1,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "missing success"},
		{"success string", []byte(`{"version":1,"success":"true"}`), "success"},
		{"no token_type", []byte(`{"version":1,"success":true,"saml_response":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "missing token_type"},
		{"unknown token_type", []byte(`{"version":1,"success":true,"token_type":"urn:x:` + relSubjectToken + `","saml_response":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "unsupported token_type"},
		{"wrong token_type", []byte(`{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:id_token","id_token":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "does not match"},
		{"token_type number", []byte(`{"version":1,"success":true,"token_type":3}`), "token_type"},
		{"no saml_response", []byte(`{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","id_token":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "missing saml_response"},
		{"empty saml_response", []byte(`{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":"","expiration_time":` + exp + `}`), "missing saml_response"},
		{"saml_response number", []byte(`{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":7}`), "saml_response"},
		{"expiration string", ok(`,"expiration_time":"tomorrow"`), "expiration_time"},
		{"expiration fraction", ok(`,"expiration_time":1.5`), "expiration_time"},
		{"expiration object", ok(`,"expiration_time":{}`), "expiration_time"},
		{"failure response", []byte(`{"version":1,"success":false,"code":"401","message":"Caller not authorized: ` + relSubjectToken + `"}`), "401"},
		{"failure without code", []byte(`{"version":1,"success":false}`), "executable"},
		{"expired", ok(`,"expiration_time":1`), "expired"},
		{"message number", []byte(`{"version":1,"success":false,"code":"1","message":5}`), "message"},
	}
}

func TestCorpusExecutableResponses(t *testing.T) {
	if _, err := exec.LookPath("cat"); err != nil {
		t.Skip("no cat command to print the responses")
	}
	cases := relExecResponses()
	allow := func(k string) string {
		if k == "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES" {
			return "1"
		}
		return ""
	}
	runs := 0
	for _, c := range cases {
		// As the command's standard output (printed by cat).
		runs++
		t.Run("stdout/"+c.name, func(t *testing.T) {
			dir := t.TempDir()
			resp := filepath.Join(dir, "response.json")
			if err := os.WriteFile(resp, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s := ExecutableSubject{Command: []string{"cat", resp}, Getenv: allow}
			tok, err := s.SubjectToken(context.Background(), SubjectRequest{Audience: relAud, SubjectTokenType: TokenTypeSAML2})
			if err == nil {
				t.Fatalf("accepted a token of %d bytes", len(tok))
			}
			relCheckCorpusError(t, err, c.want)
			relCheckErrorSecrets(t, "executable", err, "")
		})
	}
	t.Logf("executable corpus: %d malformed responses, %d runs", len(cases), runs)
}

func TestCorpusExecutableOutputFile(t *testing.T) {
	// A corrupt output file fails before the command runs; "false" would
	// fail differently, so the message shows which path was taken.
	allow := func(k string) string {
		if k == "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES" {
			return "1"
		}
		return ""
	}
	var cases []relConfigCase
	for _, c := range relExecResponses() {
		switch c.name {
		case "empty output", "failure response", "failure without code", "expired", "message number":
			continue // the runner treats these as "run the command"
		}
		cases = append(cases, c)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.json")
			if err := os.WriteFile(out, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s := ExecutableSubject{Command: []string{"false"}, OutputFile: out, Getenv: allow}
			_, err := s.SubjectToken(context.Background(), SubjectRequest{Audience: relAud, SubjectTokenType: TokenTypeSAML2})
			relCheckCorpusError(t, err, "corrupt")
			relCheckCorpusError(t, err, c.want)
			relCheckErrorSecrets(t, "output file", err, "")
		})
	}
	t.Logf("executable output file corpus: %d corrupt files", len(cases))
}
