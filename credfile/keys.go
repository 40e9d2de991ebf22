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
// not list is logged at debug level and used for "did you mean" hints.
var schema = func() *jsonkeys.Schema {
	keys := func(names ...string) *jsonkeys.Schema {
		s := &jsonkeys.Schema{Keys: map[string]*jsonkeys.Schema{}}
		for _, n := range names {
			s.Keys[n] = nil
		}
		return s
	}
	source := keys("file", "url", "headers", "format", "executable", "environment_id", "region_url",
		"regional_cred_verification_url", "imdsv2_session_token_url", "certificate")
	source.Keys["headers"] = &jsonkeys.Schema{Free: true} // names checked by check.Headers
	source.Keys["format"] = keys("type", "subject_token_field_name")
	source.Keys["executable"] = keys("command", "timeout_millis", "output_file", "interactive_timeout_millis")
	source.Keys["certificate"] = keys("use_default_certificate_config", "certificate_config_location", "trust_chain_path")
	top := keys(
		// every type
		"type", "universe_domain", "quota_project_id",
		// external_account, external_account_authorized_user
		"audience", "subject_token_type", "token_url", "token_info_url", "revoke_url",
		"service_account_impersonation_url", "service_account_impersonation", "credential_source",
		"workforce_pool_user_project", "client_id", "client_secret", "refresh_token",
		// service_account
		"project_id", "private_key_id", "private_key", "client_email", "auth_uri", "token_uri",
		"auth_provider_x509_cert_url", "client_x509_cert_url",
		// authorized_user (gcloud auth application-default login)
		"account",
		// impersonated_service_account
		"source_credentials", "delegates",
	)
	top.Keys["credential_source"] = source
	top.Keys["service_account_impersonation"] = keys("token_lifetime_seconds")
	top.Keys["source_credentials"] = top
	return top
}()

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
