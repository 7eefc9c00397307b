//go:build crashtest

package main

// A test build of borne (go build -tags crashtest) whose function keys
// inject the faults the crash tests need, into the real shell:
//
//	F5  a panic on the program's loop (where Update runs)
//	F6  a panic in a batched command
//	F7  a panic in a command Update returns (recording a hardware fault)
//	F8  a panic in a goroutine of the shell's
//	F9  the loop blocks for good (the watchdog must stop)

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/tui"
	"github.com/loiret/borne/usage"
)

func init() {
	faults.filter = func(g *guard, msg tea.Msg) tea.Msg {
		k, ok := msg.(tea.KeyPressMsg)
		if !ok {
			return msg
		}
		switch k.String() {
		case "f5":
			panic("crashtest: panic in the update loop")
		case "f6":
			return tea.BatchMsg{func() tea.Msg { panic("crashtest: panic in a batched command") }}
		case "f7":
			return hw.Change{Device: "camera", OK: false, Reason: "crashtest"}
		case "f8":
			g.goSafe(func() { panic("crashtest: panic in a goroutine") })
			return nil
		case "f9":
			select {}
		}
		return msg
	}
	faults.recorder = func(r tui.Recorder) tui.Recorder { return panicky{r} }
}

// panicky panics on the hardware fault that F7 reports.
type panicky struct{ tui.Recorder }

func (p panicky) Record(ctx context.Context, e usage.Event) (usage.Event, error) {
	if e.Kind == usage.KindHardwareFault && e.Detail["reason"] == "crashtest" {
		panic("crashtest: panic in a command")
	}
	return p.Recorder.Record(ctx, e)
}
