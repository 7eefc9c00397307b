package main

import (
	"context"
	"log/slog"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
	"github.com/loiret/borne/tui"
	"github.com/loiret/borne/usage"
)

// supervisor runs beside the interface: the watchdog, the safe screen after
// repeated crashes, and (in a test build only) fault injection. Its filter
// sees every message on the program's own loop.
type supervisor struct {
	g      *guard
	log    *slog.Logger
	wd     *watchdog
	safe   int // crashes in the window when the shell starts on the safe screen; 0: normal
	record func(kind string, detail map[string]any)
	p      *tea.Program
}

// leaveSafeMode ends the safe screen; the filter decides when.
type leaveSafeMode struct{}

func newSupervisor(e env, g *guard, log *slog.Logger, crashes []time.Time, record func(string, map[string]any)) *supervisor {
	s := &supervisor{g: g, log: log, record: record}
	s.wd = newWatchdog(e.getenv, func(msg string, args ...any) { log.Warn(msg, args...) })
	if len(crashes) >= crashLimit {
		s.safe = len(crashes)
	}
	return s
}

// filter runs before next (the tui's filter) on the program's loop.
func (s *supervisor) filter(next func(tea.Model, tea.Msg) tea.Msg) func(tea.Model, tea.Msg) tea.Msg {
	return func(m tea.Model, msg tea.Msg) tea.Msg {
		if s.wd.answer(msg) {
			return nil
		}
		if _, ok := msg.(leaveSafeMode); ok {
			return s.leave(m)
		}
		if faults.filter != nil {
			if msg = faults.filter(s.g, msg); msg == nil {
				return nil
			}
		}
		return next(m, msg)
	}
}

// start begins the supervision of a program about to run.
func (s *supervisor) start(p *tea.Program) {
	s.p = p
	s.g.goSafe(func() { s.wd.run(s.g.ctx, p.Send) })
	if s.safe == 0 {
		return
	}
	s.log.Error("the shell crashed too often: out of service for a while", "crashes", s.safe, "window", crashWindow)
	s.g.goSafe(func() {
		p.Send(tui.OutOfServiceMsg{State: usage.OutOfService{Key: "oos.safe"}})
		s.record(usage.KindOutOfService, map[string]any{"reason": "crashes"})
	})
	s.leaveAfter(crashWindow)
}

func (s *supervisor) leaveAfter(d time.Duration) {
	time.AfterFunc(d, func() {
		s.g.goSafe(func() { s.p.Send(leaveSafeMode{}) })
	})
}

// leave ends the safe screen by a clean stop, which systemd answers with a
// fresh start in normal service. An agent busy in maintenance is not
// thrown out: the stop waits for them.
func (s *supervisor) leave(m tea.Model) tea.Msg {
	if k, ok := m.(tui.Model); ok && (k.Screen() == "pin" || k.Screen() == "maintenance") {
		s.leaveAfter(time.Minute)
		return nil
	}
	s.log.Info("no crash for a while: restarting in service", "after", crashWindow)
	// On the loop, once: the event must be written before the stop.
	s.record(usage.KindBackInService, map[string]any{"reason": "crashes"})
	return tui.StopMsg{}
}

// faults lets a test build of borne inject panics and hangs into the
// running shell (crashtest.go, built only with -tags crashtest). The
// kiosk's build leaves both nil.
var faults struct {
	filter   func(g *guard, msg tea.Msg) tea.Msg
	recorder func(tui.Recorder) tui.Recorder
}

// faultyRecorder is r, or r wrapped by a test build's fault injection.
func faultyRecorder(r tui.Recorder) tui.Recorder {
	if faults.recorder != nil {
		return faults.recorder(r)
	}
	return r
}

// noHardware stands in for a back-end that would not start, so that the
// safe screen can still say the kiosk is unavailable: every device is
// missing.
func noHardware() hw.Hardware {
	var n none
	return hw.Hardware{Sessions: n, Display: n, Camera: n, Printer: n, Close: func() error { return nil }}
}

type none struct{}

func (none) Start(context.Context, operators.Operator) (hw.Session, error) {
	return nil, hw.ErrUnavailable
}
func (none) SetLevel(context.Context, hw.Level) error { return hw.ErrUnavailable }
func (none) Check(context.Context) (hw.CameraStatus, error) {
	return hw.CameraStatus{Reason: "no hardware back-end"}, hw.ErrUnavailable
}
func (none) SetPrivacy(context.Context, bool) error { return hw.ErrUnavailable }
func (none) Status(context.Context) (hw.PrinterStatus, error) {
	return hw.PrinterStatus{Reason: hw.ReasonNoService, Detail: "no hardware back-end"}, hw.ErrUnavailable
}
func (none) Print(context.Context, hw.Document) (hw.JobID, error) { return "", hw.ErrUnavailable }
func (none) Purge(context.Context) error                          { return hw.ErrUnavailable }
