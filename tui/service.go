package tui

import (
	tea "charm.land/bubbletea/v2"
)

// OutOfServiceMsg puts the kiosk out of service with a reason shown to
// citizens; BackInServiceMsg brings it back.
type (
	OutOfServiceMsg  struct{ Reason string }
	BackInServiceMsg struct{}
)

func (m Model) onService(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case OutOfServiceMsg:
		m.oos = clean(msg.Reason)
		if m.oos == "" {
			m.oos = "—"
		}
		if m.scr != scrInCall && !m.agent() {
			m.goHome()
		}
	case BackInServiceMsg:
		m.oos = ""
		if !m.agent() {
			m.goHome()
		}
	}
	return m, nil
}
