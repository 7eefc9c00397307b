package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
)

// Outside the site's opening hours the screen sleeps; a touch shows that
// the kiosk is closed and when it opens, for a little while.
const closedShown = 30 * time.Second

type sleepAgainMsg struct{ gen int }

// followHours puts the screen to sleep when the site closes and wakes it
// when it opens. It runs on the minute clock: never in a call or in
// maintenance.
func (m Model) followHours() (Model, tea.Cmd) {
	if m.hours == nil || m.scr == scrInCall || m.scr == scrCalling || m.scr == scrMaint || m.scr == scrPin {
		return m, nil
	}
	open := m.hours.Open(m.now)
	switch {
	case !open && !m.asleep:
		m.goHome()
		m.resetPreferences()
		m.asleep, m.closedShown, m.attract, m.dimmed = true, false, false, false
		return m, m.setLevel(hw.LevelOff)
	case open && m.asleep:
		m.asleep, m.closedShown = false, false
		return m, m.setLevel(hw.LevelActive)
	}
	return m, nil
}

// wakeClosed answers a touch on the sleeping kiosk: the closed screen,
// lit, then sleep again.
func (m Model) wakeClosed() (Model, tea.Cmd) {
	m.closedShown = true
	return m, tea.Batch(m.setLevel(hw.LevelActive), m.d.After(closedShown, sleepAgainMsg{m.gen}))
}

func (m Model) onSleepAgain(msg sleepAgainMsg) (tea.Model, tea.Cmd) {
	if msg.gen != m.gen || !m.asleep || !m.closedShown {
		return m, nil
	}
	m.closedShown = false
	return m, m.setLevel(hw.LevelOff)
}

func (m Model) closedScreen(f *frame) {
	var hours []string
	for _, r := range m.hours.Ranges() {
		hours = append(hours, r.Format(m.lang))
	}
	lines := []string{m.st.Title.Render(m.t("closed.title")), strings.Join(hours, " · ")}
	if next, ok := m.hours.NextOpening(m.now); ok {
		lines = append(lines, fmt.Sprintf(m.t("closed.next"), operators.FormatOpening(next, m.now, m.lang)))
	}
	m.centred(f, m.h/4, lines...)
}
