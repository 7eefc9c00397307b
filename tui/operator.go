package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
	"github.com/loiret/borne/usage"
)

// Scroll targets of a long operator page.
const (
	idScrollUp   = "scroll:up"
	idScrollDown = "scroll:down"
	scrollW      = 9 // the ▲/▼ buttons' width: a finger's
)

func (m Model) operator(f *frame) {
	op, tx := m.ops[m.sel], m.text(m.sel)
	status, open := m.status(m.sel)
	st := m.st.Closed.Background(m.st.P.Bg)
	if open {
		st = m.st.Open.Background(m.st.P.Bg)
	}
	f.put(2, 2, m.w-4, m.st.Title.Render(fit(tx.Name, m.w-4)))
	f.put(2, 3, m.w-4, st.Render(fit(status, m.w-4)))
	buttons := m.operatorButtons(op, open)
	by, bh := m.bottom()
	if need := m.rowHeight(buttons); need > bh {
		by, bh = by-(need-bh), need
	}
	top, end := 5, by-1
	if m.notice != "" {
		words := m.t(m.notice)
		if m.noticeReason != "" {
			words += " " + m.t("printer."+m.noticeReason)
		}
		f.put(2, by-1, m.w-4, m.st.Warn.Render(fit(words, m.w-4)))
		end--
	}
	// The site's PDF forms for this operator: a row of print buttons.
	if len(op.Forms) > 0 && m.health.printer.Ready {
		forms := make([]target, len(op.Forms))
		for i, form := range op.Forms {
			forms[i] = target{id: "form:" + strconv.Itoa(i), lines: []string{fmt.Sprintf(m.t("print.form"), form.Title)}}
			if m.notice == "print.busy" { // says why it does nothing
				forms[i].lines, forms[i].disabled = []string{m.t("print.busy")}, true
			}
		}
		end -= 3
		m.buttonRow(f, end, 3, forms...)
		end--
	}
	m.buttonRow(f, by, bh, buttons...)
	m.about(f, op, tx, top, max(end-top, 1))
}

// operatorButtons is the operator screen's bottom row. A closed
// operator's "Appeler" cannot be touched: it says when it can.
func (m Model) operatorButtons(op operators.Operator, open bool) []target {
	call := target{id: idCall, kind: kindPrimary, lines: []string{m.t("call")}, disabled: !m.callable(m.sel)}
	switch next, ok := op.NextOpening(m.now); {
	case m.suspended(m.sel):
		call.lines = append(call.lines, m.t("status.suspended"))
	case ok && !open:
		call.lines = append(call.lines, fmt.Sprintf(m.t("call.closed"), operators.FormatOpening(next, m.now, m.lang)))
	}
	buttons := []target{call}
	// A closed operator's screen offers its contact slip instead.
	if m.health.printer.Ready {
		label := "print.sheet"
		if !open {
			label = "print.slip"
		}
		if m.notice == "print.busy" { // says why it does nothing
			label = "print.busy"
		}
		buttons = append(buttons, target{id: idPrint, lines: []string{m.t(label)}, disabled: m.notice == "print.busy"})
	}
	return append(buttons, target{id: idBack, lines: []string{m.t("back")}})
}

// about draws what the operator screen says in rows lines from row top:
// two columns on a wide screen, one on a narrow one, and when it is longer
// than the space, the page scrolls with ▲/▼ buttons on its right.
func (m Model) about(f *frame, op operators.Operator, tx opText, top, rows int) {
	left, right := m.aboutSections(op, tx)
	w := m.w - 4
	cols := m.aboutColumns(left, right, w)
	n := max(len(cols[0]), len(cols[1]))
	if n > rows {
		w -= scrollW + 1
		cols = m.aboutColumns(left, right, w)
		n = max(len(cols[0]), len(cols[1]))
	}
	f.scroll = scrollSpan{max: max(n-rows, 0), page: max(rows-1, 1)}
	off := min(max(m.scroll, 0), f.scroll.max)
	cw := w
	if len(cols[1]) > 0 {
		cw = (w - 2) / 2
	}
	for c, lines := range cols {
		if len(lines) > 0 {
			f.put(2+c*(cw+2), top, cw, strings.Join(lines[min(off, len(lines)):min(off+rows, len(lines))], "\n"))
		}
	}
	if f.scroll.max == 0 {
		return
	}
	up := target{id: idScrollUp, lines: []string{"▲"}, disabled: off == 0}
	down := target{id: idScrollDown, lines: []string{"▼"}, disabled: off >= f.scroll.max}
	if !down.disabled {
		down.lines = append(down.lines, m.t("scroll.more"))
	}
	half := max(rows/2, 3)
	up.x, up.y, up.w, up.h = m.w-2-scrollW, top, scrollW, half
	down.x, down.y, down.w, down.h = m.w-2-scrollW, top+rows-half, scrollW, half
	f.add(up)
	f.add(down)
}

// aboutColumns lays the sections out in w columns: side by side when both
// columns stay wide enough to read, else one after the other.
func (m Model) aboutColumns(left, right []section, w int) [2][]string {
	key := fmt.Sprintf("about|%d|%d|%s|%s|", m.sel, w, m.lang, m.theme)
	if cw := (w - 2) / 2; cw >= 32 && len(right) > 0 && len(left) > 0 {
		return [2][]string{
			m.memo(key+"l", func() []string { return m.sectionLines(left, cw) }),
			m.memo(key+"r", func() []string { return m.sectionLines(right, cw) }),
		}
	}
	return [2][]string{m.memo(key+"1", func() []string { return m.sectionLines(append(left, right...), w) })}
}

// section is a titled part of an operator's page; an empty one is not
// shown.
type section struct {
	title string
	items []string // bullets
	lines []string // plain lines
}

// aboutSections is what the operator screen says: what it helps with and
// the documents to bring; its hours and how to reach it otherwise.
func (m Model) aboutSections(op operators.Operator, tx opText) (left, right []section) {
	add := func(ss []section, s section) []section {
		if len(s.items) == 0 && len(s.lines) == 0 {
			return ss
		}
		return append(ss, s)
	}
	left = add(left, section{title: m.t("op.helps"), items: tx.Helps})
	left = add(left, section{title: m.t("op.documents"), items: tx.Documents})
	var hours []string
	for _, rg := range op.Hours.Ranges() {
		hours = append(hours, rg.Format(m.lang))
	}
	right = add(right, section{title: m.t("op.hours"), items: hours})
	var reach []string
	if tx.Phone != "" {
		reach = append(reach, fmt.Sprintf(m.t("op.phone"), tx.Phone))
	}
	if tx.Website != "" {
		reach = append(reach, fmt.Sprintf(m.t("op.website"), tx.Website))
	}
	right = add(right, section{lines: reach})
	return left, right
}

// sectionLines wraps sections to w cells, styled: a bullet's wrapped lines
// hang under its first word.
func (m Model) sectionLines(ss []section, w int) []string {
	var out []string
	text := func(l string) { out = append(out, m.st.Text.Render(l)) }
	for i, s := range ss {
		if i > 0 {
			out = append(out, "")
		}
		for _, l := range wrap(s.title, w) {
			out = append(out, m.st.Title.Render(l))
		}
		for _, it := range s.items {
			for j, l := range wrap(it, w-3) {
				if j == 0 {
					text(" • " + l)
				} else {
					text("   " + l)
				}
			}
		}
		for _, l := range s.lines {
			for _, l := range wrap(l, w) {
				text(l)
			}
		}
	}
	return out
}

// sectionText is sections as a printed sheet's lines: headings, "• "
// items and blank lines between.
func sectionText(ss []section) []string {
	var out []string
	for i, s := range ss {
		if i > 0 {
			out = append(out, "")
		}
		if s.title != "" {
			out = append(out, s.title)
		}
		for _, it := range s.items {
			out = append(out, "• "+it)
		}
		out = append(out, s.lines...)
	}
	return out
}

// scrollBy moves a long page by n lines, within its length.
func (m *Model) scrollBy(n int) {
	span := m.layout().scroll
	m.scroll = min(max(min(m.scroll, span.max)+n, 0), span.max)
}

type printedMsg struct {
	job hw.JobID
	err error
}

// printSheet prints the operator's sheet: what it helps with, what to
// bring, its hours and how to reach it.
func (m Model) printSheet() (Model, tea.Cmd) { return m.print(m.document()) }

// printForm prints one of the site's PDF forms for the operator shown.
func (m Model) printForm(i int) (Model, tea.Cmd) {
	forms := m.ops[m.sel].Forms
	if i < 0 || i >= len(forms) {
		return m, nil
	}
	return m.print(hw.Document{Kind: "form", Lang: m.lang, Title: forms[i].Title, File: forms[i].File})
}

func (m Model) print(doc hw.Document) (Model, tea.Cmd) {
	p := m.d.HW.Printer
	if p == nil || m.notice == "print.busy" {
		return m, nil
	}
	m.notice, m.noticeReason = "print.busy", ""
	return m, func() tea.Msg {
		ctx, cancel := m.ctx(10 * time.Second)
		defer cancel()
		job, err := p.Print(ctx, doc)
		return printedMsg{job: job, err: err}
	}
}

// document is what the print button gives: the whole sheet while the
// operator answers, its contact slip while it is closed.
func (m Model) document() hw.Document {
	op, tx := m.ops[m.sel], m.text(m.sel)
	left, right := m.aboutSections(op, tx)
	if _, open := m.status(m.sel); open {
		return hw.Document{
			Kind:  "sheet",
			Lang:  m.lang,
			Title: fmt.Sprintf(m.t("sheet.title"), tx.Name),
			Lines: sectionText(append(left, right...)),
		}
	}
	// The slip is read at home, later: its opening is a date, and its
	// hours are all there.
	opens := m.t("closed.never")
	if next, ok := op.NextOpening(m.now); ok {
		opens = operators.FormatDate(next, m.lang)
	}
	var lines []string
	if len(right) > 0 && right[0].title == m.t("op.hours") {
		lines = sectionText(right[:1])
	}
	return hw.Document{Kind: "slip", Lang: m.lang, Title: fmt.Sprintf(m.t("slip.title"), tx.Name), Lines: lines,
		Phone: tx.Phone, Website: tx.Website, Opens: opens}
}

// onPrinted follows a job the printer took: the paper is there only when
// the printer says the job completed, which may come before this message.
func (m Model) onPrinted(msg printedMsg) (tea.Model, tea.Cmd) {
	op := ""
	if m.scr == scrOperator {
		op = m.ops[m.sel].ID
	}
	if msg.err != nil {
		m.log.Warn("print failed", "err", msg.err)
		return m.jobDone(op, hw.Change{JobState: "aborted", Reason: m.health.printer.Reason})
	}
	if c, ok := m.health.early[msg.job]; ok {
		delete(m.health.early, msg.job)
		return m.jobDone(op, c)
	}
	m.health.jobs[msg.job] = op
	return m, nil
}

// onJob takes a print job's news from the printer.
func (m Model) onJob(c hw.Change) (tea.Model, tea.Cmd) {
	final := c.JobState == "completed" || c.JobState == "canceled" || c.JobState == "aborted"
	op, ours := m.health.jobs[c.Job]
	switch {
	case final && ours:
		delete(m.health.jobs, c.Job)
		return m.jobDone(op, c)
	case final:
		if len(m.health.early) > 64 { // outcomes of jobs never claimed: forget them
			clear(m.health.early)
		}
		m.health.early[c.Job] = c
	case ours && m.notice == "print.busy":
		m.noticeReason = c.Reason // still waiting, and why
	}
	return m, nil
}

// jobDone says how a job ended, to the citizen if still there, and records
// it.
func (m Model) jobDone(op string, c hw.Change) (tea.Model, tea.Cmd) {
	e := usage.Event{Kind: usage.KindPrintJob, Operator: op, Outcome: usage.OutcomePrinted, Detail: map[string]any{"pages": c.Pages}}
	notice, reason := "print.done", ""
	if c.JobState != "completed" {
		e.Outcome, notice, reason = usage.OutcomeFailed, "print.failed", c.Reason
	}
	if m.scr == scrOperator && m.notice == "print.busy" {
		m.notice, m.noticeReason = notice, reason
	}
	return m, m.record(e)
}

// purgePrints cancels what the previous person left in the printer.
func (m Model) purgePrints() tea.Cmd {
	p := m.d.HW.Printer
	if p == nil {
		return nil
	}
	log := m.log
	return func() tea.Msg {
		ctx, cancel := withTimeout(10 * time.Second)
		defer cancel()
		if err := p.Purge(ctx); err != nil {
			log.Warn("print jobs not purged", "err", err)
		}
		return nil
	}
}
