package tui

import (
	"slices"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/usage"
)

// OutOfServiceMsg puts the kiosk out of service with a reason shown to
// citizens; BackInServiceMsg brings it back. Neither is kept across a
// restart: maintenance keeps what it sets itself (keepService).
type (
	OutOfServiceMsg  struct{ State usage.OutOfService }
	BackInServiceMsg struct{}
)

func (m Model) onService(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case OutOfServiceMsg:
		m.oos = msg.State
		m.oos.Message = clean(m.oos.Message)
		if !m.oos.On() {
			m.oos.Message = "—"
		}
		if m.scr != scrInCall && !m.agent() && !m.testing() {
			m.goHome()
		}
	case BackInServiceMsg:
		m.oos = usage.OutOfService{}
		if !m.agent() && !m.testing() {
			m.goHome()
		}
	}
	return m, nil
}

// restored is the state kept from before a restart, checked: a ready
// message the catalogs do not know is shown as the maintenance one.
func restored(s usage.OutOfService) usage.OutOfService {
	if s.Key != "" && !slices.Contains(oosPresets, s.Key) {
		s.Key = oosPresets[0]
	}
	if s.Key != "" {
		s.Message = ""
	}
	s.Message = clean(s.Message)
	return s
}

// oosText is maintenance's message in the language on screen.
func (m Model) oosText() string {
	if m.oos.Key != "" {
		return m.t(m.oos.Key)
	}
	return m.oos.Message
}

// keepService writes the service state for the next start, in the
// background. The kiosk runs on all the same after a failure, which the
// agent is told of: a restart would forget the change.
func (m Model) keepService(s usage.OutOfService) tea.Cmd {
	keep, log, t := m.d.Maint.KeepService, m.log, m.t
	if keep == nil {
		return nil
	}
	return func() tea.Msg {
		if err := keep(s); err != nil {
			log.Error("out-of-service state not kept for the next start", "err", err)
			return maintDoneMsg{t("maint.oos.not-kept") + " " + t("why.other")}
		}
		return nil
	}
}
