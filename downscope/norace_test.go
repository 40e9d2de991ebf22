//go:build !race

package downscope

// raceEnabled: the race detector is on (see race_test.go).
const raceEnabled = false
