package credfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/gce"
	"github.com/stsgo/sts/internal/httpx"
)

// Environment variables Detect reads (through Options.Getenv), besides
// EnvCredentials.
const (
	// EnvCloudSDKConfig is gcloud's configuration directory, where the
	// well-known file is; unset means the per-system default.
	EnvCloudSDKConfig = "CLOUDSDK_CONFIG"
	// EnvMetadataHost is where the metadata server is (host or host:port),
	// as cloud.google.com/go/compute/metadata reads it: from the process
	// environment, not Options.Getenv. `sts serve` prints a value for it.
	EnvMetadataHost = gce.HostEnv
)

// WellKnownFileName is the name of the file "gcloud auth
// application-default login" writes in gcloud's configuration directory.
const WellKnownFileName = "application_default_credentials.json"

// TypeMetadataServer is the Type of credentials Detect found on a metadata
// server: the tokens of the platform's default service account. It is no
// file type.
const TypeMetadataServer = "metadata_server"

// ErrNoCredentials is the cause (see errors.Is) of Detect's error when it
// found no credentials anywhere.
var ErrNoCredentials = errs.New("no credentials found")

// Origin says where credentials came from.
type Origin int

const (
	// FromCaller is Load's and LoadFile's: the caller gave the data or named
	// the file.
	FromCaller Origin = iota
	// FromEnv is the file GOOGLE_APPLICATION_CREDENTIALS names.
	FromEnv
	// FromWellKnownFile is gcloud's application default credentials file
	// (see WellKnownFile).
	FromWellKnownFile
	// FromMetadataServer is the metadata server of the platform (or of
	// GCE_METADATA_HOST).
	FromMetadataServer
)

// String names the origin: "caller", "GOOGLE_APPLICATION_CREDENTIALS",
// "gcloud well-known file" or "metadata server".
func (o Origin) String() string {
	switch o {
	case FromCaller:
		return "caller"
	case FromEnv:
		return EnvCredentials
	case FromWellKnownFile:
		return "gcloud well-known file"
	case FromMetadataServer:
		return "metadata server"
	}
	return fmt.Sprintf("Origin(%d)", int(o))
}

// Origin returns where the credentials came from.
func (c *Credentials) Origin() Origin { return c.origin }

// Path returns the file the credentials were read from, or "" (Load, the
// metadata server).
func (c *Credentials) Path() string { return c.path }

// WellKnownFile returns where gcloud keeps application default
// credentials, with opts.Getenv (nil: os.Getenv): $CLOUDSDK_CONFIG, else
// %APPDATA%\gcloud on Windows and $HOME/.config/gcloud elsewhere, followed
// by WellKnownFileName. It returns "" when none of these variables is set.
func WellKnownFile(opts Options) string { return wellKnownFile(opts.getenv, runtime.GOOS) }

func wellKnownFile(getenv func(string) string, goos string) string {
	if dir := getenv(EnvCloudSDKConfig); dir != "" {
		return filepath.Join(dir, WellKnownFileName)
	}
	if goos == "windows" {
		if dir := getenv("APPDATA"); dir != "" {
			return filepath.Join(dir, "gcloud", WellKnownFileName)
		}
		return ""
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".config", "gcloud", WellKnownFileName)
	}
	return ""
}

// Detect finds the caller's credentials the way Google's client libraries
// do, and says where (Credentials.Origin, Credentials.Path):
//
//  1. the file GOOGLE_APPLICATION_CREDENTIALS names, if set;
//  2. gcloud's well-known file (WellKnownFile), if it exists;
//  3. the metadata server, through cloud.google.com/go/compute/metadata
//     (GCE_METADATA_HOST, else the platform's), if it answers within
//     opts.MetadataProbe (2 s by default; negative skips this step): its
//     default service account's tokens for opts.Scopes, behind the same
//     cache as a file's (Type TypeMetadataServer).
//
// A file found at step 1 or 2 is loaded with LoadFile, with all its checks;
// its errors are returned, without trying further steps. When nothing is
// found the error is an *sts.Error with Op "detect" saying what was tried,
// with ErrNoCredentials as its cause. ctx bounds the search.
func Detect(ctx context.Context, opts Options) (*Credentials, error) {
	if err := ctx.Err(); err != nil {
		return nil, &sts.Error{Op: "detect", Err: err}
	}
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	if path := opts.getenv(EnvCredentials); path != "" {
		c, err := LoadFile(path, opts)
		if err != nil {
			return nil, err
		}
		c.origin = FromEnv
		return c, nil
	}
	tried := []string{EnvCredentials + " is not set"}
	if wk := WellKnownFile(opts); wk != "" {
		c, err := LoadFile(wk, opts)
		switch {
		case err == nil:
			c.origin = FromWellKnownFile
			return c, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
		tried = append(tried, fmt.Sprintf("there is no file %s", wk))
	} else {
		tried = append(tried, "neither "+EnvCloudSDKConfig+" nor HOME (APPDATA on Windows) is set")
	}
	if opts.MetadataProbe >= 0 {
		c, err := fromMetadata(ctx, &opts)
		if c != nil || err != nil {
			return c, err
		}
		probe := opts.MetadataProbe
		if probe == 0 {
			probe = gce.DefaultProbe
		}
		tried = append(tried, fmt.Sprintf("no metadata server answered within %v", probe))
	}
	return nil, &sts.Error{Op: "detect", Err: errs.Errorf("%w: %s", ErrNoCredentials, strings.Join(tried, "; "))}
}

// fromMetadata returns the metadata server's credentials, or nil, nil when
// no server answers the probe.
func fromMetadata(ctx context.Context, o *Options) (*Credentials, error) {
	gc := gce.NewClient(nil)
	if !gc.Probe(ctx, o.MetadataProbe) {
		return nil, nil
	}
	bound := o.MetadataProbe
	if bound <= 0 {
		bound = gce.DefaultProbe
	}
	qctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	universe, err := gc.Universe(qctx)
	if err != nil {
		return nil, (*sts.Error)(err.(*httpx.Error))
	}
	email, _ := gc.Email(qctx) // informative only
	quota := strings.TrimSpace(o.getenv(EnvQuotaProject))
	if err := verr(check.ProjectID(EnvQuotaProject, quota)); err != nil {
		return nil, err
	}
	ts, err := o.cached(gc.Tokens(o.scopes()))
	if err != nil {
		return nil, err
	}
	return &Credentials{
		typ:            TypeMetadataServer,
		universe:       universe,
		tokenURL:       gce.Endpoint("instance/service-accounts/default/token"),
		tokenInfoURL:   stsEndpoint(universe, "/v1/introspect"),
		quotaProject:   quota,
		serviceAccount: email,
		ts:             ts,
		http:           o.HTTPOptions,
		origin:         FromMetadataServer,
	}, nil
}
