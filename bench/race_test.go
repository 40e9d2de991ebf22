//go:build race

package bench

// raceEnabled: the race detector is on. Then sync.Pool drops some of the
// items put back (on purpose, to expose misuse), so pooled buffers are
// allocated again, and timings mean little.
const raceEnabled = true
