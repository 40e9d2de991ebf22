package aws

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/stsgo/sts/internal/check"
)

// DefaultVerificationURL is the GetCallerIdentity endpoint signed when a
// source names none; "{region}" stands for the region.
const DefaultVerificationURL = "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"

// Settings is the configuration of an AWS subject source, from a Go value
// or a credential file's credential_source.
type Settings struct {
	Region          string
	RegionURL       string
	CredentialsURL  string
	IMDSv2TokenURL  string
	VerificationURL string // empty means DefaultVerificationURL
	// HasProvider reports a credentials provider configured in Go.
	HasProvider bool
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Fields names the settings as the caller wrote them ("awssubject.Subject.RegionURL",
// "credential_source.region_url"). Region and Provider are empty where the
// caller has no such field (a credential file).
type Fields struct {
	Region, RegionURL, CredentialsURL, IMDSv2TokenURL, VerificationURL, Provider string
}

func (s *Settings) getenv(k string) string {
	if s.Getenv != nil {
		return s.Getenv(k)
	}
	return os.Getenv(k)
}

// EnvHasCredentials reports whether the environment holds an access key
// and its secret.
func (s *Settings) EnvHasCredentials() bool {
	return s.getenv("AWS_ACCESS_KEY_ID") != "" && s.getenv("AWS_SECRET_ACCESS_KEY") != ""
}

// Check checks the settings and that the environment gives what they
// leave out (a region, credentials), naming the offending field as f (or
// the environment variable) says.
func Check(s Settings, f Fields) *check.Error {
	if s.Region != "" && !ValidRegion(s.Region) {
		return check.Errorf(f.Region, "%q is not an AWS region name", s.Region)
	}
	for _, u := range []struct{ field, url string }{
		{f.RegionURL, s.RegionURL},
		{f.CredentialsURL, s.CredentialsURL},
		{f.IMDSv2TokenURL, s.IMDSv2TokenURL},
	} {
		if u.url != "" {
			if err := MetadataURL(u.field, u.url); err != nil {
				return err
			}
		}
	}
	verification := s.VerificationURL
	if verification == "" {
		verification = DefaultVerificationURL
	}
	if err := check.Endpoint(f.VerificationURL, strings.ReplaceAll(verification, "{region}", "us-east-1")); err != nil {
		return err
	}
	envRegion := ""
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if v := s.getenv(k); v != "" {
			if s.Region == "" && envRegion == "" && !ValidRegion(v) {
				return check.Errorf(k, "%q is not an AWS region name", v)
			}
			if envRegion == "" {
				envRegion = v
			}
		}
	}
	if s.Region == "" && envRegion == "" && s.RegionURL == "" {
		return check.Errorf(f.RegionURL, "required when neither %sAWS_REGION nor AWS_DEFAULT_REGION is set", orPrefix(f.Region))
	}
	if !s.HasProvider && !s.EnvHasCredentials() && s.CredentialsURL == "" {
		return check.Errorf(f.CredentialsURL, "required when neither %sAWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set", orPrefix(f.Provider))
	}
	return nil
}

// orPrefix lists a field before the environment variables of a message,
// when the caller has one.
func orPrefix(field string) string {
	if field == "" {
		return ""
	}
	return field + " nor "
}

// MetadataURL checks a URL of the EC2 instance metadata service: https
// anywhere, plain http only to the service's link-local addresses
// (169.254.169.254, fd00:ec2::254) and to loopback hosts.
func MetadataURL(field, raw string) *check.Error {
	u, err := url.Parse(raw)
	if err != nil {
		return check.Errorf(field, "not a valid URL")
	}
	if u.Scheme == "http" && u.User == nil {
		if ip := net.ParseIP(u.Hostname()); ip != nil && (ip.Equal(net.ParseIP("169.254.169.254")) || ip.Equal(net.ParseIP("fd00:ec2::254"))) {
			return nil
		}
	}
	if cerr := check.Endpoint(field, raw); cerr != nil {
		if u.Scheme == "http" {
			cerr.Reason = "plain http is only allowed to the metadata service (169.254.169.254, fd00:ec2::254) or loopback hosts, got host " + fmt.Sprintf("%q", u.Hostname())
		}
		return cerr
	}
	return nil
}
