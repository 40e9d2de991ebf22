package sts

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
)

// isTransientTransport reports whether a failure to get a response is worth
// retrying: network errors and per-attempt time-outs are; a cancelled caller
// is not.
func isTransientTransport(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ue *url.Error
	return errors.As(err, &ue)
}

// checkEndpoint enforces that credentials only travel over https, except to
// loopback hosts (tests, emulators). field names the configuration field.
func checkEndpoint(field, raw string) error {
	if raw == "" {
		return invalid(field, "must not be empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid(field, "not a valid URL")
	}
	if u.Host == "" {
		return invalid(field, "URL %q has no host", redactURL(u))
	}
	if u.User != nil {
		return invalid(field, "URL must not carry user information")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return invalid(field, "plain http is only allowed for loopback hosts, got host %q", u.Hostname())
	default:
		return invalid(field, "scheme must be https, got %q", u.Scheme)
	}
}

// IsLoopback reports whether host (a host name or IP literal, without port)
// is a loopback address: "localhost", 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// redactURL renders u without user information or query string, which may
// carry secrets.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.Fragment = ""
	return c.String()
}
