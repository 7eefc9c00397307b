package tui

import (
	"fmt"
	"strconv"

	tea "charm.land/bubbletea/v2"
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
	tileMaxH = 9
	tileMaxW = 60
	tileMinW = 18
	tileGap  = 2
)

func (m Model) homeGrid() grid {
	n := max(len(m.ops), 1)
	by, _ := m.bottom()
	g := grid{y0: 3}
	avail := max(by-1-g.y0, tileMinH)
	rowsFit := max(avail/tileMinH, 1)
	g.cols = max(1, (m.w-4+tileGap+tileMaxW+tileGap-1)/(tileMaxW+tileGap))
	for g.cols < 6 && g.cols*rowsFit < n && m.colWidth(g.cols+1) >= tileMinW {
		g.cols++
	}
	g.tw = m.colWidth(g.cols)
	g.rows = min(rowsFit, (n+g.cols-1)/g.cols)
	g.th = min(max(avail/g.rows, tileMinH), tileMaxH)
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
	for i := first; i < min(first+g.perPage, len(m.ops)); i++ {
		k := i - first
		r, c := k/g.cols, k%g.cols
		f.add(target{
			id: "op:" + strconv.Itoa(i), kind: kindTile, lines: m.tileLines(i),
			x: 2 + c*(g.tw+tileGap), y: g.y0 + r*g.th, w: g.tw, h: g.th,
		})
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

func (m Model) tileLines(i int) []string {
	tx := m.text(i)
	status, open := m.status(i)
	if g := m.homeGrid(); !open && !m.suspended(i) && ansi.StringWidth(status) > g.tw-4 {
		status = m.shortStatus(m.ops[i])
	}
	st := m.st.Closed
	if open {
		st = m.st.Open
	}
	return []string{m.st.TileTitle.Render(tx.Name), m.st.TileText.Render(tx.Summary), st.Render(status)}
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
	m.scr, m.sel, m.notice = scrOperator, i, ""
	m.firstFocus()
	return m, m.record(usage.Event{Kind: usage.KindOperatorViewed, Operator: m.ops[i].ID})
}
