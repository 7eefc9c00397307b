package browser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
)

// Why a call ended, seen from the browser. A nil error is a call that
// completed.
var (
	ErrCrashed   = errors.New("the browser or the page crashed")
	ErrHung      = errors.New("the page stopped answering")
	ErrNoLoad    = errors.New("the partner's page did not load")
	ErrNoDevTool = errors.New("the browser could not be followed")
)

// verdict is how the page says the call ended: err nil for completed.
type verdict struct {
	err error
	why string // for the log
}

// call is one visio call: the browser run by the inner runner, the page
// followed, the profile deleted at the end.
type call struct {
	s       *Sessions
	op      operators.Operator
	dir     string
	inner   hw.Session
	log     *slog.Logger
	verdict chan verdict // the page's first word on the end
	stop    chan struct{}
	stopped sync.Once
	done    chan hw.SessionEnd
	ended   chan struct{}
}

var _ hw.Session = (*call)(nil)

func newCall(s *Sessions, op operators.Operator, dir string, inner hw.Session) *call {
	return &call{
		s: s, op: op, dir: dir, inner: inner,
		log:     s.o.Log.With("operator", op.ID),
		verdict: make(chan verdict, 1),
		stop:    make(chan struct{}),
		done:    make(chan hw.SessionEnd, 1),
		ended:   make(chan struct{}),
	}
}

// Done delivers how the call ended, once, after the browser has gone and
// its profile has been deleted.
func (c *call) Done() <-chan hw.SessionEnd { return c.done }

// Unwrap is the runner's session of the browser: the compositor finds the
// browser's window by its processes.
func (c *call) Unwrap() hw.Session { return c.inner }

// End asks the browser to close (the shell ends the call); Done reports
// when it has, and the profile is gone.
func (c *call) End(ctx context.Context) error {
	c.stopped.Do(func() { close(c.stop) })
	select {
	case <-c.ended:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the browser did not close in time: %w", ctx.Err())
	}
}

// decide records the page's verdict; the first one counts.
func (c *call) decide(v verdict) {
	select {
	case c.verdict <- v:
	default:
	}
}

// run follows the call to its end, whoever sees it first: the page, the
// shell, or the runner (the browser exited).
func (c *call) run() {
	ctx, cancel := context.WithCancel(context.Background())
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		follow(ctx, c)
	}()

	var v verdict
	var innerEnd *hw.SessionEnd
	select {
	case v = <-c.verdict:
	case <-c.stop:
		v = verdict{why: "ended by the shell"}
	case e := <-c.inner.Done():
		innerEnd = &e
		v = c.exited(e)
	}
	cancel()
	c.log.Debug("stopping the browser", "why", v.why)
	if innerEnd == nil {
		e := c.stopInner()
		innerEnd = &e
	}
	c.log.Debug("browser gone", "err", innerEnd.Err)
	// The browser gone, the DevTools connection ends at once.
	select {
	case <-followed:
	case <-time.After(c.s.o.StopTimeout):
		c.log.Warn("the DevTools connection outlived the browser")
	}
	c.s.remove(c.dir)
	c.report(v)
	close(c.ended)
	c.done <- hw.SessionEnd{At: time.Now(), Err: v.err}
}

// exited makes the verdict of a browser that ended by itself: the page's,
// if it spoke just before (a window closed by the page ends the browser),
// else the runner's.
func (c *call) exited(e hw.SessionEnd) verdict {
	select {
	case v := <-c.verdict:
		return v
	case <-time.After(500 * time.Millisecond):
	}
	if e.Err != nil {
		return verdict{err: fmt.Errorf("%w: %v", ErrCrashed, e.Err), why: "the browser ended: " + e.Err.Error()}
	}
	return verdict{why: "the browser closed"}
}

// stopInner has the runner stop the browser and waits for it to go.
func (c *call) stopInner() hw.SessionEnd {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.o.StopTimeout)
	defer cancel()
	if err := c.inner.End(ctx); err != nil {
		c.log.Warn("browser not stopped cleanly", "err", err)
	}
	select {
	case e := <-c.inner.Done():
		return e
	case <-ctx.Done():
		c.log.Error("the runner reported no end of the browser", "err", ctx.Err())
		return hw.SessionEnd{At: time.Now(), Err: ctx.Err()}
	}
}

func (c *call) report(v verdict) {
	if v.err != nil {
		c.log.Warn("visio call failed", "why", v.why, "err", v.err)
		return
	}
	c.log.Info("visio call ended", "why", v.why)
}
