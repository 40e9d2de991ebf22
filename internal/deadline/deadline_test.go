package deadline

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestEndsAtDeadline: Done closes at the deadline and Err says why; before
// it, Err is nil and Done open.
func TestEndsAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		c := New(nil, start.Add(time.Minute))
		if d, ok := c.Deadline(); !ok || !d.Equal(start.Add(time.Minute)) {
			t.Fatalf("Deadline = %v, %t", d, ok)
		}
		done := c.Done()
		time.Sleep(time.Minute - time.Nanosecond)
		if closed(done) || c.Err() != nil {
			t.Fatal("ended before its deadline")
		}
		<-done
		if got := time.Since(start); got != time.Minute {
			t.Errorf("ended after %v, want 1m", got)
		}
		if !errors.Is(c.Err(), context.DeadlineExceeded) || c.Value("k") != nil {
			t.Errorf("Err = %v", c.Err())
		}
		c.Cancel()
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Errorf("Cancel after the deadline changed Err to %v", c.Err())
		}
	})
}

// TestErrWithoutDone: a Context nobody waited on (no timer armed) still
// ends at its deadline for whoever asks, and its channel then is closed.
func TestErrWithoutDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(nil, time.Now().Add(time.Second))
		time.Sleep(time.Second)
		if !errors.Is(c.Err(), context.DeadlineExceeded) || !closed(c.Done()) {
			t.Fatalf("after the deadline: Err %v, Done closed %t", c.Err(), closed(c.Done()))
		}
		d := New(nil, time.Now().Add(time.Second))
		time.Sleep(2 * time.Second)
		if !closed(d.Done()) || !errors.Is(d.Err(), context.DeadlineExceeded) {
			t.Fatal("Done first called past the deadline did not end it")
		}
	})
}

// TestCancelAndChildren: Cancel ends a Context and its children; a child's
// deadline is the earlier one; a child cancelled first leaves its parent.
func TestCancelAndChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		p := New(nil, now.Add(time.Hour))
		early := New(p, now.Add(time.Minute))
		late := New(p, now.Add(2*time.Hour))
		if d, _ := early.Deadline(); !d.Equal(now.Add(time.Minute)) {
			t.Errorf("child deadline %v", d)
		}
		if d, _ := late.Deadline(); !d.Equal(now.Add(time.Hour)) {
			t.Errorf("child deadline past its parent's: %v", d)
		}
		gone := New(p, now.Add(time.Hour))
		gone.Cancel()
		if !errors.Is(gone.Err(), context.Canceled) || p.Err() != nil {
			t.Fatalf("cancelled child: %v, parent %v", gone.Err(), p.Err())
		}
		extra := []*Context{New(p, now.Add(time.Hour)), New(p, now.Add(time.Hour))} // past the array
		p.Cancel()
		for i, c := range append([]*Context{p, early, late}, extra...) {
			if !errors.Is(c.Err(), context.Canceled) || !closed(c.Done()) {
				t.Errorf("context %d: Err %v after its parent's Cancel", i, c.Err())
			}
		}
		if late := New(p, now.Add(time.Hour)); !errors.Is(late.Err(), context.Canceled) {
			t.Errorf("child of an ended parent: %v", late.Err())
		}
	})
}

// TestStandardChildren: contexts of the standard library derived from a
// Context end with it through AfterFunc, without a goroutine each; one
// cancelled first unregisters; one derived from an ended Context ends.
func TestStandardChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(nil, time.Now().Add(time.Minute))
		before := runtime.NumGoroutine()
		kids := make([]context.Context, 4)
		cancels := make([]context.CancelFunc, 4)
		for i := range kids {
			kids[i], cancels[i] = context.WithCancel(c)
		}
		timed, cancelTimed := context.WithTimeout(c, time.Hour)
		defer cancelTimed()
		if n := runtime.NumGoroutine() - before; n != 0 {
			t.Errorf("%d goroutines for 5 derived contexts; want none", n)
		}
		cancels[1]() // unregisters
		cancels[3]()
		time.Sleep(time.Minute)
		synctest.Wait()
		for i, k := range append(kids, timed) {
			if k.Err() == nil {
				t.Errorf("child %d did not end with its parent", i)
			}
		}
		if !errors.Is(timed.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(kids[0]), context.DeadlineExceeded) {
			t.Errorf("children: %v, cause %v", timed.Err(), context.Cause(kids[0]))
		}
		late, cancelLate := context.WithCancel(c)
		defer cancelLate()
		<-late.Done()
		for _, cancel := range cancels {
			cancel()
		}
	})
}

// TestAfterFuncStop: stop reports whether it prevented the call, before and
// after the Context ended.
func TestAfterFuncStop(t *testing.T) {
	c := New(nil, time.Now().Add(time.Hour))
	called := 0
	stops := make([]func() bool, 3) // past the array
	for i := range stops {
		stops[i] = c.AfterFunc(func() { called++ })
	}
	if !stops[2]() || stops[2]() {
		t.Error("stop: want true once, then false")
	}
	c.Cancel()
	if called != 2 {
		t.Errorf("%d functions called, want 2", called)
	}
	for _, stop := range stops {
		if stop() {
			t.Error("stop after the end reported true")
		}
	}
	ran := make(chan struct{})
	if c.AfterFunc(func() { close(ran) })() {
		t.Error("stop of a function registered after the end reported true")
	}
	<-ran
}

// TestConcurrentUse runs Done, Err, Cancel and derivations at once (for
// the race detector).
func TestConcurrentUse(t *testing.T) {
	for range 50 {
		p := New(nil, time.Now().Add(time.Millisecond))
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				c := New(p, time.Now().Add(time.Hour))
				k, cancel := context.WithCancel(c)
				defer cancel()
				switch i % 4 {
				case 0:
					<-c.Done()
				case 1:
					_ = c.Err()
					p.Cancel()
				case 2:
					c.Cancel()
				case 3:
					<-k.Done()
				}
				<-k.Done()
			})
		}
		wg.Wait()
	}
}

// TestCostsLittle: a parent and a child that nobody waits on cost one
// allocation (the child), no channel and no timer; waiting costs the
// channel and the timer.
func TestCostsLittle(t *testing.T) {
	var p Context
	p.Init(nil, time.Now().Add(time.Hour))
	if n := testing.AllocsPerRun(100, func() {
		c := New(&p, time.Now().Add(time.Minute))
		_ = c.Err()
		c.Cancel()
	}); n != 1 {
		t.Errorf("%v allocations for an unwatched child; want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		c := New(&p, time.Now().Add(time.Minute))
		_ = c.Done()
		c.Cancel()
	}); n > 4 {
		t.Errorf("%v allocations for a watched child; want at most 4 (context, channel, timer)", n)
	}
}
