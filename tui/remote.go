package tui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/usage"
)

// Remote makes a Model a technician's maintenance session over SSH. The
// session has its own screen, on the technician's terminal; it reaches the
// kiosk's own program only through Send, and reads the kiosk's state from
// the frame the kiosk last drew. It opens on the PIN pad and ends when
// maintenance locks: Agent turns false.
type Remote struct {
	Send  func(tea.Msg)
	State func() KioskState
}

// KioskState is what a remote session needs to know of the kiosk.
type KioskState struct {
	OutOfService usage.OutOfService // what maintenance set; zero: in service
	InCall       bool               // a citizen is calling or in a call
}

type (
	// RestartMsg asks the kiosk to restart (systemd starts it again);
	// it refuses while a citizen is in a call.
	RestartMsg struct{}
	// LockMsg locks maintenance, as its button does.
	LockMsg struct{}
)

func (m Model) remote() bool { return m.d.Remote != nil }

// kioskState is the state this model draws, for remote sessions.
func (m Model) kioskState() KioskState {
	return KioskState{OutOfService: m.oos, InCall: m.scr == scrCalling || m.scr == scrInCall}
}

// refuseDuringCall tells a remote session whether a citizen is in a call,
// so that nothing cuts it, and if so says it on the menu.
func (m *Model) refuseDuringCall() bool {
	if !m.remote() || !m.d.Remote.State().InCall {
		return false
	}
	m.maint.msg = m.t("maint.remote-busy")
	return true
}

// syncKiosk takes the kiosk's out-of-service reason into a remote session.
func (m *Model) syncKiosk() {
	if m.remote() {
		m.oos = m.d.Remote.State().OutOfService
	}
}

// tellKiosk hands a change of service to the kiosk's program.
func (m Model) tellKiosk(msg tea.Msg) tea.Cmd {
	if !m.remote() {
		return nil
	}
	send := m.d.Remote.Send
	return func() tea.Msg { send(msg); return nil }
}

// Agent tells whether the PIN pad or the maintenance menu has the screen.
func (m Model) Agent() bool { return m.agent() }

func (m Model) onRestart() (tea.Model, tea.Cmd) {
	if m.scr == scrCalling || m.scr == scrInCall {
		m.log.Warn("restart asked from remote maintenance refused: a citizen is in a call")
		return m, nil
	}
	m.log.Info("restart asked from remote maintenance")
	m.quiting = true
	return m, tea.Quit
}
