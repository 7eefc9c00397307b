package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/usage"
)

// Maintenance is what the maintenance mode drives outside the screen. A
// nil function hides what needs it.
type Maintenance struct {
	// Unlock checks a PIN against the config's hash, counting the attempt
	// durably first; Lockout tells the current count and lock-out.
	Unlock  func(ctx context.Context, pin string) (usage.Attempt, error)
	Lockout func() (usage.Attempt, error)
	// Figures counts what happened between from and to.
	Figures func(ctx context.Context, from, to time.Time) (Figures, error)
	// Export writes the usage log to a USB key and says what it wrote;
	// ErrNoUSBKey when no key is there.
	Export func(ctx context.Context) (Exported, error)
	// LogHealth says whether the usage log can be written, and if not why.
	LogHealth func(ctx context.Context) error
	// Service is the out-of-service state kept from before a restart;
	// KeepService keeps a new one (the zero value: back in service) for
	// the next start.
	Service     usage.OutOfService
	KeepService func(usage.OutOfService) error
}

// Figures are the counts the maintenance menu shows.
type Figures struct {
	Calls, Completed, Prints, Surveys int
	ScoreSum                          int
	Faults                            []usage.Fault // latest first
}

const (
	cornerTaps   = 5
	cornerWindow = 3 * time.Second
	pinMax       = 12
	unlockTime   = 10 * time.Second // an argon2 check on a slow box, with room
)

type (
	unlockMsg struct {
		pad int // the pad it answers: one opened since makes it stale
		a   usage.Attempt
		err error
	}
	lockStateMsg struct{ a usage.Attempt }
	pinTickMsg   struct{ gen int }
)

// cornerTap counts taps on the header's left corner: five within three
// seconds open the PIN pad.
func (m Model) cornerTap() (Model, tea.Cmd) {
	now := m.d.Now()
	taps := m.maint.taps[:0:0]
	for _, t := range m.maint.taps {
		if now.Sub(t) < cornerWindow {
			taps = append(taps, t)
		}
	}
	m.maint.taps = append(taps, now)
	if len(m.maint.taps) < cornerTaps {
		return m, nil
	}
	m.maint.taps = nil
	return m.openPad()
}

func (m Model) openPad() (Model, tea.Cmd) {
	if m.scr == scrInCall || m.scr == scrCalling || m.scr == scrMaint || m.d.Maint.Unlock == nil {
		return m, nil
	}
	m.goHome()
	m.scr, m.maint.pin, m.maint.pinMsg, m.maint.checking = scrPin, "", "", false
	m.maint.pad++
	m.firstFocus()
	return m, m.askLockout()
}

func (m Model) askLockout() tea.Cmd {
	f := m.d.Maint.Lockout
	if f == nil {
		return nil
	}
	return func() tea.Msg {
		a, _ := f()
		return lockStateMsg{a}
	}
}

func (m Model) pinKey(key string) (Model, tea.Cmd) {
	switch {
	case key == "clear":
		m.maint.pin = ""
	case key == "backspace":
		if m.maint.pin != "" {
			m.maint.pin = m.maint.pin[:len(m.maint.pin)-1]
		}
	case key == "ok":
		return m.submitPIN()
	case len(key) == 1 && key[0] >= '0' && key[0] <= '9' && len(m.maint.pin) < pinMax && !m.maint.checking && !m.locked():
		m.maint.pin += key
		m.maint.pinMsg = ""
	}
	return m, nil
}

// submitPIN hands the PIN to the checker in the background and forgets it:
// it is never kept, shown or logged.
func (m Model) submitPIN() (Model, tea.Cmd) {
	if m.maint.pin == "" || m.maint.checking || m.locked() {
		return m, nil
	}
	pin, unlock, pad := m.maint.pin, m.d.Maint.Unlock, m.maint.pad
	m.maint.pin, m.maint.checking = "", true
	return m, func() tea.Msg {
		ctx, cancel := withTimeout(unlockTime)
		defer cancel()
		a, err := unlock(ctx, pin)
		return unlockMsg{pad, a, err}
	}
}

func (m Model) locked() bool { return m.now.Before(m.maint.lockUntil) }

func (m Model) onUnlock(msg unlockMsg) (tea.Model, tea.Cmd) {
	// An answer to a pad closed since (and perhaps opened again) is stale.
	if msg.pad != m.maint.pad || m.scr != scrPin {
		return m, nil
	}
	m.maint.checking = false
	a := msg.a
	switch {
	case msg.err != nil:
		m.log.Error("maintenance PIN not checked", "err", msg.err)
		m.maint.pinMsg = "pin.error"
		return m, nil
	case a.OK:
		m.scr, m.maint.page, m.maint.lockUntil = scrMaint, pageMenu, time.Time{}
		m.syncKiosk()
		m.firstFocus()
		return m, tea.Batch(m.record(usage.Event{Kind: usage.KindMaintenanceUnlocked}), m.idleTimers())
	case a.Refused:
		m.maint.lockUntil = a.Until
		return m, m.pinTick()
	}
	m.maint.pinMsg = "pin.wrong"
	cmds := []tea.Cmd{m.record(usage.Event{Kind: usage.KindMaintenancePinFail, Detail: map[string]any{"attempts": a.Failures}})}
	if a.NewLock {
		m.maint.lockUntil = a.Until
		secs := int(a.Until.Sub(m.d.Now()).Round(time.Second).Seconds())
		cmds = append(cmds, m.record(usage.Event{Kind: usage.KindMaintenanceLockout, Detail: map[string]any{"attempts": a.Failures, "lockout_s": secs}}), m.pinTick())
	}
	return m, tea.Batch(cmds...)
}

func (m Model) onLockState(msg lockStateMsg) (tea.Model, tea.Cmd) {
	m.maint.lockUntil = msg.a.Until
	if m.locked() {
		return m, m.pinTick()
	}
	return m, nil
}

// pinTick counts a lock-out down on the pad, once a second, only while
// the pad shows it.
func (m Model) pinTick() tea.Cmd { return m.d.After(time.Second, pinTickMsg{m.gen}) }

func (m Model) onPinTick(msg pinTickMsg) (tea.Model, tea.Cmd) {
	m.now = m.d.Now()
	if m.scr != scrPin || !m.locked() {
		return m, nil
	}
	return m, m.pinTick()
}

func (m Model) pinPad(f *frame) {
	f.put(2, 2, m.w-4, m.st.Title.Render(fit(m.t("pin.title"), m.w-4)))
	dots := strings.Repeat("● ", len(m.maint.pin)) + strings.Repeat("○ ", max(6-len(m.maint.pin), 0))
	f.put(2, 3, m.w-4, m.st.Text.Render(fit(dots, m.w-4)))
	msg := ""
	switch {
	case m.locked():
		msg = fmt.Sprintf(m.t("pin.locked"), clockDuration(m.maint.lockUntil.Sub(m.now)+time.Second-1))
	case m.maint.checking:
		msg = m.t("pin.checking")
	case m.maint.pinMsg != "":
		msg = m.t(m.maint.pinMsg)
	}
	f.put(2, 4, m.w-4, m.st.Warn.Render(fit(msg, m.w-4)))
	by, bh := m.bottom()
	keys := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "ok"}
	rows := 4
	kh := min(max((by-6)/rows, 1), 5)
	kw := min(max((m.w-4)/3-2, 3), 20)
	x0 := (m.w - 3*kw - 4) / 2
	for i, k := range keys {
		label := k
		switch k {
		case "clear":
			label = m.t("pin.clear")
		case "ok":
			label = m.t("pin.ok")
		}
		t := target{id: "pin:" + k, lines: []string{label}, x: x0 + (i%3)*(kw+2), y: 6 + (i/3)*kh, w: kw, h: kh}
		t.secret = len(k) == 1 // a digit: nothing on screen may tell which
		if k == "ok" {
			t.kind = kindPrimary
			t.disabled = m.locked() || m.maint.checking
		}
		f.add(t)
	}
	m.buttonRow(f, by, bh, target{id: idBack, lines: []string{m.t("back")}})
}
