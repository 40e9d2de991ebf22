package ststest

import "slices"

// Internals that the external tests check.
var (
	InMemoryURL            = inMemoryURL
	NoLocations            = noLocations
	ErrTokenExpired        = errTokenExpired
	ErrCertificateRequired = errCertificateRequired
	ErrConnectionReset     = errConnectionReset
	ErrServerClosed        = errServerClosed
	SnakeToCamel           = snakeToCamel
)

// RolePermissions returns a copy of the permissions the emulator gives a
// role, nil for a role it does not know.
func RolePermissions(role string) []string { return slices.Clone(rolePermissions[role]) }

// PendingFaults returns how many pushed faults have not been consumed yet.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults)
}

// AllowedLocationsURL returns the allowedLocations lookup of resource.
func (s *Server) AllowedLocationsURL(resource string) string {
	return s.URL + "/v1/" + resource + "/allowedLocations"
}
