package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

type kind int

const (
	kindButton kind = iota
	kindPrimary
	kindTile
	kindHidden // a touch zone with nothing drawn (the maintenance corner)
)

// target is something a citizen can touch or reach with Tab.
type target struct {
	id         string
	lines      []string // already styled where needed; cut to fit
	x, y, w, h int
	kind       kind
	disabled   bool
	act        maintAction // a maintenance button's meaning
	// secret keys (the PIN pad's digits) never take the focus, by tap or
	// by arrow, so that no highlight tells which one was pressed.
	secret bool
}

func (t target) contains(x, y int) bool {
	return x >= t.x && x < t.x+t.w && y >= t.y && y < t.y+t.h
}

// corner is the agents' touch zone at the header's left end.
var corner = target{id: idCorner, x: 0, y: 0, w: 6, h: 2, kind: kindHidden}

// text is a block of words placed on the screen.
type text struct {
	x, y, w int
	s       string // rendered
}

// frame is one screen's layout: data, used by View to draw and by Update
// to hit-test, so both always agree.
type frame struct {
	texts   []text
	targets []target
	scroll  scrollSpan // a long page's scrolling; zero when it fits
}

// scrollSpan is how far a long page scrolls, and by how much a page.
type scrollSpan struct{ max, page int }

func (f *frame) add(t target)              { f.targets = append(f.targets, t) }
func (f *frame) put(x, y, w int, s string) { f.texts = append(f.texts, text{x, y, w, s}) }

// View draws the current screen on the whole terminal.
func (m Model) View() tea.View {
	v := tea.NewView(m.paint(m.layout()))
	if m.d.Mirror != nil {
		m.d.Mirror.Publish(Frame{Content: v.Content, Width: m.w, Height: m.h, Kiosk: m.kioskState()})
	}
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.BackgroundColor = m.st.P.Bg
	v.WindowTitle = m.site.name
	return v
}

// boxes remembers drawn targets: from one frame to the next most tiles and
// buttons are the same, and drawing a box costs more than the rest of a
// frame. Only Update and View use it, on the program's one goroutine.
// Wrapped and styled words (tiles, an operator's page) are remembered the
// same way, in lines.
type boxes struct {
	drawn map[string]string
	lines map[string][]string
}

// memo is f's lines, remembered under key: the words of a tile or a page
// are wrapped and styled once, not on every frame and every tap.
func (m Model) memo(key string, f func() []string) []string {
	if l, ok := m.boxes.lines[key]; ok {
		return l
	}
	l := f()
	if m.boxes.lines == nil || len(m.boxes.lines) >= maxBoxes {
		m.boxes.lines = map[string][]string{}
	}
	m.boxes.lines[key] = l
	return l
}

const maxBoxes = 512 // a few screens' worth, in every theme and language

func (m Model) drawTarget(t target, focused bool) string {
	key := fmt.Sprintf("%s|%d|%d|%d|%t|%t|%s|%s", t.id, t.w, t.h, t.kind, t.disabled, focused, m.theme, strings.Join(t.lines, "\x00"))
	if s, ok := m.boxes.drawn[key]; ok {
		return s
	}
	s := m.drawBox(t, focused)
	if len(m.boxes.drawn) >= maxBoxes {
		clear(m.boxes.drawn)
	}
	m.boxes.drawn[key] = s
	return s
}

func (m Model) drawBox(t target, focused bool) string {
	st := m.st.Button
	switch {
	case t.disabled && focused:
		st = m.st.DisabledFocus
	case t.disabled:
		st = m.st.Disabled
	case t.kind == kindPrimary && focused:
		st = m.st.PrimaryFocus
	case t.kind == kindPrimary:
		st = m.st.Primary
	case t.kind == kindTile && focused:
		st = m.st.TileFocus
	case t.kind == kindTile:
		st = m.st.Tile
	case focused:
		st = m.st.ButtonFocus
	}
	inner := max(t.w-4, 1) // border and a cell of air each side
	rows := max(t.h-2, 1)
	lines := boxLines(t.lines, inner)
	if len(lines) > rows {
		lines = lines[:0]
		for _, l := range t.lines {
			lines = append(lines, fit(l, inner))
		}
		lines = lines[:min(rows, len(lines))]
	}
	return st.Width(t.w).Height(t.h).Render(strings.Join(lines, "\n"))
}

// boxLines wraps a box's lines to its inner width.
func boxLines(in []string, inner int) []string {
	lines := make([]string, 0, len(in))
	for _, l := range in {
		if ansi.StringWidth(l) > inner {
			lines = append(lines, wrap(l, inner)...)
		} else {
			lines = append(lines, l)
		}
	}
	return lines
}

// para wraps words to width w and keeps at most rows lines.
func (m Model) para(st lipgloss.Style, s string, w, rows int) string {
	if w < 1 || rows < 1 {
		return ""
	}
	out := st.Width(w).Render(s)
	lines := strings.Split(out, "\n")
	if len(lines) > rows {
		lines = lines[:rows]
	}
	return strings.Join(lines, "\n")
}

// header is the top line of every screen: the site and the time.
func (m Model) header(f *frame) {
	clock := m.now.In(m.d.Config.Location()).Format("15:04")
	name := fit(m.site.name, max(m.w-len(clock)-6, 1))
	f.put(2, 0, m.w-2, m.st.Header.Render(name))
	if m.w > len(clock)+4 {
		f.put(m.w-len(clock)-2, 0, len(clock), m.st.Header.Render(clock))
	}
}

// buttonRow places buttons side by side across the bottom of the screen.
func (m Model) buttonRow(f *frame, y, h int, ts ...target) {
	if len(ts) == 0 {
		return
	}
	w, gap := m.rowWidth(len(ts))
	for i, t := range ts {
		t.x, t.y, t.w, t.h = 2+i*(w+gap), y, w, h
		f.add(t)
	}
}

// rowWidth is the width of each of n buttons side by side, and the gap
// between them.
func (m Model) rowWidth(n int) (w, gap int) {
	gap = 2
	if (m.w-4-gap*(n-1))/n < 6 {
		gap = 0 // a narrow screen: buttons touch rather than overflow
	}
	return max((m.w-4-gap*(n-1))/n, 3), gap
}

// rowHeight is how tall a row of these buttons must be for every label to
// show whole.
func (m Model) rowHeight(ts []target) int {
	w, _ := m.rowWidth(max(len(ts), 1))
	need := 1
	for _, t := range ts {
		need = max(need, len(boxLines(t.lines, max(w-4, 1))))
	}
	return need + 2
}
