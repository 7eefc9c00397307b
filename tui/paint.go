package tui

import (
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// seg is one line of a drawn block, placed on a row.
type seg struct {
	x, w, z int
	s       string
}

// paint lays the frame's blocks out row by row into the screen's text.
// Blocks rarely overlap (the corner under the header is never drawn), so
// each row is its segments in order with spaces between: no cell buffer,
// which at 200×60 cost more than everything else a frame does. Empty cells
// take the view's background colour.
func (m Model) paint(f frame) string {
	rows := make([][]seg, m.h)
	place := func(x, y, z int, block string) {
		for i, line := range strings.Split(block, "\n") {
			if r := y + i; r >= 0 && r < m.h && line != "" {
				rows[r] = append(rows[r], seg{x: x, w: ansi.StringWidth(line), z: z, s: line})
			}
		}
	}
	for _, t := range f.texts {
		place(t.x, t.y, 1, t.s)
	}
	for i, t := range f.targets {
		if t.kind != kindHidden {
			place(t.x, t.y, 2, m.drawTarget(t, i == m.focus))
		}
	}
	var b strings.Builder
	b.Grow(m.h * (m.w + 64))
	for r, segs := range rows {
		if r > 0 {
			b.WriteByte('\n')
		}
		paintRow(&b, segs, m.w)
	}
	return b.String()
}

// paintRow writes one row: segments left to right, the upper one winning
// where two overlap, everything cut at the screen's edge.
func paintRow(b *strings.Builder, segs []seg, width int) {
	slices.SortStableFunc(segs, func(a, c seg) int {
		if a.x != c.x {
			return a.x - c.x
		}
		return c.z - a.z
	})
	col := 0
	for i, s := range segs {
		left, right := max(s.x, col, 0), min(s.x+s.w, width)
		// A later, upper segment that starts inside this one cuts it.
		for _, n := range segs[i+1:] {
			if n.z > s.z && n.x < right && n.x >= left {
				right = n.x
			}
		}
		if right <= left {
			continue
		}
		b.WriteString(strings.Repeat(" ", left-col))
		if left == s.x && right == s.x+s.w {
			b.WriteString(s.s)
		} else {
			b.WriteString(ansi.Cut(s.s, left-s.x, right-s.x))
		}
		col = right
	}
}
