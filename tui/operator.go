package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
	"github.com/loiret/borne/usage"
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
	by, bh := m.bottom()
	top, rows := 5, by-6
	if m.notice != "" {
		words := m.t(m.notice)
		if m.noticeReason != "" {
			words += " " + m.t("printer."+m.noticeReason)
		}
		f.put(2, by-1, m.w-4, m.st.Warn.Render(fit(words, m.w-4)))
		rows--
	}
	// The site's PDF forms for this operator: a row of print buttons.
	if len(op.Forms) > 0 && m.health.printer.Ready {
		fy := by - 3
		if m.notice != "" {
			fy--
		}
		forms := make([]target, len(op.Forms))
		for i, form := range op.Forms {
			forms[i] = target{id: "form:" + strconv.Itoa(i), lines: []string{fmt.Sprintf(m.t("print.form"), form.Title)},
				disabled: m.notice == "print.busy"}
		}
		m.buttonRow(f, fy, 3, forms...)
		rows = fy - top - 1
	}
	left, right := m.aboutBlocks(op, tx)
	if m.w >= 70 {
		cw := (m.w - 6) / 2
		f.put(2, top, cw, m.para(m.st.Text, left, cw, rows))
		f.put(4+cw, top, cw, m.para(m.st.Text, right, cw, rows))
	} else {
		f.put(2, top, m.w-4, m.para(m.st.Text, left+"\n\n"+right, m.w-4, rows))
	}
	call := target{id: idCall, kind: kindPrimary, lines: []string{m.t("call")}, disabled: !m.callable(m.sel)}
	if next, ok := op.NextOpening(m.now); ok && !open && bh >= 5 {
		call.lines = append(call.lines, fmt.Sprintf(m.t("call.closed"), operators.FormatOpening(next, m.now, m.lang)))
	}
	buttons := []target{call}
	// A closed operator's screen offers its contact slip instead.
	if m.health.printer.Ready {
		label := "print.sheet"
		if !open {
			label = "print.slip"
		}
		buttons = append(buttons, target{id: idPrint, lines: []string{m.t(label)}, disabled: m.notice == "print.busy"})
	}
	m.buttonRow(f, by, bh, append(buttons, target{id: idBack, lines: []string{m.t("back")}})...)
}

// aboutBlocks is what the operator screen says: what it helps with and the
// documents to bring; its hours and how to reach it otherwise.
func (m Model) aboutBlocks(op operators.Operator, tx opText) (string, string) {
	var l, r strings.Builder
	bold := m.st.Title
	l.WriteString(bold.Render(m.t("op.helps")))
	for _, h := range tx.Helps {
		l.WriteString("\n • " + h)
	}
	l.WriteString("\n\n" + bold.Render(m.t("op.documents")))
	for _, d := range tx.Documents {
		l.WriteString("\n • " + d)
	}
	r.WriteString(bold.Render(m.t("op.hours")))
	for _, rg := range op.Hours.Ranges() {
		r.WriteString("\n • " + rg.Format(m.lang))
	}
	if tx.Phone != "" {
		r.WriteString("\n\n" + fmt.Sprintf(m.t("op.phone"), tx.Phone))
	}
	if tx.Website != "" {
		r.WriteString("\n" + fmt.Sprintf(m.t("op.website"), tx.Website))
	}
	return l.String(), r.String()
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
	if _, open := m.status(m.sel); open {
		left, right := m.aboutBlocks(op, tx)
		return hw.Document{
			Kind:  "sheet",
			Lang:  m.lang,
			Title: fmt.Sprintf(m.t("sheet.title"), tx.Name),
			Lines: strings.Split(ansi.Strip(left+"\n\n"+right), "\n"),
		}
	}
	status, _ := m.status(m.sel)
	lines := []string{status}
	if tx.Phone != "" {
		lines = append(lines, fmt.Sprintf(m.t("op.phone"), tx.Phone))
	}
	if tx.Website != "" {
		lines = append(lines, fmt.Sprintf(m.t("op.website"), tx.Website))
	}
	return hw.Document{Kind: "slip", Lang: m.lang, Title: fmt.Sprintf(m.t("slip.title"), tx.Name), Lines: lines,
		Phone: tx.Phone, Website: tx.Website, Opens: status}
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
