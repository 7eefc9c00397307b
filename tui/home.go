package tui

import (
	"fmt"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/loiret/borne/operators"
	"github.com/loiret/borne/usage"
)

// grid is how the operator tiles fit on the home screen.
type grid struct {
	cols, rows, tw, th int
	perPage, pages, y0 int
}

const (
	tileMinH = 5
	tileMaxW = 60
	tileMinW = 18
	tileGap  = 2
)

// homeGrid fits the tiles between the prompt and the buttons. Tiles grow
// with the screen (no taller than wide, as cells are twice as tall as
// wide), so a big screen is not left blank; on a short one the blank rows
// around the grid go first.
func (m Model) homeGrid() grid {
	n := max(len(m.ops), 1)
	by, _ := m.bottom()
	g := grid{y0: 3}
	gap := 1 // a blank row above the buttons
	if m.h < 30 {
		g.y0, gap = 2, 0
	}
	avail := max(by-gap-g.y0, tileMinH)
	rowsFit := max(avail/tileMinH, 1)
	g.cols = max(1, (m.w-4+tileGap+tileMaxW+tileGap-1)/(tileMaxW+tileGap))
	for g.cols < 6 && g.cols*rowsFit < n && m.colWidth(g.cols+1) >= tileMinW {
		g.cols++
	}
	g.tw = m.colWidth(g.cols)
	g.rows = min(rowsFit, (n+g.cols-1)/g.cols)
	g.th = max(min(avail/g.rows, g.tw*2/3), tileMinH)
	g.perPage = g.cols * g.rows
	g.pages = (n + g.perPage - 1) / g.perPage
	return g
}

func (m Model) colWidth(cols int) int {
	return max((m.w-4-tileGap*(cols-1))/cols, 1)
}

func (m Model) home(f *frame) {
	f.put(2, 1, m.w-4, m.st.Muted.Render(fit(m.t("home.prompt"), m.w-4)))
	g := m.homeGrid()
	page := min(m.page, g.pages-1)
	first := page * g.perPage
	var tiles []target
	for i := first; i < min(first+g.perPage, len(m.ops)); i++ {
		k := i - first
		r, c := k/g.cols, k%g.cols
		tiles = append(tiles, target{
			id: "op:" + strconv.Itoa(i), kind: kindTile, lines: m.tileLines(i, g.tw-4, g.th-2),
			x: 2 + c*(g.tw+tileGap), y: g.y0 + r*g.th, w: g.tw, h: g.th,
		})
	}
	alignTiles(tiles, g.th-2)
	for _, t := range tiles {
		f.add(t)
	}
	buttons := []target{
		{id: idLang, lines: []string{tr(m.nextLang(), "lang.name")}},
		{id: idContrast, lines: []string{m.t("contrast")}},
	}
	if page > 0 {
		buttons = append(buttons, target{id: idPrev, lines: []string{m.t("page.prev")}})
	}
	if page < g.pages-1 {
		buttons = append(buttons, target{id: idNext, lines: []string{m.t("page.next")}})
	}
	by, bh := m.bottom()
	m.buttonRow(f, by, bh, buttons...)
}

// tileLines is what tile i says in w columns and rows lines, most needed
// first: its name and whether it answers or when it opens are whole
// (wrapped); the summary takes the rows left, and a big tile lists what
// the operator helps with too.
func (m Model) tileLines(i, w, rows int) []string {
	status, open := m.status(i)
	key := fmt.Sprintf("tile|%d|%d|%d|%s|%s|%s", i, w, rows, m.lang, m.theme, status)
	return m.memo(key, func() []string { return m.drawTileLines(i, w, rows, status, open) })
}

func (m Model) drawTileLines(i, w, rows int, status string, open bool) []string {
	tx := m.text(i)
	sts := wrap(status, w)
	if !open && !m.suspended(i) && len(sts) > 1 {
		sts = wrap(m.shortStatus(m.ops[i]), w)
	}
	name := wrap(tx.Name, w)
	if room := rows - len(sts); len(name) > room {
		name = cut(name, max(room, 1), w)
	}
	left := rows - len(name) - len(sts)
	sum := cut(wrap(tx.Summary, w), left, w)
	left -= len(sum)
	st := m.st.Closed
	if open {
		st = m.st.Open
	}
	var out []string
	add := func(st lipgloss.Style, ls []string) {
		for _, l := range ls {
			out = append(out, st.Render(l))
		}
	}
	spaced := left >= 7 // air between the parts of a big tile
	add(m.st.TileTitle, name)
	if spaced {
		out = append(out, "")
	}
	add(m.st.TileText, sum)
	if spaced {
		out = append(out, "")
	}
	add(st, sts)
	if helps := m.tileHelps(tx.Helps, w, left-3); len(helps) > 0 {
		out = append(out, "")
		add(m.st.TileText, helps)
	}
	return out
}

// alignTiles pads the tiles' lines so that every tile's words start on
// the same row, the longest tile's centred.
func alignTiles(tiles []target, rows int) {
	longest := 0
	for _, t := range tiles {
		longest = max(longest, len(t.lines))
	}
	pad := make([]string, max(rows-longest, 0)/2)
	for i, t := range tiles {
		lines := append(append([]string(nil), pad...), t.lines...)
		for len(lines) < rows {
			lines = append(lines, "")
		}
		tiles[i].lines = lines
	}
}

// tileHelps lists what an operator helps with, wrapped under their
// bullets, when all of it fits in rows.
func (m Model) tileHelps(helps []string, w, rows int) []string {
	if len(helps) == 0 || w < 30 {
		return nil
	}
	var out []string
	widest := 0
	for _, h := range helps {
		for j, l := range wrap(h, w-2) {
			if j == 0 {
				l = "• " + l
			} else {
				l = "  " + l
			}
			widest = max(widest, ansi.StringWidth(l))
			out = append(out, l)
		}
	}
	if len(out)+1 > rows {
		return nil
	}
	// As wide as each other, the centred lines line up on the left.
	for i, l := range out {
		out[i] = l + strings.Repeat(" ", widest-ansi.StringWidth(l))
	}
	return out
}

// status says whether op answers now, or when it next will.
func (m Model) status(i int) (string, bool) {
	op := m.ops[i]
	if m.suspended(i) {
		return m.t("status.suspended"), false
	}
	if op.Open(m.now) {
		return m.t("open"), true
	}
	if next, ok := op.NextOpening(m.now); ok {
		return fmt.Sprintf(m.t("closed.opens"), operators.FormatOpening(next, m.now, m.lang)), false
	}
	return m.t("closed.never"), false
}

// shortStatus is the closed status for narrow tiles: "Fermé · lun. 9:00".
func (m Model) shortStatus(op operators.Operator) string {
	if next, ok := op.NextOpening(m.now); ok {
		return fmt.Sprintf(m.t("closed.short"), operators.FormatOpening(next, m.now, m.lang))
	}
	return m.t("closed")
}

func (m Model) openOperator(i int) (Model, tea.Cmd) {
	if i < 0 || i >= len(m.ops) {
		return m, nil
	}
	m.scr, m.sel, m.notice, m.scroll = scrOperator, i, "", 0
	m.firstFocus()
	return m, m.record(usage.Event{Kind: usage.KindOperatorViewed, Operator: m.ops[i].ID})
}
