package tui

import (
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// Every page of the maintenance menu fits a small screen: 1280×720 under
// sway with the shipped foot.ini gives 20 rows. No button lies over
// another (the menu's "Verrouiller" ran over its last row of buttons) and
// none leaves the screen, in both languages.
func TestMaintenancePagesFit(t *testing.T) {
	toneLength, meterLength = 50*time.Millisecond, 300*time.Millisecond
	defer func() { toneLength, meterLength = time.Second, 4*time.Second }()
	pages := []struct {
		name string
		to   func(h *harness)
	}{
		{"menu", func(h *harness) {}},
		{"status", func(h *harness) {
			h.tap("m:status")
			h.until("checks", func(m Model) bool { return m.maint.checks != nil })
		}},
		{"tests", func(h *harness) { h.tap("m:tests") }},
		{"sound test verdict", func(h *harness) {
			h.tap("m:tests")
			h.tap("t:sound")
			h.until("verdict", func(m Model) bool { return m.stest.stage == "done" })
		}},
		{"service", func(h *harness) { h.tap("m:service") }},
		{"service typed", func(h *harness) {
			h.tap("m:service")
			for _, r := range "Fermé lundi pour inventaire, revenez mardi à 9 heures" {
				h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
			}
		}},
		{"out of service", func(h *harness) {
			h.tap("m:service")
			h.tap("oos:oos.preset.fault")
		}},
		{"figures", func(h *harness) {
			h.tap("m:figures")
			h.until("figures", func(m Model) bool { return m.maint.figures != nil })
		}},
		{"export", func(h *harness) {
			h.tap("m:export")
			h.until("export", func(m Model) bool { return m.maint.msg != "" })
		}},
		{"confirm restart", func(h *harness) { h.tap("m:restart") }},
		{"confirm purge", func(h *harness) { h.tap("m:purge") }},
	}
	for _, size := range [][2]int{{80, 20}, {80, 24}, {100, 20}, {120, 36}} {
		for _, lang := range []string{"fr", "en"} {
			for _, p := range pages {
				name := fmt.Sprintf("%dx%d %s %s", size[0], size[1], lang, p.name)
				h := newHarnessCfg(t, size[0], size[1], tuesday, inBothLanguages(lang))
				h.unlock()
				p.to(h)
				if h.m.Screen() != "maintenance" {
					t.Fatalf("%s: on %s", name, h.m.Screen())
				}
				checkTargetsFit(t, name, h)
			}
		}
	}
}

// checkTargetsFit fails when two of the screen's targets overlap, one
// leaves the screen, or the page has no button at all.
func checkTargetsFit(t *testing.T, name string, h *harness) {
	t.Helper()
	ts := h.m.layout().targets
	buttons := 0
	for i, a := range ts {
		if a.kind != kindHidden {
			buttons++
		}
		if a.x < 0 || a.y < 0 || a.w < 1 || a.h < 1 || a.x+a.w > h.m.w || a.y+a.h > h.m.h {
			t.Errorf("%s: %s at %d,%d %dx%d leaves the %dx%d screen\n%s", name, a.id, a.x, a.y, a.w, a.h, h.m.w, h.m.h, plain(h.m))
		}
		for _, b := range ts[i+1:] {
			if a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h {
				t.Errorf("%s: %s (%d,%d %dx%d) overlaps %s (%d,%d %dx%d)\n%s", name,
					a.id, a.x, a.y, a.w, a.h, b.id, b.x, b.y, b.w, b.h, plain(h.m))
			}
		}
	}
	if buttons < 1 {
		t.Errorf("%s: only %d buttons\n%s", name, buttons, plain(h.m))
	}
}
