package check

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/stsgo/sts/internal/httpx"
)

// Google services whose endpoints a credential file may name.
const (
	// ServiceSTS is the Security Token Service: token_url (/v1/token,
	// /v1/oauthtoken), token_info_url (/v1/introspect), revoke_url
	// (/v1/revoke).
	ServiceSTS = "sts"
	// ServiceIAMCredentials is IAM Credentials:
	// service_account_impersonation_url.
	ServiceIAMCredentials = "iamcredentials"
	// ServiceOAuth2 is Google's OAuth 2.0 token endpoint: the token_uri
	// of service_account and authorized_user files.
	ServiceOAuth2 = "oauth2"
)

// DefaultUniverse is the universe of Google Cloud's public endpoints.
const DefaultUniverse = "googleapis.com"

// GoogleHost reports whether host (a host name without port, in any case,
// with or without a final dot) is an endpoint of service in universe
// ("" means DefaultUniverse), in one of the forms Google documents and its
// auth libraries accepted when they checked endpoints, L being one DNS
// label (a location, a private-service-connect endpoint name):
//
//	S.U            S.mtls.U          (global, mTLS)
//	L.S.U          L.S.mtls.U        (locational)
//	S.L.U          S.L.mtls.U
//	L-S.U          L-S.mtls.U
//	S-L.p.U        S-L.p.mtls.U      (private service connect)
//	S.L.rep.U                        (regional endpoints)
//
// For ServiceOAuth2 in the default universe, accounts.google.com (older
// service account keys name https://accounts.google.com/o/oauth2/token)
// is one too.
func GoogleHost(service, universe, host string) bool {
	if universe == "" {
		universe = DefaultUniverse
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	universe = strings.ToLower(universe)
	if service == ServiceOAuth2 && universe == DefaultUniverse && host == "accounts.google.com" {
		return true
	}
	rest, ok := strings.CutSuffix(host, "."+universe)
	if !ok || service == "" {
		return false
	}
	rest = strings.TrimSuffix(rest, ".mtls")
	labels := strings.Split(rest, ".")
	for _, l := range labels {
		if !dnsLabel(l) {
			return false
		}
	}
	switch len(labels) {
	case 1: // S, L-S
		return labels[0] == service || strings.HasSuffix(labels[0], "-"+service)
	case 2: // L.S, S.L, S-L.p
		return labels[1] == service || labels[0] == service ||
			(labels[1] == "p" && strings.HasPrefix(labels[0], service+"-"))
	case 3: // S.L.rep
		return labels[0] == service && labels[2] == "rep" && !strings.HasSuffix(host, ".mtls."+universe)
	}
	return false
}

// dnsLabel reports whether l is one lower-case DNS label: letters, digits
// and inner hyphens, 1 to 63 bytes.
func dnsLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// HostAllowed reports whether host matches one of allowed: a host name or
// IP literal, compared without case and final dot, or "*.DOMAIN" for any
// name under DOMAIN (not DOMAIN itself).
func HostAllowed(host string, allowed []string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSuffix(a, "."))
		if suffix, ok := strings.CutPrefix(a, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if a != "" && host == strings.Trim(a, "[]") {
			return true
		}
	}
	return false
}

// AllowedHosts checks the entries of a caller's list of trusted hosts
// (field[i]): host names, IP literals or "*.DOMAIN" with at least two
// labels in DOMAIN, no ports, schemes or paths.
func AllowedHosts(field string, hosts []string) *Error {
	for i, h := range hosts {
		name := strings.TrimSuffix(strings.TrimPrefix(h, "*."), ".")
		ok := Domain(name) && (!strings.HasPrefix(h, "*.") || strings.Contains(name, "."))
		if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			ok = true
		}
		if !ok || (!strings.HasPrefix(h, "*.") && strings.Contains(name, "*")) {
			return Errorf(fmt.Sprintf("%s[%d]", field, i), "%q is not a host name, an IP address or *.DOMAIN", httpx.Truncate(h, 64))
		}
	}
	return nil
}

// FileEndpoint checks a URL a credential file names for service (field as
// the file spells it): an Endpoint (https, or plain http to loopback) whose
// host is loopback, a GoogleHost of service in universe, or one of allowed.
func FileEndpoint(field, raw, service, universe string, allowed []string) *Error {
	if err := Endpoint(field, raw); err != nil {
		return err
	}
	host := hostOf(raw)
	if Loopback(host) || GoogleHost(service, universe, host) || HostAllowed(host, allowed) {
		return nil
	}
	if universe == "" {
		universe = DefaultUniverse
	}
	return Errorf(field, "host %q is not a Google %s endpoint of universe %q, nor loopback: a credential file "+
		"may send credentials only there unless the caller allows the host", httpx.Truncate(host, 100), service, universe)
}

// FileUniverse checks a credential file's universe_domain against the
// caller's (both "" mean DefaultUniverse): a file may not move its
// endpoints to another universe by itself.
func FileUniverse(field, file, caller string) *Error {
	if err := Universe(field, file); err != nil {
		return err
	}
	if file == "" {
		file = DefaultUniverse
	}
	if caller == "" {
		caller = DefaultUniverse
	}
	if !strings.EqualFold(file, caller) {
		return Errorf(field, "%q is not the caller's universe %q: the caller must choose the universe", httpx.Truncate(file, 100), caller)
	}
	return nil
}

// hostOf returns the host name of an URL that URL accepted.
func hostOf(raw string) string {
	u, err := URL("", raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// SourceHeaders checks the URL a subject token is read from when the
// request carries headers (field names the URL): plain http may carry them
// only to loopback or a cloud metadata service (a link-local address,
// fd00:ec2::254, metadata.google.internal), since they are often
// credentials.
func SourceHeaders(field, raw string, headers int) *Error {
	if headers == 0 {
		return nil
	}
	u, err := URL(field, raw)
	if err != nil || u.Scheme != "http" {
		return err
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if Loopback(host) || host == "metadata.google.internal" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Zone() == "" {
		ip = ip.Unmap()
		if ip.IsLinkLocalUnicast() || ip == netip.MustParseAddr("fd00:ec2::254") {
			return nil
		}
	}
	return Errorf(field, "plain http to host %q would carry the request's headers in the clear: "+
		"use https (plain http is for loopback and cloud metadata services)", httpx.Truncate(host, 100))
}
