// Package sim is the simulated hardware of the demo and the tests: a video
// session that lasts until it is ended, a printer that writes its jobs as
// PDF files (with a text copy) under a folder, a screen that remembers its
// brightness and a camera that is always there. Faults can be injected to
// exercise the shell.
package sim

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
)

// maxKept is how many past sessions Sessions remembers.
const maxKept = 64

// Machine is the whole simulated kiosk. Its fields may be changed by tests
// through the setters, which are safe for concurrent use.
type Machine struct {
	mu        sync.Mutex
	dir       string
	level     hw.Level
	levels    []hw.Level
	privacy   bool
	camera    hw.CameraStatus
	printer   hw.PrinterStatus
	failStart error
	jobs      int
	stall     bool     // jobs wait in queue instead of printing
	queue     []simJob // jobs waiting, oldest first
	sessions  []*Session
	changes   chan hw.Change
	loc       *time.Location // of the dates printed
	audio     simAudio
}

// New returns a simulated machine whose printer writes into dir (created
// on first print).
func New(dir string) *Machine {
	return &Machine{
		dir:     dir,
		privacy: true,
		camera:  hw.CameraStatus{Present: true},
		printer: hw.PrinterStatus{Ready: true},
		changes: make(chan hw.Change, 16),
		audio:   simAudio{volume: 70, muted: true, status: hw.AudioStatus{Speaker: true, Mic: true}},
	}
}

// Hardware returns the machine as the shell's hardware set.
func (m *Machine) Hardware() hw.Hardware {
	return hw.Hardware{
		Sessions: sessions{m},
		Display:  display{m},
		Camera:   camera{m},
		Printer:  printer{m},
		Audio:    audio{m},
		Changes:  m.changes,
		Close:    func() error { return nil },
	}
}

// Level is the screen's current brightness level.
func (m *Machine) Level() hw.Level {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.level
}

// Levels is every level the screen was set to, in order.
func (m *Machine) Levels() []hw.Level {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]hw.Level(nil), m.levels...)
}

// Privacy tells whether the camera's privacy shutter is on.
func (m *Machine) Privacy() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.privacy
}

// SetCamera changes what the camera check finds and reports the change.
func (m *Machine) SetCamera(s hw.CameraStatus) {
	m.UnplugCameraSilently(s)
	m.report(hw.Change{Device: "camera", OK: s.Present, Reason: s.Reason})
}

// UnplugCameraSilently changes what the camera check finds without
// reporting it, as a camera lost between two looks of its back-end.
func (m *Machine) UnplugCameraSilently(s hw.CameraStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.camera = s
}

// SetPrinter changes the printer's state and reports the change.
func (m *Machine) SetPrinter(s hw.PrinterStatus) {
	m.mu.Lock()
	m.printer = s
	m.mu.Unlock()
	m.report(hw.Change{Device: "printer", OK: s.Ready, Reason: s.Reason})
}

// FailNextStart makes the next session start fail with err.
func (m *Machine) FailNextStart(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failStart = err
}

// Sessions is every session started so far.
func (m *Machine) Sessions() []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Session(nil), m.sessions...)
}

func (m *Machine) report(c hw.Change) {
	select {
	case m.changes <- c:
	default: // nobody listening: the shell asks for state when it needs it
	}
}

type sessions struct{ m *Machine }

func (s sessions) Start(ctx context.Context, op operators.Operator) (hw.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failStart; err != nil {
		m.failStart = nil
		return nil, err
	}
	if !op.Callable() {
		return nil, fmt.Errorf("operator %s has no video client to launch", op.ID)
	}
	ss := &Session{Operator: op.ID, Started: time.Now(), done: make(chan hw.SessionEnd, 1)}
	// Keep the recent sessions only: the demo runs for months.
	if len(m.sessions) >= maxKept {
		m.sessions = append(m.sessions[:0], m.sessions[len(m.sessions)-maxKept/2:]...)
	}
	m.sessions = append(m.sessions, ss)
	return ss, nil
}

// Preflight implements hw.Preflighter: a simulated call needs only a
// launch command or a visio address to pretend to open.
func (s sessions) Preflight(ctx context.Context, op operators.Operator) error {
	if !op.Callable() {
		return fmt.Errorf("operator %s has no video client to launch", op.ID)
	}
	return ctx.Err()
}

// Reset implements hw.Resetter: every session still running ends.
func (s sessions) Reset(ctx context.Context) error {
	for _, ss := range s.m.Sessions() {
		ss.finish(nil)
	}
	return ctx.Err()
}

// Session is a simulated video session: it runs until End or Hangup.
type Session struct {
	Operator string
	Started  time.Time
	ended    atomic.Bool
	done     chan hw.SessionEnd
}

// Done implements hw.Session.
func (s *Session) Done() <-chan hw.SessionEnd { return s.done }

// End implements hw.Session.
func (s *Session) End(ctx context.Context) error {
	s.finish(nil)
	return nil
}

// Hangup ends the session from the adviser's side; err non-nil simulates a
// video client that crashed.
func (s *Session) Hangup(err error) { s.finish(err) }

// Ended tells whether the session is over.
func (s *Session) Ended() bool { return s.ended.Load() }

func (s *Session) finish(err error) {
	if s.ended.CompareAndSwap(false, true) {
		s.done <- hw.SessionEnd{At: time.Now(), Err: err}
	}
}

type display struct{ m *Machine }

func (d display) SetLevel(ctx context.Context, l hw.Level) error {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	d.m.level = l
	d.m.levels = append(d.m.levels, l)
	return nil
}

type camera struct{ m *Machine }

func (c camera) Check(ctx context.Context) (hw.CameraStatus, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.m.camera, nil
}

func (c camera) SetPrivacy(ctx context.Context, on bool) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.m.privacy = on
	return nil
}
