package tui

import (
	"fmt"
	"time"
)

// The call bar is the in-call screen when the shell's window is a short
// wide strip across the bottom of the screen, under the partner's video
// client (sway lays the two out): the partner's name, the time, the
// warnings on the left; "Terminer l'appel" as big as the strip allows on
// the right, focused; between them a slot for the call's other controls.

const (
	// barMaxRows: a window this short during a call is the call bar.
	barMaxRows = 12
	barMinCols = 40
	// Terminer l'appel takes a third of the bar, within these widths.
	barEndMin, barEndMax = 20, 44
)

// barShown tells whether the in-call screen is drawn as the call bar.
func (m Model) barShown() bool {
	return m.scr == scrInCall && !m.agent() && m.h <= barMaxRows && m.w >= barMinCols
}

// inputRefused tells whether input is refused: out of service, or asleep. The
// call bar never is: whatever failed, the citizen can end the call.
func (m Model) inputRefused() bool {
	return (m.blocked() || (m.asleep && !m.agent())) && !m.barShown()
}

// barSlot is the call's other controls, drawn left of "Terminer l'appel"
// in the bar (their x, y and h are set by the bar; w is theirs): "Son +",
// the level (a box nothing happens on) and "Son −" (sound.go), when the
// bar is wide enough to keep the partner's name and the time readable.
func (m Model) barSlot() []target { return m.soundSlot() }

// callBar lays the bar out. "Terminer l'appel" is the first target, so
// that it has the focus; the slot's targets follow.
func (m Model) callBar(f *frame) {
	endW := min(max(m.w/3, barEndMin), barEndMax)
	x := m.w - endW - 1
	f.add(target{id: idEnd, kind: kindPrimary, lines: centredLabel(m.t("end"), m.h), x: x, y: 0, w: endW, h: m.h})
	for _, t := range m.barSlot() {
		x -= t.w + 1
		t.x, t.y, t.h = x, 0, m.h
		f.add(t)
	}
	w := x - 3
	op := m.text(m.sel)
	el := m.now.Sub(m.call.started)
	lines := []string{
		m.st.Title.Render(fit(fmt.Sprintf(m.t("incall.with"), op.Name), w)),
		m.st.Text.Render(fit(fmt.Sprintf(m.t("incall.elapsed"), clockDuration(el)), w)),
	}
	if left := m.maxSession() - el; left <= 5*time.Minute {
		lines = append(lines, m.st.Warn.Render(fit(fmt.Sprintf(m.t("incall.warn"), plural(m.lang, "n.minutes", int(left.Minutes()+0.999))), w)))
	}
	if m.blocked() {
		// The number whole, in fewer words when the bar is narrow.
		help := fmt.Sprintf(m.t("bar.help"), m.site.phone)
		if len([]rune(help)) > w {
			help = fmt.Sprintf(m.t("bar.help.short"), m.site.phone)
		}
		lines = append(lines, m.st.Warn.Render(fit(help, w)))
	}
	// The name and the time first; what does not fit is cut from the
	// middle, so a warning or the help phone is never the one lost.
	for len(lines) > m.h && len(lines) > 2 {
		lines = append(lines[:1], lines[2:]...)
	}
	top := max((m.h-len(lines))/2, 0)
	for i, l := range lines {
		if top+i < m.h {
			f.put(2, top+i, w, l)
		}
	}
}

// centredLabel puts a button's label on its middle row.
func centredLabel(s string, h int) []string {
	pad := max((h-2-1)/2, 0)
	lines := make([]string, pad, pad+1)
	return append(lines, s)
}
