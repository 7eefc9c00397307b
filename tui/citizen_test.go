package tui

import (
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/usage"
)

// A double tap on "Appeler" starts the call and keeps it: the second tap
// lands on a screen too new to take it, or where no button is.
func TestDoubleTapOnCallKeepsTheCall(t *testing.T) {
	for _, gap := range []time.Duration{150 * time.Millisecond, 200 * time.Millisecond, 450 * time.Millisecond, 700 * time.Millisecond, time.Second} {
		for _, size := range [][2]int{{80, 24}, {100, 30}, {200, 60}} {
			t.Run(fmt.Sprintf("%dx%d/%v", size[0], size[1], gap), func(t *testing.T) {
				h := newHarness(t, size[0], size[1])
				h.tap("op:0")
				x, y, _ := h.find(idCall)
				h.tapAt(x, y)
				h.until("in call", screenIs("in-call"))
				h.advance(gap)
				h.tapNow(x, y)
				h.settle(50 * time.Millisecond)
				if h.m.Screen() != "in-call" {
					t.Fatalf("the second tap left the call: screen %s", h.m.Screen())
				}
				if _, ended := h.log.last(usage.KindSessionEnded); ended {
					t.Fatalf("the second tap ended the call: %v", h.log.kinds())
				}
			})
		}
	}
}

// Both taps at once, before the session even starts: the calling screen
// ignores the second one, so the call is not cancelled.
func TestDoubleTapAtOnceIsNotACancel(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.tap("op:0")
	x, y, _ := h.find(idCall)
	h.advance(tapGuard)
	var cmds []tea.Cmd
	for _, msg := range []tea.Msg{
		tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft}, tea.MouseReleaseMsg{X: x, Y: y, Button: tea.MouseLeft},
		tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft}, tea.MouseReleaseMsg{X: x, Y: y, Button: tea.MouseLeft},
	} {
		m, cmd := h.m.Update(msg)
		h.m = m.(Model)
		cmds = append(cmds, cmd)
	}
	if h.m.Screen() != "calling" {
		t.Fatalf("screen %s after two quick taps", h.m.Screen())
	}
	h.run(tea.Batch(cmds...))
	h.until("in call", screenIs("in-call"))
	if _, ended := h.log.last(usage.KindSessionEnded); ended {
		t.Fatalf("the call was cancelled: %v", h.log.kinds())
	}
}

// Once the guard is over a tap works again, and a press made on the
// screen before never completes on the new one.
func TestTapGuardEnds(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.tap("op:0")
	x, y, _ := h.find(idCall)
	h.tapAt(x, y)
	h.until("in call", screenIs("in-call"))
	ex, ey, _ := h.find(idEnd)
	h.tapNow(ex, ey)
	if h.m.Screen() != "in-call" {
		t.Fatalf("a tap inside the guard worked: %s", h.m.Screen())
	}
	h.advance(tapGuard)
	h.tapNow(ex, ey)
	h.until("after call", screenIs("after-call"))

	h = newHarness(t, 80, 24)
	h.tap("op:0")
	x, y, _ = h.find(idBack)
	h.advance(tapGuard)
	h.send(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft})
	h.send(tea.KeyPressMsg{Code: tea.KeyEscape}) // home, under the finger
	h.advance(tapGuard)
	h.send(tea.MouseReleaseMsg{X: x, Y: y, Button: tea.MouseLeft})
	if h.m.Screen() != "home" || h.m.pressed != "" {
		t.Fatalf("a press from the operator screen completed on %s", h.m.Screen())
	}
}

// The buttons of a call are never where "Appeler" was, at any size.
func TestCallButtonsAwayFromAppeler(t *testing.T) {
	for _, size := range [][2]int{{40, 12}, {80, 24}, {85, 34}, {120, 36}, {200, 60}} {
		h := newHarness(t, size[0], size[1])
		h.tap("op:0")
		call, _ := h.target(idCall)
		h.tap(idCall)
		cancel, ok := h.target(idCancel)
		h.until("in call", screenIs("in-call"))
		end, _ := h.target(idEnd)
		for _, b := range []target{cancel, end} {
			if b.id == "" && ok {
				continue
			}
			if b.x < call.x+call.w && call.x < b.x+b.w && b.y < call.y+call.h && call.y < b.y+b.h {
				t.Errorf("%dx%d: %s %+v lies over Appeler %+v", size[0], size[1], b.id, b, call)
			}
		}
	}
}
