package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/loiret/borne/config"
)

// inBothLanguages is the site config for lang first, the other second.
func inBothLanguages(lang string) func(*config.Config) {
	return func(c *config.Config) {
		c.Site.Languages = []string{lang, map[string]string{"fr": "en", "en": "fr"}[lang]}
	}
}

// words collapses the spaces, bullets and line breaks of what a screen
// shows, so a wrapped sentence reads as one.
func words(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "•", " ")), " ")
}

// Every document and every help of every built-in operator can be read
// at 80×24, in both languages: the page scrolls with the arrow keys and
// each line scrolled past was painted on the screen.
func TestEveryDocumentReadableAt80x24(t *testing.T) {
	for _, lang := range []string{"fr", "en"} {
		h := newHarnessCfg(t, 80, 24, tuesday, inBothLanguages(lang))
		for i := range h.m.ops {
			h.m.goHome()
			h.m, _ = h.m.openOperator(i)
			seen := map[int]map[int]string{} // column x → line number → text
			for step := 0; ; step++ {
				f := h.m.layout()
				screen := strings.Split(plain(h.m), "\n")
				off := min(h.m.scroll, f.scroll.max)
				for _, tx := range f.texts {
					if tx.y != 5 {
						continue
					}
					if seen[tx.x] == nil {
						seen[tx.x] = map[int]string{}
					}
					for j, l := range strings.Split(ansi.Strip(tx.s), "\n") {
						if !strings.Contains(screen[5+j], strings.TrimSpace(l)) {
							t.Fatalf("%s %s: line %q is not painted:\n%s", lang, h.m.ops[i].ID, l, plain(h.m))
						}
						seen[tx.x][off+j] = l
					}
				}
				if off >= f.scroll.max || step > 100 {
					break
				}
				h.key("down")
			}
			var cols []string
			for _, lines := range seen {
				var b strings.Builder
				for n := 0; n < len(lines); n++ {
					b.WriteString(lines[n] + "\n")
				}
				cols = append(cols, words(b.String()))
			}
			tx := h.m.text(i)
			for _, want := range append(append([]string{}, tx.Documents...), tx.Helps...) {
				found := false
				for _, c := range cols {
					found = found || strings.Contains(c, words(want))
				}
				if !found {
					t.Errorf("%s %s: %q never shows:\n%s", lang, h.m.ops[i].ID, want, strings.Join(cols, "\n\n"))
				}
			}
		}
	}
}

// A closed tile says when it opens, whole, at 80×24: later today, tomorrow,
// in a few days and after a holiday.
func TestClosedTilesSayWhenTheyOpenAt80x24(t *testing.T) {
	paris := mustLoc("Europe/Paris")
	for _, when := range []time.Time{
		time.Date(2026, 12, 1, 12, 45, 0, 0, paris),  // Tuesday lunch: back today
		time.Date(2026, 12, 1, 18, 0, 0, 0, paris),   // Tuesday evening: tomorrow
		time.Date(2026, 12, 5, 15, 0, 0, 0, paris),   // Saturday: Monday
		time.Date(2026, 12, 24, 18, 0, 0, 0, paris),  // Christmas Eve: a date
		time.Date(2026, 12, 31, 18, 30, 0, 0, paris), // New Year's Eve
	} {
		for _, lang := range []string{"fr", "en"} {
			h := newHarnessCfg(t, 80, 24, when, inBothLanguages(lang))
			screen := strings.Split(plain(h.m), "\n")
			closed := 0
			for _, tg := range h.m.layout().targets {
				var i int
				if _, err := fmt.Sscanf(tg.id, "op:%d", &i); err != nil {
					continue
				}
				var tile strings.Builder
				for y := tg.y; y < tg.y+tg.h; y++ {
					r := []rune(screen[y])
					tile.WriteString(string(r[tg.x:min(tg.x+tg.w, len(r))]) + " ")
				}
				got := words(strings.NewReplacer("│", " ", "┃", " ").Replace(tile.String()))
				status, open := h.m.status(i)
				if !open {
					closed++
					status = h.m.shortStatus(h.m.ops[i])
				}
				if !strings.Contains(got, words(h.m.text(i).Name)) || !strings.Contains(got, words(status)) {
					t.Errorf("%v %s: tile %d shows %q, not its name and %q", when, lang, i, got, status)
				}
			}
			if closed == 0 {
				t.Errorf("%v: no closed tile to check", when)
			}
		}
	}
}

// No screen cuts a word at 80×24 or 85×34: a "…" that is not in the
// catalog's own words is text thrown away.
func TestNothingCutOnSmallScreens(t *testing.T) {
	var own []string
	for _, c := range catalogs {
		for _, v := range c {
			if strings.Contains(v, "…") {
				own = append(own, v)
			}
		}
	}
	for _, size := range [][2]int{{80, 24}, {85, 34}, {100, 30}} {
		for _, lang := range []string{"fr", "en"} {
			for _, s := range goldenScreens {
				if size == [2]int{80, 24} && s.name == "home" {
					continue // a tile's summary may be cut there: TestClosedTiles checks the rest
				}
				h := newHarnessCfg(t, size[0], size[1], tuesday, func(c *config.Config) {
					inBothLanguages(lang)(c)
					if s.cfg != nil {
						s.cfg(c)
					}
				})
				s.to(h)
				view := plain(h.m)
				for _, o := range own {
					view = strings.ReplaceAll(view, o, "")
				}
				if strings.Contains(view, "…") {
					t.Errorf("%dx%d %s %s: something is cut:\n%s", size[0], size[1], lang, s.name, plain(h.m))
				}
			}
		}
	}
}

// A big screen is used: tiles grow rather than leave rows blank.
func TestBigScreenIsUsed(t *testing.T) {
	for _, size := range [][2]int{{120, 36}, {200, 60}} {
		h := newHarness(t, size[0], size[1])
		blank := 0
		for _, l := range strings.Split(plain(h.m), "\n") {
			if strings.TrimSpace(l) == "" {
				blank++
			}
		}
		if blank > 4 {
			t.Errorf("%dx%d: %d blank rows on the home screen:\n%s", size[0], size[1], blank, plain(h.m))
		}
	}
}

// A long page scrolls by touch (▲/▼, a swipe of the wheel) and by keys,
// says there is more, and its first focus stays on Appeler.
func TestLongPageScrolls(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.tap("op:0")
	f := h.m.layout()
	if f.scroll.max == 0 {
		t.Fatal("the CAF page fits 80×24: nothing to scroll")
	}
	if f.targets[h.m.focus].id != idCall {
		t.Fatalf("first focus on %s", f.targets[h.m.focus].id)
	}
	up, _ := h.target(idScrollUp)
	down, _ := h.target(idScrollDown)
	if !up.disabled || down.disabled || !strings.Contains(plain(h.m), "suite") {
		t.Fatalf("at the top: ▲ disabled %v, ▼ disabled %v\n%s", up.disabled, down.disabled, plain(h.m))
	}
	if down.h < 3 || down.w < 7 {
		t.Fatalf("▼ is too small for a finger: %dx%d", down.w, down.h)
	}
	h.tap(idScrollDown)
	if h.m.scroll == 0 {
		t.Fatal("▼ did not scroll")
	}
	h.send(tea.MouseWheelMsg{X: 10, Y: 8, Button: tea.MouseWheelUp})
	h.send(tea.MouseWheelMsg{X: 10, Y: 8, Button: tea.MouseWheelUp})
	h.send(tea.MouseWheelMsg{X: 10, Y: 8, Button: tea.MouseWheelUp})
	if h.m.scroll != 0 {
		t.Fatalf("the wheel did not scroll back up: %d", h.m.scroll)
	}
	h.key("pgdown")
	h.key("pgdown")
	h.key("pgdown")
	down, _ = h.target(idScrollDown)
	if h.m.scroll != f.scroll.max || !down.disabled || strings.Contains(plain(h.m), "suite") {
		t.Fatalf("pgdown: scroll %d of %d, ▼ disabled %v", h.m.scroll, f.scroll.max, down.disabled)
	}
	h.key("up")
	if h.m.scroll != f.scroll.max-1 {
		t.Fatalf("up: scroll %d", h.m.scroll)
	}
	// Tab never stops on a disabled button.
	h.key("pgup")
	for range 10 {
		h.key("tab")
		if tg := h.m.layout().targets[h.m.focus]; tg.disabled {
			t.Fatalf("the focus is on disabled %s", tg.id)
		}
	}
}

// TestFingerDragScrolls: a finger sliding on a long page moves it row for
// row, both ways and within its length; a slide that starts on Appeler
// calls nobody; a page that fits keeps its taps.
func TestFingerDragScrolls(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.tap("op:0")
	f := h.m.layout()
	if f.scroll.max < 3 {
		t.Fatalf("the CAF page at 80×24 scrolls by %d rows only", f.scroll.max)
	}
	h.advance(tapGuard)
	x, y, _ := h.find(idCall)
	h.send(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft})
	h.send(tea.MouseMotionMsg{X: x, Y: y - 1, Button: tea.MouseLeft})
	h.send(tea.MouseMotionMsg{X: x, Y: y - 3, Button: tea.MouseLeft})
	if h.m.scroll != 3 {
		t.Fatalf("a finger slid up 3 rows: scroll %d", h.m.scroll)
	}
	h.send(tea.MouseMotionMsg{X: x, Y: y - 2, Button: tea.MouseLeft})
	if h.m.scroll != 2 {
		t.Fatalf("then down 1 row: scroll %d", h.m.scroll)
	}
	h.send(tea.MouseMotionMsg{X: x, Y: y, Button: tea.MouseLeft})
	h.send(tea.MouseReleaseMsg{X: x, Y: y, Button: tea.MouseLeft})
	if h.m.Screen() != "operator" || h.m.scroll != 0 {
		t.Fatalf("a slide released on Appeler: screen %s, scroll %d", h.m.Screen(), h.m.scroll)
	}
	// A long slide stops at the page's end; a motion with no finger down
	// (a mouse moving over the page) scrolls nothing.
	h.send(tea.MouseClickMsg{X: 10, Y: 20, Button: tea.MouseLeft})
	h.send(tea.MouseMotionMsg{X: 10, Y: 0, Button: tea.MouseLeft})
	h.send(tea.MouseReleaseMsg{X: 10, Y: 0, Button: tea.MouseLeft})
	if h.m.scroll != f.scroll.max {
		t.Fatalf("a long slide: scroll %d of %d", h.m.scroll, f.scroll.max)
	}
	h.send(tea.MouseMotionMsg{X: 10, Y: 20, Button: tea.MouseNone})
	if h.m.scroll != f.scroll.max {
		t.Fatalf("a pointer moving with no button scrolled to %d", h.m.scroll)
	}
	// The home grid fits: a press that slides within a tile is still a tap.
	h.key("esc")
	h.advance(tapGuard)
	x, y, _ = h.find("op:1")
	h.send(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft})
	h.send(tea.MouseMotionMsg{X: x + 1, Y: y + 1, Button: tea.MouseLeft})
	h.send(tea.MouseReleaseMsg{X: x + 1, Y: y + 1, Button: tea.MouseLeft})
	if h.m.Screen() != "operator" || h.m.sel != 1 {
		t.Fatalf("a tap with a slide on the home grid: screen %s, operator %d", h.m.Screen(), h.m.sel)
	}
}

// A closed operator's Appeler cannot take the focus, and says when it can
// be used.
func TestClosedCallSaysWhenAndSkipsFocus(t *testing.T) {
	saturday := time.Date(2026, 12, 5, 15, 0, 0, 0, mustLoc("Europe/Paris"))
	for _, size := range [][2]int{{80, 24}, {100, 30}} {
		h := newHarnessAt(t, size[0], size[1], saturday)
		h.tap("op:0")
		call, _ := h.target(idCall)
		if !call.disabled || !strings.Contains(words(strings.Join(call.lines, " ")), "dès lun. 9:00") {
			t.Fatalf("closed Appeler: %+v", call)
		}
		if v := plain(h.m); !strings.Contains(v, "Appeler") || !strings.Contains(v, "dès lun. 9:00") {
			t.Fatalf("the label is not shown whole:\n%s", plain(h.m))
		}
		for range 8 {
			if h.m.layout().targets[h.m.focus].id == idCall {
				t.Fatal("the closed Appeler took the focus")
			}
			h.key("tab")
		}
	}
}
