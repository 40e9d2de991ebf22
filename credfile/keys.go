package credfile

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/jsonkeys"
	"github.com/stsgo/sts/internal/logenv"
)

// schema lists the keys of every file type the package reads, at every
// level: a key that looks like one of them (another case, a Unicode
// folding, a confusable spelling, a duplicate) is refused, a key it does
// not list is logged at debug level and used for "did you mean" hints. The
// names of credential_source.headers are free (check.Headers checks them);
// source_credentials is a file of its own.
var schema = jsonkeys.ParseSchema(`
	type universe_domain quota_project_id
	audience subject_token_type token_url token_info_url revoke_url
	service_account_impersonation_url service_account_impersonation{token_lifetime_seconds}
	credential_source{
		file url headers* format{type subject_token_field_name}
		executable{command timeout_millis output_file interactive_timeout_millis}
		environment_id region_url regional_cred_verification_url imdsv2_session_token_url
		certificate{use_default_certificate_config certificate_config_location trust_chain_path}
	}
	workforce_pool_user_project client_id client_secret refresh_token
	project_id private_key_id private_key client_email auth_uri token_uri
	auth_provider_x509_cert_url client_x509_cert_url
	account
	source_credentials^ delegates
`)

// checkKeys refuses look-alike keys, naming the first.
func checkKeys(data []byte) (*jsonkeys.Report, error) {
	r, p := jsonkeys.Check(data, schema)
	if p != nil {
		return nil, invalid(p.Field(), "%s", p.Reason)
	}
	return r, nil
}

// logUnknown logs the keys the package does not know at debug level: a
// misspelled optional key is otherwise silently ignored.
func logUnknown(o *Options, r *jsonkeys.Report) {
	if len(r.Unknown) == 0 {
		return
	}
	l := logenv.Resolve(o.Logger)
	if l == nil || !l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	names := make([]string, len(r.Unknown))
	for i, k := range r.Unknown {
		names[i] = truncate(k.Field(), 100)
	}
	l.Log(context.Background(), slog.LevelDebug, "sts: credential file has keys this package does not use", "keys", names)
}

// hint adds a "did you mean" to a *sts.ValidationError about a key the file
// does not have when the file has an unknown key close to it: the caller
// misspelled it (subject_tokn_type).
func hint(err error, r *jsonkeys.Report) error {
	ve, ok := errtree.As[*sts.ValidationError](err)
	if r == nil || !ok {
		return err
	}
	field := ve.Field
	path, name := "", field
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		path, name = field[:i], field[i+1:]
	}
	// A key the file lacks, misspelled at the same level; or, for a key the
	// file has (an object missing one of its members), a misspelled member.
	at, candidates := path, []string{name}
	if r.Has(field) {
		at, candidates = field, knownAt(field)
	}
	for _, k := range r.Unknown {
		if k.Path != at {
			continue
		}
		if s := check.Suggest(k.Name, candidates); s != "" {
			out := *ve
			out.Reason += fmt.Sprintf("; the file has %q: did you mean %q?", truncate(k.Name, 64), s)
			return &out
		}
	}
	return err
}

// knownAt lists the known keys of the object at path ("" for the top).
func knownAt(path string) []string {
	s := schema
	if path != "" {
		for _, seg := range strings.Split(path, ".") {
			if s = s.Keys[seg]; s == nil {
				return nil
			}
		}
	}
	names := make([]string, 0, len(s.Keys))
	for k := range s.Keys {
		names = append(names, k)
	}
	slices.Sort(names) // deterministic ties
	return names
}
