package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/printdoc"
)

// simJob is a job waiting in the simulated queue.
type simJob struct {
	id    hw.JobID
	n     int
	doc   hw.Document
	pdf   printdoc.PDF
	since time.Time
}

// SetStall makes jobs wait in the queue, as behind a printer that took
// them and stopped, so that maintenance has stuck jobs to retry or purge.
// Turning it off prints what waits.
func (m *Machine) SetStall(on bool) {
	m.mu.Lock()
	m.stall = on
	m.mu.Unlock()
	if !on {
		m.flush()
	}
}

// SetLocation sets the time zone of the dates printed: the site's, as
// the real printer's back-end uses. UTC until set.
func (m *Machine) SetLocation(loc *time.Location) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loc = loc
}

func (m *Machine) now() time.Time {
	m.mu.Lock()
	loc := m.loc
	m.mu.Unlock()
	if loc == nil {
		loc = time.UTC
	}
	return time.Now().In(loc)
}

type printer struct{ m *Machine }

var _ hw.PrintQueue = printer{}

func (p printer) Status(ctx context.Context) (hw.PrinterStatus, error) {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	return p.m.printer, nil
}

// Print lays the document out as the real printer does and writes the
// PDF, with a text copy beside it, named after its job number.
func (p printer) Print(ctx context.Context, d hw.Document) (hw.JobID, error) {
	m := p.m
	at := m.now()
	pdf, err := printdoc.Render(d, at)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	st, stall := m.printer, m.stall
	m.jobs++
	n := m.jobs
	j := simJob{id: hw.JobID(fmt.Sprintf("sim-%d", n)), n: n, doc: d, pdf: pdf, since: at}
	if st.Ready && stall {
		m.queue = append(m.queue, j)
	}
	m.mu.Unlock()
	if !st.Ready {
		return "", fmt.Errorf("printer not ready: %s", st.Reason)
	}
	if stall {
		return j.id, nil
	}
	if err := m.write(j); err != nil {
		return "", err
	}
	m.report(hw.Change{Device: "printer", OK: true, Job: j.id, JobState: "completed", Pages: pdf.Pages})
	return j.id, nil
}

func (m *Machine) write(j simJob) error {
	if err := os.MkdirAll(m.dir, 0o750); err != nil {
		return fmt.Errorf("simulated printer: %w", err)
	}
	base := filepath.Join(m.dir, fmt.Sprintf("job-%03d-%s", j.n, j.doc.Kind))
	body := j.doc.Title + "\n\n" + strings.Join(j.doc.Lines, "\n") + "\n\n" + printdoc.Printed(j.doc.Lang, j.since) + "\n"
	if err := os.WriteFile(base+".pdf", j.pdf.Data, 0o640); err != nil {
		return fmt.Errorf("simulated printer: %w", err)
	}
	if err := os.WriteFile(base+".txt", []byte(body), 0o640); err != nil {
		return fmt.Errorf("simulated printer: %w", err)
	}
	return nil
}

// flush prints every waiting job.
func (m *Machine) flush() {
	m.mu.Lock()
	queue := m.queue
	m.queue = nil
	m.mu.Unlock()
	for _, j := range queue {
		c := hw.Change{Device: "printer", Job: j.id, JobState: "completed", OK: true, Pages: j.pdf.Pages}
		if err := m.write(j); err != nil {
			c = hw.Change{Device: "printer", Job: j.id, JobState: "aborted", Reason: hw.ReasonJobFailed}
		}
		m.report(c)
	}
}

// Purge cancels the jobs still queued: the files written are the paper
// already taken.
func (p printer) Purge(ctx context.Context) error {
	p.m.mu.Lock()
	queue := p.m.queue
	p.m.queue = nil
	p.m.mu.Unlock()
	for _, j := range queue {
		p.m.report(hw.Change{Device: "printer", Job: j.id, JobState: "canceled", Reason: hw.ReasonJobCanceled})
	}
	return ctx.Err()
}

// Jobs implements hw.PrintQueue: the jobs waiting.
func (p printer) Jobs(ctx context.Context) ([]hw.PrintJob, error) {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	var out []hw.PrintJob
	for _, j := range p.m.queue {
		out = append(out, hw.PrintJob{ID: j.id, Name: j.doc.Title, State: "processing-stopped",
			Reason: hw.ReasonUnknown, Detail: "simulated: held by SetStall", Created: j.since})
	}
	return out, ctx.Err()
}

// Cancel implements hw.PrintQueue.
func (p printer) Cancel(ctx context.Context, id hw.JobID) error {
	m := p.m
	m.mu.Lock()
	found := false
	for i, j := range m.queue {
		if j.id == id {
			m.queue = append(m.queue[:i:i], m.queue[i+1:]...)
			found = true
			break
		}
	}
	m.mu.Unlock()
	if found {
		m.report(hw.Change{Device: "printer", Job: id, JobState: "canceled", Reason: hw.ReasonJobCanceled})
	}
	return ctx.Err()
}

// Retry implements hw.PrintQueue: the waiting jobs print.
func (p printer) Retry(ctx context.Context, id hw.JobID) error {
	p.m.SetStall(false)
	return ctx.Err()
}

// Enable implements hw.PrintQueue: the printer is ready and prints what
// waits.
func (p printer) Enable(ctx context.Context) error {
	p.m.SetPrinter(hw.PrinterStatus{Ready: true})
	p.m.SetStall(false)
	return ctx.Err()
}
