//go:build race

package downscope

// raceEnabled: the race detector is on. Then sync.Pool drops some of the
// items put back (on purpose, to expose misuse), so a mint sometimes
// allocates its pooled seal buffer or nonce batch again, and allocation
// counts vary from run to run.
const raceEnabled = true
