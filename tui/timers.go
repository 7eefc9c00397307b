package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/usage"
)

type (
	clockMsg        struct{}
	idleMsg         struct{ gen int }
	dimMsg          struct{ gen int }
	attractMsg      struct{ gen int }
	afterTimeoutMsg struct{ gen int }
)

// afterCallTimeout sends the after-call screen home by itself.
const afterCallTimeout = 20 * time.Second

// clockTick wakes the program once a minute, on the minute, for the clock
// in the header and the operators' opening state: nothing else ticks
// while nobody is there.
func (m Model) clockTick() tea.Cmd {
	now := m.d.Now()
	next := now.Truncate(time.Minute).Add(time.Minute)
	return m.d.After(next.Sub(now), clockMsg{})
}

// sizeCheckMsg asks the terminal's size again.
type sizeCheckMsg struct{}

// resizeChecks reads the terminal's size again once the program runs, and
// twice more in its first second. The size read before the program ran
// can be stale: a compositor that resizes the terminal while the shell
// starts (sway places the window) does it before the program listens for
// SIGWINCH, and that signal is then lost. A size that did not change
// costs nothing: the renderer redraws only what differs.
func (m Model) resizeChecks() tea.Cmd {
	return tea.Batch(askSize, m.d.After(250*time.Millisecond, sizeCheckMsg{}), m.d.After(time.Second, sizeCheckMsg{}))
}

func askSize() tea.Msg { return tea.RequestWindowSize() }

// after is the real timer behind Deps.After.
func after(d time.Duration, msg tea.Msg) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return msg })
}

func (m Model) idleTimers() tea.Cmd {
	k := m.d.Config.Kiosk
	gen := m.gen
	var cmds []tea.Cmd
	if d := k.IdleReset.D(); d > 0 {
		cmds = append(cmds, m.d.After(d, idleMsg{gen}))
	}
	if d := k.DimAfter.D(); d > 0 && !m.remote() { // the kiosk's screen is not the session's
		cmds = append(cmds, m.d.After(d, dimMsg{gen}))
	}
	if d := k.AttractAfter.D(); d > 0 && !m.remote() {
		cmds = append(cmds, m.d.After(d, attractMsg{gen}))
	}
	if d := m.d.Config.Maintenance.RelockAfter.D(); d > 0 && (m.scr == scrMaint || m.scr == scrPin) {
		cmds = append(cmds, m.d.After(d, relockMsg{gen}))
	}
	return tea.Batch(cmds...)
}

// touched notes an input: it re-arms the idle timers and wakes the screen.
// woke tells the caller the input only woke the screen and must do nothing
// else.
func (m *Model) touched() (cmd tea.Cmd, woke bool) {
	m.gen++
	m.now = m.d.Now()
	cmds := []tea.Cmd{m.idleTimers()}
	if m.dimmed {
		m.dimmed = false
		woke = true
		cmds = append(cmds, m.setLevel(hw.LevelActive))
	}
	if m.attract {
		m.attract = false
		woke = true
	}
	switch {
	case m.asleep && !m.closedShown:
		woke = true
		next, show := m.wakeClosed()
		*m = next
		cmds = append(cmds, show)
	case m.asleep:
		// Still being touched: keep the closed screen lit a while longer.
		cmds = append(cmds, m.d.After(closedShown, sleepAgainMsg{m.gen}))
	}
	return tea.Batch(cmds...), woke
}

func (m Model) onTimer(msg tea.Msg) (tea.Model, tea.Cmd) {
	busy := m.scr == scrCalling || m.scr == scrInCall || m.scr == scrMaint
	switch msg := msg.(type) {
	case idleMsg:
		if msg.gen != m.gen || busy || m.pristine() {
			return m, nil
		}
		m.goHome()
		m.resetPreferences()
		return m, tea.Batch(m.record(usage.Event{Kind: usage.KindIdleReset}), m.purgePrints())
	case dimMsg:
		if msg.gen != m.gen || busy || m.dimmed {
			return m, nil
		}
		m.dimmed = true
		return m, m.setLevel(hw.LevelDim)
	case attractMsg:
		if msg.gen != m.gen || busy {
			return m, nil
		}
		if !m.pristine() {
			m.goHome()
			m.resetPreferences()
		}
		m.attract = true
		return m, nil
	case afterTimeoutMsg:
		if msg.gen == m.call.gen && m.scr == scrAfter {
			m.nextPerson()
		}
	}
	return m, nil
}

// pristine tells whether the screen is what a newcomer should find.
func (m Model) pristine() bool {
	return m.scr == scrHome && m.page == 0 && m.focus == 0 && m.notice == "" &&
		m.lang == m.siteLang() && m.theme == m.d.Config.Kiosk.Theme
}

// siteLang is the site's default language: the first it lists.
func (m Model) siteLang() string {
	if l := m.d.Config.Site.Languages; len(l) > 0 {
		return l[0]
	}
	return "fr"
}

// nextPerson ends a call's survey: home, in the site's language, for
// whoever comes next. (The theme stays until the idle reset: the same
// person may still be there.)
func (m *Model) nextPerson() {
	m.goHome()
	m.lang = m.siteLang()
}

func (m *Model) goHome() {
	m.scr, m.sel, m.focus, m.page, m.pressed, m.notice, m.unavail = scrHome, 0, 0, 0, "", "", ""
	m.noticeReason, m.scroll = "", 0
	// Only what outlives the pad and the menu stays: the corner's taps, the
	// pad's count and its lock-out.
	m.maint = maintState{taps: m.maint.taps, pad: m.maint.pad, lockUntil: m.maint.lockUntil}
}

func (m Model) setLevel(l hw.Level) tea.Cmd {
	disp := m.d.HW.Display
	if disp == nil {
		return nil
	}
	log := m.log
	return func() tea.Msg {
		ctx, cancel := m.ctx(2 * time.Second)
		defer cancel()
		if err := disp.SetLevel(ctx, l); err != nil {
			log.Warn("screen level not set", "level", l.String(), "err", err)
		}
		return nil
	}
}
