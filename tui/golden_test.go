package tui

import (
	"fmt"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
)

// goldenScreens are the ways to every screen, for the goldens and the
// small-screen checks.
var goldenScreens = []struct {
	name string
	cfg  func(*config.Config)
	to   func(h *harness)
}{
	{"home", nil, func(h *harness) {}},
	{"operator", nil, func(h *harness) { h.tap("op:0") }},
	{"closed-operator", nil, func(h *harness) {
		h.advance(4*24*time.Hour + 5*time.Hour) // Saturday 15:00
		h.send(clockMsg{})
		h.tap("op:0")
	}},
	{"calling", nil, func(h *harness) {
		h.tap("op:0")
		m, _ := h.m.Update(keyEnter())
		h.m = m.(Model)
	}},
	{"in-call", nil, func(h *harness) {
		h.tap("op:0")
		h.tap(idCall)
		h.until("in call", screenIs("in-call"))
		h.advance(41 * time.Minute)
		h.send(callTickMsg{h.m.call.gen})
	}},
	{"after-call", nil, func(h *harness) {
		h.tap("op:0")
		h.tap(idCall)
		h.until("in call", screenIs("in-call"))
		h.tap(idEnd)
		h.until("after", screenIs("after-call"))
	}},
	{"unavailable", nil, func(h *harness) {
		h.mach.FailNextStart(fmt.Errorf("no client"))
		h.tap("op:0")
		h.tap(idCall)
		h.until("unavailable", screenIs("unavailable"))
	}},
	{"out-of-service", nil, func(h *harness) { h.send(hw.Change{Device: "camera", Reason: "gone"}) }},
	{"attract", nil, func(h *harness) { h.send(attractMsg{h.m.gen}) }},
	{"closed-site", func(c *config.Config) { c.Site.Hours = []string{"mon-fri 08:00-09:00"} }, func(h *harness) {
		h.tapAt(10, 10)
	}},
	{"pin", nil, func(h *harness) { h.key("f12"); h.key("1"); h.key("2") }},
	{"maintenance", nil, func(h *harness) { h.key("f12"); h.typePIN(demoPIN) }},
}

// Every screen as a citizen or an agent sees it, in both languages and
// both themes, at the smallest supported terminal and a large one. Run
// `go test ./tui -run Golden -update` after a deliberate change and read
// the diff.
func TestGoldenScreens(t *testing.T) {
	screens := goldenScreens
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		for _, lang := range []string{"fr", "en"} {
			for _, theme := range []string{"default", "high-contrast"} {
				for _, s := range screens {
					name := fmt.Sprintf("%dx%d/%s/%s/%s", size[0], size[1], lang, theme, s.name)
					t.Run(name, func(t *testing.T) {
						h := newHarnessCfg(t, size[0], size[1], tuesday, func(c *config.Config) {
							c.Site.Languages = []string{lang, map[string]string{"fr": "en", "en": "fr"}[lang]}
							c.Kiosk.Theme = theme
							if s.cfg != nil {
								s.cfg(c)
							}
						})
						s.to(h)
						golden.RequireEqual(t, h.m.View().Content)
					})
				}
			}
		}
	}
}
