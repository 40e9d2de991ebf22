package credfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/wire"
)

// fileJSON holds every field of both file types. Strings that must be
// told apart from absent are pointers; numbers are raw so that "600" and 600
// both read.
type fileJSON struct {
	Type                           string                       `json:"type"`
	Audience                       string                       `json:"audience"`
	SubjectTokenType               string                       `json:"subject_token_type"`
	TokenURL                       *string                      `json:"token_url"`
	TokenInfoURL                   *string                      `json:"token_info_url"`
	ServiceAccountImpersonationURL *string                      `json:"service_account_impersonation_url"`
	ServiceAccountImpersonation    *serviceAccountImpersonation `json:"service_account_impersonation"`
	ClientID                       string                       `json:"client_id"`
	ClientSecret                   string                       `json:"client_secret"`
	QuotaProjectID                 string                       `json:"quota_project_id"`
	WorkforcePoolUserProject       string                       `json:"workforce_pool_user_project"`
	UniverseDomain                 *string                      `json:"universe_domain"`
	CredentialSource               *credentialSource            `json:"credential_source"`

	// external_account_authorized_user (and authorized_user)
	RefreshToken *string `json:"refresh_token"`
	RevokeURL    *string `json:"revoke_url"`

	// service_account
	ProjectID    string  `json:"project_id"`
	PrivateKeyID string  `json:"private_key_id"`
	PrivateKey   string  `json:"private_key"`
	ClientEmail  string  `json:"client_email"`
	TokenURI     *string `json:"token_uri"`

	// impersonated_service_account
	SourceCredentials json.RawMessage `json:"source_credentials"`
	Delegates         []string        `json:"delegates"`
}

type serviceAccountImpersonation struct {
	TokenLifetimeSeconds json.RawMessage `json:"token_lifetime_seconds"`
}

type credentialSource struct {
	File                        *string            `json:"file"`
	URL                         *string            `json:"url"`
	Headers                     map[string]string  `json:"headers"`
	Format                      *credentialFormat  `json:"format"`
	Executable                  *executableSource  `json:"executable"`
	EnvironmentID               *string            `json:"environment_id"`
	RegionURL                   *string            `json:"region_url"`
	RegionalCredVerificationURL *string            `json:"regional_cred_verification_url"`
	IMDSv2SessionTokenURL       *string            `json:"imdsv2_session_token_url"`
	Certificate                 *certificateSource `json:"certificate"`
}

type credentialFormat struct {
	// Not comparable, so that no equality function is linked for it.
	_                     [0]func()
	Type                  string `json:"type"`
	SubjectTokenFieldName string `json:"subject_token_field_name"`
}

type executableSource struct {
	Command                  *string         `json:"command"`
	TimeoutMillis            json.RawMessage `json:"timeout_millis"`
	OutputFile               string          `json:"output_file"`
	InteractiveTimeoutMillis json.RawMessage `json:"interactive_timeout_millis"`
}

type certificateSource struct {
	// Not comparable, so that no equality function is linked for it.
	_                           [0]func()
	UseDefaultCertificateConfig *bool   `json:"use_default_certificate_config"`
	CertificateConfigLocation   *string `json:"certificate_config_location"`
	TrustChainPath              string  `json:"trust_chain_path"`
}

// decodeCredentialsFile decodes the JSON, turning decoding errors into
// *sts.ValidationError that give a position or a field but never quote a value.
func decodeFile(data []byte) (*fileJSON, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte order mark, as Windows editors write
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, invalid("credentials JSON", "is empty")
	}
	if trimmed[0] != '{' {
		return nil, invalid("credentials JSON", "must be a JSON object")
	}
	var f fileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, credJSONError(data, err)
	}
	if dec.More() {
		off := dec.InputOffset()
		line, col := textPosition(data, off)
		return nil, invalid("credentials JSON", "unexpected data after the object at line %d, column %d", line, col)
	}
	var tail json.RawMessage
	if err := dec.Decode(&tail); err != io.EOF {
		line, col := textPosition(data, dec.InputOffset())
		return nil, invalid("credentials JSON", "unexpected data after the object at line %d, column %d", line, col)
	}
	return &f, nil
}

func credJSONError(data []byte, err error) error {
	se, syntax := errtree.As[*json.SyntaxError](err)
	te, mismatch := errtree.As[*json.UnmarshalTypeError](err)
	switch {
	case syntax:
		line, col := textPosition(data, max(se.Offset-1, 0)) // Offset is just past the bad byte
		return invalid("credentials JSON", "syntax error at line %d, column %d (byte %d)", line, col, se.Offset)
	case mismatch:
		return (*sts.ValidationError)(check.TypeMismatch("credentials JSON", te))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		line, col := textPosition(data, int64(len(data)))
		return invalid("credentials JSON", "truncated at line %d, column %d", line, col)
	}
	return invalid("credentials JSON", "is not valid JSON")
}

// textPosition converts the 0-based byte offset of a character into its
// 1-based line and column.
func textPosition(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	head := data[:off]
	line = bytes.Count(head, []byte{'\n'}) + 1
	col = int(off) - bytes.LastIndexByte(head, '\n')
	return line, col
}

// absent reports a member that is missing or null.
func absent(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// duration reads a member that counts units (seconds, milliseconds) as a
// JSON integer, or a string of one, and checks it with bounds. A count too
// large for a time.Duration reads as the largest one.
func duration(field string, raw json.RawMessage, unit time.Duration, bounds func(string, time.Duration) *check.Error) (time.Duration, error) {
	n, err := wire.ParseJSONInt(raw)
	if err != nil {
		units := "seconds"
		if unit == time.Millisecond {
			units = "milliseconds"
		}
		return 0, invalid(field, "must be an integer number of %s", units)
	}
	d := time.Duration(math.MaxInt64)
	if n < math.MaxInt64/int64(unit) {
		d = time.Duration(n) * unit
	}
	if err := bounds(field, d); err != nil {
		return 0, verr(err)
	}
	return d, nil
}
