package metaserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"
)

// MaxIDTokenAudiences is how many audiences' ID tokens a Server keeps;
// past it, the least recently minted one is dropped.
const MaxIDTokenAudiences = 64

// idTokenMargin is how long before its expiry a kept ID token is replaced:
// clients keep it a while, and check it against their own clocks.
const idTokenMargin = 5 * time.Minute

// idMintTimeout bounds one shared mint, which runs under its own deadline
// rather than the first caller's.
const idMintTimeout = time.Minute

// idCache keeps the last ID token minted for each audience until shortly
// before it expires, so that many clients asking for one audience cause one
// mint per token lifetime. Callers asking for one audience at once share
// one mint; each stops waiting when its own context ends.
type idCache struct {
	mint func(context.Context, string) (string, error)

	mu      sync.Mutex
	entries map[string]*idEntry
	order   []string // audiences, oldest first
}

type idEntry struct {
	tok    string
	exp    time.Time
	flight *idFlight // the mint under way, or nil
}

// idFlight is one mint; done is closed when tok and err are set.
type idFlight struct {
	done chan struct{}
	tok  string
	err  error
}

func (c *idCache) token(ctx context.Context, aud string) (string, error) {
	c.mu.Lock()
	e := c.entry(aud)
	if e.tok != "" && time.Now().Add(idTokenMargin).Before(e.exp) {
		tok := e.tok
		c.mu.Unlock()
		return tok, nil
	}
	f := e.flight
	if f == nil {
		f = &idFlight{done: make(chan struct{})}
		e.flight = f
		go c.run(ctx, aud, e, f)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// entry returns aud's entry, made (and the oldest dropped) if need be.
// c.mu is held.
func (c *idCache) entry(aud string) *idEntry {
	if e, ok := c.entries[aud]; ok {
		return e
	}
	if c.entries == nil {
		c.entries = map[string]*idEntry{}
	}
	if len(c.order) >= MaxIDTokenAudiences {
		delete(c.entries, c.order[0])
		c.order = append(c.order[:0], c.order[1:]...)
	}
	e := &idEntry{}
	c.entries[aud] = e
	c.order = append(c.order, aud)
	return e
}

// run mints for f, under its own deadline, and keeps the token in e.
func (c *idCache) run(ctx context.Context, aud string, e *idEntry, f *idFlight) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), idMintTimeout)
	defer cancel()
	f.tok, f.err = c.mint(ctx, aud)
	c.mu.Lock()
	e.flight = nil
	e.tok, e.exp = "", time.Time{}
	if f.err == nil {
		if exp, ok := jwtExpiry(f.tok); ok {
			e.tok, e.exp = f.tok, exp
		}
	}
	c.mu.Unlock()
	close(f.done)
}

// jwtExpiry reads the exp claim of a JWT without checking anything else;
// ok is false when the token is not a JWT with a numeric exp.
func jwtExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return time.Time{}, false
	}
	exp, err := claims.Exp.Int64()
	if err != nil || exp <= 0 || exp > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(exp, 0), true
}
