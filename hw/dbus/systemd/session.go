package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/dbus/bus"
)

// Session is one video client running as a transient service.
type Session struct {
	m    *Manager
	unit string

	mu         sync.Mutex
	state      string // last ActiveState seen
	seenActive bool
	result     string // the service's Result
	status     int32  // ExecMainStatus: exit status or signal
	jobResult  string
	stopping   bool

	jobDone chan struct{} // the start job ended
	ended   chan struct{} // the unit ended, or was given up
	once    sync.Once
	done    chan hw.SessionEnd
}

var _ hw.Session = (*Session)(nil)

func newSession(m *Manager, unit string) *Session {
	return &Session{m: m, unit: unit, jobDone: make(chan struct{}), ended: make(chan struct{}), done: make(chan hw.SessionEnd, 1)}
}

// Unit is the systemd unit running the session.
func (s *Session) Unit() string { return s.unit }

// Done delivers how the session ended, once.
func (s *Session) Done() <-chan hw.SessionEnd { return s.done }

func (s *Session) startedOK() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seenActive
}

func (s *Session) jobRemoved(job dbus.ObjectPath, result string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.jobDone:
		return // the start job is the first; later ones are stop jobs
	default:
	}
	s.jobResult = result
	close(s.jobDone)
}

// changed takes in a unit's new properties. systemd sends the service's
// (Result, ExecMainStatus) before the unit's (ActiveState), so the cause
// is known when the end is seen.
func (s *Session) changed(iface string, props map[string]dbus.Variant) {
	s.mu.Lock()
	switch iface {
	case serviceI:
		if v, ok := props["Result"].Value().(string); ok {
			s.result = v
		}
		if v, ok := props["ExecMainStatus"].Value().(int32); ok {
			s.status = v
		}
		s.mu.Unlock()
		return
	case unitI:
	default:
		s.mu.Unlock()
		return
	}
	state, ok := props["ActiveState"].Value().(string)
	if !ok {
		s.mu.Unlock()
		return
	}
	s.state = state
	var end bool
	switch state {
	case "active", "reloading":
		s.seenActive = true
	case "failed":
		end = true
	case "inactive":
		// A new unit is inactive before it activates: that is no end.
		select {
		case <-s.jobDone:
			end = true
		default:
			end = s.seenActive
		}
	}
	var err error
	if end {
		err = s.endErrLocked()
	}
	s.mu.Unlock()
	if end {
		s.finish(err)
	}
}

// endErrLocked says why the unit ended; nil when the client exited by
// itself cleanly or the shell asked for the end.
func (s *Session) endErrLocked() error {
	if s.stopping {
		return nil
	}
	switch s.result {
	case "", "success":
		if s.state == "failed" {
			return fmt.Errorf("the video client (%s) failed", s.unit)
		}
		return nil
	case "timeout":
		return fmt.Errorf("%w: systemd ended %s after %v", ErrMaxSession, s.unit, s.m.o.MaxSession+s.m.o.Slack)
	case "exit-code":
		return fmt.Errorf("the video client (%s) exited with status %d", s.unit, s.status)
	case "signal", "core-dump":
		return fmt.Errorf("the video client (%s) was killed by %v", s.unit, syscall.Signal(s.status))
	}
	return fmt.Errorf("the video client (%s) failed: %s", s.unit, s.result)
}

func (s *Session) finish(err error) {
	s.once.Do(func() {
		close(s.ended)
		s.done <- hw.SessionEnd{At: time.Now(), Err: err}
		s.m.forget(s)
	})
}

// waitStarted waits for the start job, and makes sure the unit is active.
func (s *Session) waitStarted(ctx context.Context, c *sd.Conn) (hw.Session, error) {
	select {
	case <-s.jobDone:
	case <-s.ended:
	case <-ctx.Done():
		s.abandon()
		return nil, fmt.Errorf("video session: %s did not start in time: %w", s.unit, ctx.Err())
	}
	s.mu.Lock()
	jr, active, result, status := s.jobResult, s.seenActive, s.result, s.status
	s.mu.Unlock()
	if jr != "done" {
		s.m.forget(s)
		if result == "exit-code" && status == 203 { // EXIT_EXEC
			return nil, fmt.Errorf("video session: the video client of %s could not be executed", s.unit)
		}
		if jr == "" {
			jr = "failed"
		}
		return nil, fmt.Errorf("video session: %s did not start (start job %s, result %q, status %d)", s.unit, jr, result, status)
	}
	if !active {
		p, err := c.GetUnitPropertyContext(ctx, s.unit, "ActiveState")
		switch {
		case bus.ErrorName(err) == errNoSuchUnit:
			// Gone before it could be seen running.
			s.finish(fmt.Errorf("the video client (%s) ended at once", s.unit))
		case err != nil:
			s.abandon()
			return nil, fmt.Errorf("video session: %s: %w", s.unit, err)
		default:
			switch st, _ := p.Value.Value().(string); st {
			case "active", "reloading", "activating":
				s.mu.Lock()
				s.seenActive = true
				s.mu.Unlock()
			default:
				s.mu.Lock()
				s.state = st
				err := s.endErrLocked()
				s.mu.Unlock()
				s.finish(err)
			}
		}
	}
	return s, nil
}

// abandon stops, in the background, a unit whose start was given up.
func (s *Session) abandon() {
	s.m.bg.Add(1)
	go func() {
		defer s.m.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), s.m.o.StopGrace+s.m.o.KillGrace+time.Second)
		defer cancel()
		s.End(ctx)
	}()
}

// End stops the video client: StopUnit, then KillUnit(all, SIGKILL) if it
// has not gone after StopGrace. Done reports the end in every case, with
// an error when the stop could not be confirmed.
func (s *Session) End(ctx context.Context) error {
	select {
	case <-s.ended:
		return nil
	default:
	}
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	c, err := s.m.sd()
	if err == nil {
		_, err = c.StopUnitContext(ctx, s.unit, "replace", nil)
	}
	if err != nil {
		if bus.ErrorName(err) == errNoSuchUnit {
			s.finish(nil)
			return nil
		}
		// The unit is no session's any more: stopped when the manager is
		// back (reconcile), or by RuntimeMaxUSec.
		e := fmt.Errorf("the video client (%s) could not be stopped: %w", s.unit, err)
		s.finish(e)
		return e
	}
	if s.wait(ctx, s.m.o.StopGrace) {
		return nil
	}
	s.m.o.Log.Warn("video client did not stop, killing it", "unit", s.unit)
	if err := c.KillUnitWithTarget(ctx, s.unit, sd.All, int32(syscall.SIGKILL)); err != nil && bus.ErrorName(err) == errNoSuchUnit {
		s.finish(nil)
		return nil
	}
	if s.wait(ctx, s.m.o.KillGrace) {
		return nil
	}
	why := ctx.Err()
	if why == nil {
		why = errors.New("systemd reported no end")
	}
	e := fmt.Errorf("the video client (%s) did not stop: %w", s.unit, why)
	s.finish(e)
	s.m.killLater(s.unit)
	return e
}

// wait waits up to d for the end; false when it did not come.
func (s *Session) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ended:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	select {
	case <-s.ended:
		return true
	default:
		return false
	}
}

// Owns tells whether process pid runs in the session's unit, by its
// control group: the compositor knows the video client's windows by it.
func (s *Session) Owns(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(line, "/"+s.unit) {
			return true
		}
	}
	return false
}
