package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
)

func TestSleepsOutsideOpeningHours(t *testing.T) {
	evening := time.Date(2026, 12, 1, 20, 0, 0, 0, mustLoc("Europe/Paris"))
	h := newHarnessCfg(t, 100, 30, evening, func(c *config.Config) { c.Site.Hours = []string{"mon-fri 08:00-18:00"} })
	h.until("asleep", screenIs("asleep"))
	if h.mach.Level() != hw.LevelOff {
		t.Fatalf("screen level %v at night", h.mach.Level())
	}
	if strings.TrimSpace(plain(h.m)) != "" {
		t.Fatalf("the sleeping screen shows something:\n%s", plain(h.m))
	}
	h.tapAt(50, 15)
	if h.m.Screen() != "closed" || !strings.Contains(plain(h.m), "Borne fermée") || !strings.Contains(plain(h.m), "Ouverture demain 8:00") {
		t.Fatalf("a touch at night:\n%s", plain(h.m))
	}
	h.until("lit", func(Model) bool { return h.mach.Level() == hw.LevelActive })
	h.tapAt(50, 15)
	if h.m.Screen() != "closed" {
		t.Fatalf("a second touch led to %s", h.m.Screen())
	}
	h.fire(func(m tea.Msg) bool { _, ok := m.(sleepAgainMsg); return ok })
	h.until("off again", func(Model) bool { return h.mach.Level() == hw.LevelOff })
	if h.m.Screen() != "asleep" {
		t.Fatalf("after the closed screen: %s", h.m.Screen())
	}

	// Agents can still reach maintenance at night.
	h.key("f12")
	if h.m.Screen() != "pin" {
		t.Fatalf("F12 at night: %s", h.m.Screen())
	}
	h.tap("pin:2")
	if h.m.maint.pin != "2" {
		t.Fatal("the pad does not take touches at night")
	}
	h.key("esc")

	h.advance(12 * time.Hour) // Wednesday 08:00
	h.send(clockMsg{})
	if h.m.Screen() != "home" || h.mach.Level() != hw.LevelActive {
		t.Fatalf("morning: %s, level %v", h.m.Screen(), h.mach.Level())
	}
}

func TestNoHoursNeverSleeps(t *testing.T) {
	night := time.Date(2026, 12, 1, 3, 0, 0, 0, mustLoc("Europe/Paris"))
	h := newHarnessCfg(t, 100, 30, night, func(c *config.Config) { c.Site.Hours = nil })
	h.send(clockMsg{})
	if h.m.Screen() != "home" {
		t.Fatalf("a kiosk without hours went to %s", h.m.Screen())
	}
}
