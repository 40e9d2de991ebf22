// Package proctest watches processes a test started indirectly (through a
// credential executable), by their ids: whether they and their process
// groups are gone. It works on Unix only.
package proctest
