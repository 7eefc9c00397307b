package tui

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw/sim"
	"github.com/loiret/borne/usage"
)

// memLog is a Recorder that keeps events in memory.
type memLog struct {
	mu     sync.Mutex
	events []usage.Event
}

func (l *memLog) Record(ctx context.Context, e usage.Event) (usage.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Seq = int64(len(l.events) + 1)
	l.events = append(l.events, e)
	return e, nil
}

// all is a copy of the events, safe while commands still record.
func (l *memLog) all() []usage.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]usage.Event(nil), l.events...)
}

func (l *memLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, e.Kind)
	}
	return out
}

func (l *memLog) last(kind string) (usage.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.events) - 1; i >= 0; i-- {
		if l.events[i].Kind == kind {
			return l.events[i], true
		}
	}
	return usage.Event{}, false
}

// timer is a tick the model asked for; tests fire it by hand.
type timer struct {
	d   time.Duration
	msg tea.Msg
}

// harness runs the model like Bubble Tea does: each command in its own
// goroutine, each resulting message back through Update, but timers are
// held for the test to fire and the clock is the test's.
type harness struct {
	t        testing.TB
	m        Model
	mach     *sim.Machine
	printDir string
	lockPath string
	figures  Figures
	log      *memLog
	msgs     chan tea.Msg
	mu       sync.Mutex
	now      time.Time
	timers   []timer
}

// tuesday 10:00 in Gien: the CAF answers.
var tuesday = time.Date(2026, 12, 1, 10, 0, 0, 0, mustLoc("Europe/Paris"))

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func newHarness(t testing.TB, w, h int) *harness {
	t.Helper()
	return newHarnessAt(t, w, h, tuesday)
}

func newHarnessAt(t testing.TB, w, h int, now time.Time) *harness {
	t.Helper()
	return newHarnessCfg(t, w, h, now, func(*config.Config) {})
}

func newHarnessCfg(t testing.TB, w, h int, now time.Time, change func(*config.Config)) *harness {
	t.Helper()
	return newHarnessDeps(t, w, h, now, change, func(*Deps) {})
}

func newHarnessDeps(t testing.TB, w, h int, now time.Time, change func(*config.Config), changeDeps func(*Deps)) *harness {
	t.Helper()
	cfg := config.Demo()
	change(cfg)
	ops, err := cfg.ResolveOperators()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hs := &harness{t: t, printDir: dir, mach: sim.New(dir), log: &memLog{}, msgs: make(chan tea.Msg, 64), now: now}
	hs.lockPath = filepath.Join(dir, "attempts")
	hs.mach.SetLocation(cfg.Location())
	d := Deps{
		Config: cfg, Operators: ops, HW: hs.mach.Hardware(), Log: hs.log, Maint: hs.maintenance(cfg),
		Now: hs.clock, After: hs.after, Logger: slog.New(slog.DiscardHandler),
	}
	changeDeps(&d)
	hs.m = New(d)
	go func() { // the machine's news, as cmd forwards them to the program
		for c := range hs.mach.Hardware().Changes {
			hs.msgs <- c
		}
	}()
	hs.run(hs.m.Init())
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	return hs
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

func (h *harness) after(d time.Duration, msg tea.Msg) tea.Cmd {
	h.mu.Lock()
	h.timers = append(h.timers, timer{d, msg})
	h.mu.Unlock()
	return nil
}

// fire advances the clock and delivers the latest pending timer whose
// message matches.
func (h *harness) fire(match func(tea.Msg) bool) bool {
	h.mu.Lock()
	var found *timer
	for i := len(h.timers) - 1; i >= 0; i-- {
		if match(h.timers[i].msg) {
			t := h.timers[i]
			found = &t
			h.timers = append(h.timers[:i], h.timers[i+1:]...)
			break
		}
	}
	h.mu.Unlock()
	if found == nil {
		return false
	}
	h.advance(found.d)
	h.send(found.msg)
	return true
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		msg := cmd()
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				h.run(c)
			}
			return
		}
		if msg != nil {
			h.msgs <- msg
		}
	}()
}

// send delivers msg, then every message that follows from it until the
// model has been quiet for a moment.
func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	m, cmd := h.m.Update(msg)
	h.m = m.(Model)
	h.run(cmd)
	h.settle(50 * time.Millisecond)
}

func (h *harness) settle(quiet time.Duration) {
	for {
		select {
		case msg := <-h.msgs:
			m, cmd := h.m.Update(msg)
			h.m = m.(Model)
			h.run(cmd)
		case <-time.After(quiet):
			return
		}
	}
}

// until waits for the model to reach a state, processing messages. The
// budget is generous: an argon2 PIN check under the race detector on a
// loaded machine takes seconds, and a wait is no timing assertion.
func (h *harness) until(what string, ok func(Model) bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok(h.m) {
		if time.Now().After(deadline) {
			h.t.Fatalf("never reached: %s (screen %s)", what, h.m.Screen())
		}
		h.settle(20 * time.Millisecond)
	}
}

func (h *harness) key(s string) {
	h.t.Helper()
	k := tea.KeyPressMsg{Text: s}
	switch s {
	case "enter":
		k = tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		k = tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		k = tea.KeyPressMsg{Code: tea.KeyTab}
	case "right":
		k = tea.KeyPressMsg{Code: tea.KeyRight}
	case "left":
		k = tea.KeyPressMsg{Code: tea.KeyLeft}
	case "down":
		k = tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		k = tea.KeyPressMsg{Code: tea.KeyUp}
	case "f12":
		k = tea.KeyPressMsg{Code: tea.KeyF12}
	case "f1":
		k = tea.KeyPressMsg{Code: tea.KeyF1}
	case "f4":
		k = tea.KeyPressMsg{Code: tea.KeyF4}
	case "ctrl+c":
		k = tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "ctrl+z":
		k = tea.KeyPressMsg{Code: 'z', Mod: tea.ModCtrl}
	case "ctrl+\\":
		k = tea.KeyPressMsg{Code: '\\', Mod: tea.ModCtrl}
	default:
		k = tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
	}
	h.send(k)
}

// tap presses and releases on the centre of the target with this id.
func (h *harness) tap(id string) {
	h.t.Helper()
	x, y, ok := h.find(id)
	if !ok {
		h.t.Fatalf("no target %q on screen %s", id, h.m.Screen())
	}
	h.tapAt(x, y)
}

// tapAt touches a cell as a person does: not before the screen has been
// there for the tap guard.
func (h *harness) tapAt(x, y int) {
	if left := tapGuard - h.clock().Sub(h.m.shownAt); !h.m.shownAt.IsZero() && left > 0 {
		h.advance(left)
	}
	h.tapNow(x, y)
}

// tapNow touches a cell at once, however new the screen is.
func (h *harness) tapNow(x, y int) {
	h.send(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft})
	h.send(tea.MouseReleaseMsg{X: x, Y: y, Button: tea.MouseLeft})
}

func (h *harness) find(id string) (x, y int, ok bool) {
	for _, t := range h.m.layout().targets {
		if t.id == id {
			return t.x + t.w/2, t.y + t.h/2, true
		}
	}
	return 0, 0, false
}

func (h *harness) target(id string) (target, bool) {
	for _, t := range h.m.layout().targets {
		if t.id == id {
			return t, true
		}
	}
	return target{}, false
}

// maintenance gives the shell a real PIN check (the demo's hash) with its
// attempts in a real file, and figures the test sets.
func (h *harness) maintenance(cfg *config.Config) Maintenance {
	return Maintenance{
		Unlock: func(ctx context.Context, pin string) (usage.Attempt, error) {
			return usage.NewLockout(h.lockPath, cfg.Maintenance.MaxAttempts).Try(h.clock(), func() (bool, error) {
				return config.VerifyPIN(cfg.Maintenance.PinHash, pin)
			})
		},
		Lockout: func() (usage.Attempt, error) {
			return usage.NewLockout(h.lockPath, cfg.Maintenance.MaxAttempts).State()
		},
		Figures: func(ctx context.Context, from, to time.Time) (Figures, error) { return h.figures, nil },
		Export:  func(ctx context.Context) (Exported, error) { return Exported{Events: 42, File: "borne-x.ndjson"}, nil },
	}
}

func keyEnter() tea.KeyPressMsg { return tea.KeyPressMsg{Code: tea.KeyEnter} }
