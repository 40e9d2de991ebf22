// Package deadline provides Context, the context of a token refresh and of
// its HTTP attempts: a context.Context that ends at a deadline, or earlier
// when cancelled or when its parent ends, and that costs little when nobody
// waits on it.
//
// A context.WithTimeout costs a context, a timer and a channel at once,
// and each context derived from it a map entry in its parent; a refresh
// makes two (the refresh's and the HTTP attempt's), and the HTTP transport
// derives a third. A Context makes its channel and arms its timer only when
// Done is first called (before that, Err compares the clock with the
// deadline), keeps its children in a small array, and embeds in the struct
// of its owner. It carries no values: Value always returns nil, so it is
// only for work started on the module's own behalf (a refresh runs under its
// own deadline, not a caller's context).
package deadline

import (
	"context"
	"sync"
	"time"
)

// Context is a context.Context without values that ends at its deadline,
// when Cancel is called, or when its parent ends, whichever comes first.
// Create it with New, or Init a zero Context in place. It is safe for
// concurrent use, and must not be copied once initialized.
type Context struct {
	parent   *Context
	deadline time.Time

	mu    sync.Mutex
	done  chan struct{} // made by the first Done
	timer *time.Timer   // armed with done
	err   error         // set when it ends

	// What ends with it: child Contexts and the functions of AfterFunc
	// (the contexts that the standard library derives from it), in small
	// arrays (attempts run one after the other) and slices past them.
	kids     [2]*Context
	moreKids []*Context
	funcs    [2]func()
	more     []func()
}

// New returns a Context that ends at d, or earlier when parent (nil: none)
// ends; its deadline is the earlier of d and the parent's.
func New(parent *Context, d time.Time) *Context {
	c := new(Context)
	c.Init(parent, d)
	return c
}

// Init prepares a zero Context as New describes.
func (c *Context) Init(parent *Context, d time.Time) {
	c.deadline = d
	if parent == nil {
		return
	}
	if parent.deadline.Before(d) {
		c.deadline = parent.deadline
	}
	c.parent = parent
	if err := parent.addKid(c); err != nil {
		c.end(err)
	}
}

// Deadline returns the deadline; ok is always true.
func (c *Context) Deadline() (deadline time.Time, ok bool) { return c.deadline, true }

// Value returns nil: a Context carries no values.
func (c *Context) Value(any) any { return nil }

// Done returns a channel that is closed when the Context ends. The first
// call makes it and arms the timer of the deadline.
func (c *Context) Done() <-chan struct{} {
	c.mu.Lock()
	if c.done == nil {
		c.done = make(chan struct{})
		switch d := time.Until(c.deadline); {
		case c.err != nil:
			close(c.done)
		case d > 0:
			c.timer = time.AfterFunc(d, c.expire)
		default:
			done := c.done
			c.mu.Unlock()
			c.end(context.DeadlineExceeded)
			return done
		}
	}
	done := c.done
	c.mu.Unlock()
	return done
}

// Err returns nil while the Context lasts, then context.DeadlineExceeded
// if it ended at its deadline, or context.Canceled (or the parent's error)
// if it was cancelled first. A deadline that has passed ends it here,
// whether or not the timer has fired (or been armed).
func (c *Context) Err() error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err == nil && !time.Now().Before(c.deadline) {
		c.end(context.DeadlineExceeded)
		c.mu.Lock()
		err = c.err
		c.mu.Unlock()
	}
	return err
}

// Cancel ends the Context with context.Canceled, unless it has ended, and
// releases its timer and its place in its parent. Call it when the work it
// bounds is over.
func (c *Context) Cancel() {
	c.end(context.Canceled)
	if p := c.parent; p != nil {
		p.removeKid(c)
	}
}

// AfterFunc arranges for f to be called once the Context ends (at once, on
// its own goroutine, if it has ended), and returns a function that undoes
// that unless f has been called, reporting whether it did. It is what
// contexts of the standard library derived from a Context use to end with
// it, instead of a goroutine each.
func (c *Context) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	slot := -1
	for i, g := range c.funcs {
		if g == nil {
			c.funcs[i], slot = f, i
			break
		}
	}
	if slot < 0 {
		slot = len(c.funcs) + len(c.more)
		c.more = append(c.more, f)
	}
	c.mu.Unlock()
	return func() bool { return c.unregister(slot) }
}

// unregister drops the function of AfterFunc in slot, reporting whether it
// was still there.
func (c *Context) unregister(slot int) bool {
	// The mutex is not unlocked by a defer here, nor in addKid and
	// removeKid: nothing in their critical sections panics, and each
	// defer costs a function of its own.
	c.mu.Lock()
	found := false
	var p *func()
	switch i := slot - len(c.funcs); {
	case i < 0:
		p = &c.funcs[slot]
	case i < len(c.more):
		p = &c.more[i]
	}
	if p != nil { // else called after the Context ended
		found = *p != nil
		*p = nil
	}
	c.mu.Unlock()
	return found
}

// expire is the timer's function.
func (c *Context) expire() { c.end(context.DeadlineExceeded) }

// end ends the Context with err unless it has ended: its channel is closed,
// its timer stopped, and its children and the functions of AfterFunc are
// ended or called once c.mu is released (they lock contexts that lock c
// while deriving from it).
func (c *Context) end(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	kids, moreKids := c.kids, c.moreKids
	funcs, more := c.funcs, c.more
	c.kids, c.moreKids, c.funcs, c.more = [2]*Context{}, nil, [2]func(){}, nil
	c.mu.Unlock()
	for _, k := range kids {
		if k != nil {
			k.end(err)
		}
	}
	for _, k := range moreKids {
		if k != nil {
			k.end(err)
		}
	}
	for _, f := range funcs {
		if f != nil {
			f()
		}
	}
	for _, f := range more {
		if f != nil {
			f()
		}
	}
}

// addKid makes k end with c; it returns c's error if c has ended.
func (c *Context) addKid(k *Context) error {
	c.mu.Lock()
	err := c.err
	placed := err != nil // an ended c takes no kid
	for i, x := range c.kids {
		if x == nil && !placed {
			c.kids[i], placed = k, true
		}
	}
	if !placed {
		c.moreKids = append(c.moreKids, k)
	}
	c.mu.Unlock()
	return err
}

// removeKid forgets k.
func (c *Context) removeKid(k *Context) {
	c.mu.Lock()
	found := false
	for i, x := range c.kids {
		if x == k && !found {
			c.kids[i], found = nil, true
		}
	}
	for i, x := range c.moreKids {
		if x == k && !found {
			c.moreKids, found = append(c.moreKids[:i], c.moreKids[i+1:]...), true
		}
	}
	c.mu.Unlock()
}

// String describes the Context, as the standard library's contexts do.
func (c *Context) String() string { return "deadline.Context" }

var _ context.Context = (*Context)(nil)
