package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/usage"
)

// health is what the shell knows of its devices and of each operator's
// recent failures. It is shared by the copies of the model: only Update
// changes it.
type health struct {
	faults    map[string]string // device → reason, for devices a call needs
	printer   hw.PrinterStatus
	failures  map[string]int         // operator → failed calls in a row
	suspended map[string]time.Time   // operator → unavailable until
	jobs      map[hw.JobID]string    // print jobs waiting → operator
	early     map[hw.JobID]hw.Change // outcomes that came before Print returned
}

func newHealth() *health {
	return &health{
		faults:    map[string]string{},
		printer:   hw.PrinterStatus{Ready: true},
		failures:  map[string]int{},
		suspended: map[string]time.Time{},
		jobs:      map[hw.JobID]string{},
		early:     map[hw.JobID]hw.Change{},
	}
}

const (
	// After this many failed calls in a row an operator rests a while.
	maxFailures = 3
	suspendFor  = 15 * time.Minute
)

// needed are the devices without which no call can work: their loss puts
// the kiosk out of service until they come back.
var needed = map[string]bool{"camera": true, "sessions": true}

type printerMsg struct{ status hw.PrinterStatus }

func (m Model) askPrinter() tea.Cmd {
	p := m.d.HW.Printer
	if p == nil {
		return nil
	}
	return func() tea.Msg {
		ctx, cancel := withTimeout(2 * time.Second)
		defer cancel()
		st, err := p.Status(ctx)
		if err != nil {
			st = hw.PrinterStatus{Reason: hw.ReasonUnknown, Detail: err.Error()}
		}
		return printerMsg{st}
	}
}

// onChange follows the hardware: a needed device lost puts the kiosk out of
// service with a plain reason, its return clears it.
func (m Model) onChange(c hw.Change) (tea.Model, tea.Cmd) {
	if c.Job != "" {
		return m.onJob(c)
	}
	if c.Device == "audio" {
		return m.onSoundChange(c)
	}
	if c.Device == "printer" {
		m.health.printer = hw.PrinterStatus{Ready: c.OK, Reason: c.Reason}
		return m, nil
	}
	if !needed[c.Device] {
		return m, nil
	}
	_, had := m.health.faults[c.Device]
	switch {
	case !c.OK && !had:
		m.health.faults[c.Device] = c.Reason
		return m, m.record(usage.Event{Kind: usage.KindHardwareFault, Detail: map[string]any{"device": c.Device, "reason": short(c.Reason)}})
	case c.OK && had:
		delete(m.health.faults, c.Device)
		return m, m.record(usage.Event{Kind: usage.KindHardwareRecovered, Detail: map[string]any{"device": c.Device}})
	}
	return m, nil
}

// outOfService is why the kiosk cannot serve now, in words for citizens:
// maintenance's message first, else the first missing device.
func (m Model) outOfService() string {
	if m.oos.On() {
		return m.oosText()
	}
	if len(m.health.faults) == 0 {
		return ""
	}
	devs := make([]string, 0, len(m.health.faults))
	for d := range m.health.faults {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	return m.t("oos.device." + devs[0])
}

// blocked tells whether the citizen screens are out of service: agents in
// maintenance still see and use theirs.
func (m Model) blocked() bool {
	return !m.agent() && !m.testing() && m.outOfService() != ""
}

// agent tells whether a site agent has the screen: the PIN pad or the
// maintenance menu, which nothing else covers.
func (m Model) agent() bool { return m.scr == scrPin || m.scr == scrMaint }

// suspended tells whether operator i rests after repeated failures.
func (m Model) suspended(i int) bool {
	until, ok := m.health.suspended[m.ops[i].ID]
	return ok && m.now.Before(until)
}

// callFailed counts a failure; the third in a row rests the operator and
// records why.
func (m Model) callFailed(op string) tea.Cmd {
	m.health.failures[op]++
	if m.health.failures[op] < maxFailures {
		return nil
	}
	n := m.health.failures[op]
	m.health.failures[op] = 0
	m.health.suspended[op] = m.d.Now().Add(suspendFor)
	return m.record(usage.Event{Kind: usage.KindHardwareFault, Operator: op, Detail: map[string]any{
		"device": "video client", "reason": fmt.Sprintf(callsFailed, n)}})
}

// callsFailed is the reason recorded when an operator is rested; the
// figures read the count back to say it in the agent's language.
const callsFailed = "%d calls in a row failed to start or stopped early"

func (m Model) callWorked(op string) { delete(m.health.failures, op) }

// short keeps a reason within what the usage log accepts.
func short(s string) string {
	if len(s) > 160 {
		return strings.ToValidUTF8(s[:160], "")
	}
	return s
}
