package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/usage"
)

// inCallAt starts a call at full size, then the window shrinks to the bar
// as sway makes it.
func inCallAt(t *testing.T, lang string, w, h int) *harness {
	t.Helper()
	hs := newHarnessCfg(t, 100, 30, tuesday, func(c *config.Config) {
		c.Site.Languages = []string{lang, map[string]string{"fr": "en", "en": "fr"}[lang]}
	})
	hs.tap("op:0")
	hs.tap(idCall)
	hs.until("in call", screenIs("in-call"))
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	return hs
}

// The bar at the sizes sway gives it: from the smallest (60×4) to a
// fifth of a 1080p screen (116×6) and a wide one; with the five-minute
// warning and the help phone when a device fails.
func TestGoldenCallBar(t *testing.T) {
	for _, size := range [][2]int{{60, 4}, {116, 6}, {200, 8}} {
		for _, lang := range []string{"fr", "en"} {
			for _, state := range []string{"calm", "warn-fault"} {
				t.Run(fmt.Sprintf("%dx%d/%s/%s", size[0], size[1], lang, state), func(t *testing.T) {
					h := inCallAt(t, lang, size[0], size[1])
					h.advance(83 * time.Second)
					if state == "warn-fault" {
						h.advance(41 * time.Minute)
						h.send(hw.Change{Device: "camera", Reason: "gone"})
					}
					h.send(callTickMsg{h.m.call.gen})
					if !h.m.barShown() {
						t.Fatal("no bar")
					}
					out := h.m.View().Content
					if !strings.Contains(out, h.m.t("end")) {
						t.Fatalf("no %q in the bar:\n%s", h.m.t("end"), out)
					}
					golden.RequireEqual(t, out)
				})
			}
		}
	}
}

// "Terminer l'appel" in the bar: focused (Enter ends the call), and one
// touch ends it; the full screen comes back for the survey.
func TestCallBarEnds(t *testing.T) {
	for _, how := range []string{"touch", "enter"} {
		t.Run(how, func(t *testing.T) {
			h := inCallAt(t, "fr", 116, 6)
			if h.m.layout().targets[0].id != idEnd {
				t.Fatalf("the first target (the focus) is %q", h.m.layout().targets[0].id)
			}
			if how == "touch" {
				end, _ := h.target(idEnd)
				if end.h != 6 || end.w < 20 {
					t.Fatalf("Terminer l'appel is %dx%d: not as big as the bar allows", end.w, end.h)
				}
				h.tap(idEnd)
			} else {
				h.key("enter")
			}
			h.until("after the call", screenIs("after-call"))
			h.send(tea.WindowSizeMsg{Width: 116, Height: 36})
			if h.m.barShown() || !strings.Contains(h.m.View().Content, h.m.t("after.question")) {
				t.Fatalf("no full-screen survey:\n%s", h.m.View().Content)
			}
			if e, _ := h.log.last(usage.KindSessionEnded); e.Outcome != usage.OutcomeCompleted {
				t.Fatalf("outcome %q", e.Outcome)
			}
		})
	}
}

// A device lost during the call puts the kiosk out of service, but the
// bar stays with the help phone, and still ends the call.
func TestCallBarFault(t *testing.T) {
	h := inCallAt(t, "fr", 116, 6)
	h.send(hw.Change{Device: "camera", Reason: "gone"})
	out := h.m.View().Content
	if !h.m.barShown() || !strings.Contains(out, h.m.site.phone) {
		t.Fatalf("no bar with the help phone:\n%s", out)
	}
	h.tap(idEnd)
	h.until("the call ended", func(m Model) bool { return m.scr == scrAfter })
}
