package cups

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/ipp"
)

// tracked is a job the kiosk sent and whose outcome it has not reported.
type tracked struct {
	id    int
	kind  string
	pages int // as laid out; CUPS's count wins when it has one
	sent  time.Time
	state int
	// told is the last non-final state the shell was told of, so that a
	// job waiting is said once, not at every poll.
	told string
}

func (p *Printer) track(id int, kind string, pages, state int) {
	p.mu.Lock()
	if _, ok := p.jobs[id]; !ok {
		p.jobs[id] = &tracked{id: id, kind: kind, pages: pages, sent: time.Now(), state: state}
	}
	p.mu.Unlock()
	p.poke()
}

// jobAttrs is what the kiosk reads of a job.
var jobAttrs = []string{
	"job-id", "job-name", "job-state", "job-state-reasons", "job-state-message",
	"job-impressions-completed", "job-media-sheets-completed", "time-at-creation",
}

// pollJobs reads the state of every job the kiosk is waiting for.
func (p *Printer) pollJobs(ctx context.Context) {
	p.mu.Lock()
	ids := make([]int, 0, len(p.jobs))
	for id := range p.jobs {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		r := p.request(ipp.OpGetJobAttributes)
		r.Add(ipp.TagOperation, "job-id", ipp.Integer(id))
		r.Add(ipp.TagOperation, "requested-attributes", ipp.Keywords(jobAttrs...)...)
		cctx, cancel := context.WithTimeout(ctx, p.cfg.Poll+3*time.Second)
		m, err := p.client.Do(cctx, p.path, r, nil)
		cancel()
		switch {
		case ipp.IsStatus(err, ipp.StatusNotFound):
			// CUPS forgot it (its history was purged): it did not print as
			// far as anyone can tell, and must not be waited for forever.
			p.jobUpdate(id, ipp.JobAborted, 0, "the print system no longer knows this job")
			continue
		case ipp.IsUnreachable(err):
			p.setStatus(noService(err))
			return
		case err != nil:
			p.cfg.Log.Warn("reading a print job", "job", id, "err", err)
			continue
		}
		g, _ := m.Group(ipp.TagJob)
		state, _ := g.Int("job-state")
		pages, _ := g.Int("job-impressions-completed")
		p.jobUpdate(id, state, pages, strings.Join(g.Strings("job-state-reasons"), ", "))
	}
	p.checkStuck()
}

// jobUpdate applies a job's new state, from a poll or a signal, and
// reports it when it is final or newly stuck.
func (p *Printer) jobUpdate(id, state, pages int, why string) {
	p.mu.Lock()
	j, ok := p.jobs[id]
	if !ok {
		p.mu.Unlock()
		return
	}
	j.state = state
	if ipp.JobDone(state) {
		delete(p.jobs, id)
	}
	p.mu.Unlock()

	name := ipp.JobStateName(state)
	c := hw.Change{Device: "printer", Job: hw.JobID(strconv.Itoa(id)), JobState: name}
	switch state {
	case ipp.JobCompleted:
		c.OK, c.Pages = true, pages
		if c.Pages <= 0 {
			c.Pages = j.pages
		}
		p.cfg.Log.Info("print job printed", "job", id, "kind", j.kind, "pages", c.Pages)
	case ipp.JobCanceled:
		// Not by the kiosk (that is reported by cancelJob): by an agent
		// at the console, or by CUPS when the backend gave up on it.
		c.Reason = hw.ReasonJobFailed
		p.cfg.Log.Warn("print job canceled", "job", id, "why", why)
	case ipp.JobAborted:
		c.Reason = hw.ReasonJobFailed
		if st := p.lastStatus(); !st.Ready && st.Reason != hw.ReasonNone {
			c.Reason = st.Reason
		}
		p.cfg.Log.Warn("print job failed", "job", id, "why", why)
	case ipp.JobStopped:
		// The printer stopped under the job: said once, and again only
		// when it has moved on.
		if !p.tell(j, name) {
			return
		}
		c.Reason = p.stuckReason(state)
		p.cfg.Log.Warn("print job stopped", "job", id, "why", why)
	default:
		return
	}
	p.out.send(c)
}

// tell marks that the shell was told the job is in state s; false when it
// already was.
func (p *Printer) tell(j *tracked, s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if j.told == s {
		return false
	}
	j.told = s
	return true
}

// stuckReason says why a job does not move: the printer's trouble when
// it has one; the job's own when CUPS stopped it alone (its document
// would not go through the filters).
func (p *Printer) stuckReason(state int) string {
	if st := p.lastStatus(); !st.Ready && st.Reason != hw.ReasonNone {
		return st.Reason
	}
	if state == ipp.JobStopped {
		return hw.ReasonJobFailed
	}
	return hw.ReasonUnknown
}

// checkStuck reports jobs waiting longer than StuckAfter, once each.
func (p *Printer) checkStuck() {
	type waiting struct {
		j     *tracked
		state int
	}
	p.mu.Lock()
	var stuck []waiting
	for _, j := range p.jobs {
		if time.Since(j.sent) > p.cfg.StuckAfter && j.told == "" {
			stuck = append(stuck, waiting{j, j.state})
		}
	}
	p.mu.Unlock()
	for _, w := range stuck {
		name := ipp.JobStateName(w.state)
		if p.tell(w.j, name) {
			p.cfg.Log.Warn("print job waiting too long", "job", w.j.id, "state", name)
			p.out.send(hw.Change{Device: "printer", Job: hw.JobID(strconv.Itoa(w.j.id)), JobState: name, Reason: p.stuckReason(w.state)})
		}
	}
}

// jobsUnreachable tells the shell, once, that the jobs it waits for
// cannot be followed: CUPS is gone. They may still print when it returns,
// and their outcome is reported then.
func (p *Printer) jobsUnreachable() {
	p.mu.Lock()
	var tell []hw.Change
	for _, j := range p.jobs {
		if j.told != "unreachable" {
			j.told = "unreachable"
			tell = append(tell, hw.Change{Device: "printer", Job: hw.JobID(strconv.Itoa(j.id)), JobState: ipp.JobStateName(j.state), Reason: hw.ReasonNoService})
		}
	}
	p.mu.Unlock()
	for _, c := range tell {
		p.out.send(c)
	}
}

// Jobs lists the queue's jobs that are not done and the ones that failed
// or were canceled by CUPS, oldest first: what maintenance can retry or
// cancel. Jobs the kiosk canceled are purged and not listed.
func (p *Printer) Jobs(ctx context.Context) ([]hw.PrintJob, error) {
	var out []hw.PrintJob
	for _, which := range []string{"not-completed", "aborted", "canceled"} {
		r := p.request(ipp.OpGetJobs)
		r.Add(ipp.TagOperation, "which-jobs", ipp.Keyword(which))
		r.Add(ipp.TagOperation, "requested-attributes", ipp.Keywords(jobAttrs...)...)
		m, err := p.client.Do(ctx, p.path, r, nil)
		if err != nil {
			return nil, fmt.Errorf("listing the print jobs: %w", err)
		}
		for _, g := range m.All(ipp.TagJob) {
			id, _ := g.Int("job-id")
			state, _ := g.Int("job-state")
			pages, _ := g.Int("job-impressions-completed")
			created, _ := g.Int("time-at-creation")
			j := hw.PrintJob{
				ID:      hw.JobID(strconv.Itoa(id)),
				Name:    g.Text("job-name"),
				State:   ipp.JobStateName(state),
				Detail:  strings.Join(g.Strings("job-state-reasons"), ", "),
				Pages:   pages,
				Created: time.Unix(int64(created), 0),
			}
			if msg := g.Text("job-state-message"); msg != "" {
				j.Detail += ": " + msg
			}
			switch state {
			case ipp.JobAborted, ipp.JobCanceled:
				j.Reason = hw.ReasonJobFailed
			case ipp.JobStopped, ipp.JobHeld:
				j.Reason = p.stuckReason(state)
			}
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b hw.PrintJob) int {
		x, _ := strconv.Atoi(string(a.ID))
		y, _ := strconv.Atoi(string(b.ID))
		return x - y
	})
	return out, nil
}

// Purge cancels every job of the queue that has not printed, whoever sent
// it, so that nobody takes the previous person's papers.
func (p *Printer) Purge(ctx context.Context) error {
	r := p.request(ipp.OpGetJobs)
	r.Add(ipp.TagOperation, "which-jobs", ipp.Keyword("not-completed"))
	r.Add(ipp.TagOperation, "requested-attributes", ipp.Keywords("job-id")...)
	m, err := p.client.Do(ctx, p.path, r, nil)
	if ipp.IsStatus(err, ipp.StatusNotFound) {
		return nil // no queue, no jobs
	}
	if err != nil {
		return fmt.Errorf("purging the print jobs: %w", err)
	}
	var errs []error
	for _, g := range m.All(ipp.TagJob) {
		if id, ok := g.Int("job-id"); ok {
			if err := p.cancelJob(ctx, id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	p.poke()
	return errors.Join(errs...)
}

// Cancel cancels one job and removes its document from the spool.
func (p *Printer) Cancel(ctx context.Context, id hw.JobID) error {
	n, err := strconv.Atoi(string(id))
	if err != nil {
		return fmt.Errorf("no print job %q", id)
	}
	err = p.cancelJob(ctx, n)
	p.poke()
	return err
}

// cancelJob cancels a job as its owner, and through cups-pk-helper when
// CUPS wants more than that (a job someone else sent). The job is purged:
// its document leaves the spool, and CUPS forgets it, so its outcome is
// reported here rather than read back.
func (p *Printer) cancelJob(ctx context.Context, id int) error {
	r := p.request(ipp.OpCancelJob)
	r.Add(ipp.TagOperation, "job-id", ipp.Integer(id))
	r.Add(ipp.TagOperation, "purge-job", ipp.Boolean(true))
	_, err := p.client.Do(ctx, p.path, r, nil)
	switch {
	case err == nil:
	case ipp.IsStatus(err, ipp.StatusNotPossible), ipp.IsStatus(err, ipp.StatusNotFound):
		return nil // done or gone already: its outcome is read as usual
	case ipp.IsDenied(err):
		if perr := p.pkCall(ctx, "JobCancelPurge", int32(id), true); perr != nil {
			return fmt.Errorf("canceling print job %d: CUPS refused (%v) and %w", id, err, perr)
		}
	default:
		return fmt.Errorf("canceling print job %d: %w", id, err)
	}
	p.mu.Lock()
	_, mine := p.jobs[id]
	delete(p.jobs, id)
	p.mu.Unlock()
	if mine {
		p.cfg.Log.Info("print job canceled", "job", id)
		p.out.send(hw.Change{Device: "printer", Job: hw.JobID(strconv.Itoa(id)), JobState: "canceled", Reason: hw.ReasonJobCanceled})
	}
	return nil
}

// Retry prints a failed or stopped job again.
func (p *Printer) Retry(ctx context.Context, id hw.JobID) error {
	n, err := strconv.Atoi(string(id))
	if err != nil {
		return fmt.Errorf("no print job %q", id)
	}
	r := p.request(ipp.OpRestartJob)
	r.Add(ipp.TagOperation, "job-id", ipp.Integer(n))
	_, err = p.client.Do(ctx, p.path, r, nil)
	if ipp.IsDenied(err) {
		if perr := p.pkCall(ctx, "JobRestart", int32(n)); perr != nil {
			return fmt.Errorf("retrying print job %d: CUPS refused (%v) and %w", n, err, perr)
		}
		err = nil
	}
	if err != nil {
		return fmt.Errorf("retrying print job %d: %w", n, err)
	}
	p.track(n, "retry", 0, ipp.JobPending)
	return nil
}

// Enable starts the queue again and makes it accept jobs, after an agent
// or CUPS itself stopped it. It goes through cups-pk-helper, as only an
// administrator may do this; straight to CUPS when it lets the kiosk's
// user do it (root, or the Unix socket of an administrator).
func (p *Printer) Enable(ctx context.Context) error {
	pkErr := p.pkCall(ctx, "PrinterSetEnabled", p.cfg.Queue, true)
	if pkErr == nil {
		pkErr = p.pkCall(ctx, "PrinterSetAcceptJobs", p.cfg.Queue, true, "")
	}
	if pkErr == nil {
		p.poke()
		return nil
	}
	var ippErr error
	for _, op := range []ipp.Op{ipp.OpResumePrinter, ipp.OpCUPSAcceptJobs} {
		if _, ippErr = p.client.Do(ctx, "/admin/", p.request(op), nil); ippErr != nil {
			break
		}
	}
	if ippErr != nil {
		return fmt.Errorf("enabling the queue %q: %v; and CUPS: %w", p.cfg.Queue, pkErr, ippErr)
	}
	p.poke()
	return nil
}

// outbox queues changes for the shell without ever blocking the sender:
// a slow reader must not stall the polling, and no outcome may be lost.
type outbox struct {
	ch     chan hw.Change
	mu     sync.Mutex
	queue  []hw.Change
	more   chan struct{}
	closed chan struct{}
	done   chan struct{}
}

func newOutbox() *outbox {
	o := &outbox{ch: make(chan hw.Change), more: make(chan struct{}, 1), closed: make(chan struct{}), done: make(chan struct{})}
	go o.forward()
	return o
}

func (o *outbox) send(c hw.Change) {
	o.mu.Lock()
	o.queue = append(o.queue, c)
	o.mu.Unlock()
	select {
	case o.more <- struct{}{}:
	default:
	}
}

func (o *outbox) forward() {
	defer close(o.done)
	defer close(o.ch)
	for {
		o.mu.Lock()
		var next hw.Change
		have := len(o.queue) > 0
		if have {
			next = o.queue[0]
		}
		o.mu.Unlock()
		if !have {
			select {
			case <-o.more:
				continue
			case <-o.closed:
				return
			}
		}
		select {
		case o.ch <- next:
			o.mu.Lock()
			o.queue = o.queue[1:]
			o.mu.Unlock()
		case <-o.closed:
			return
		}
	}
}

func (o *outbox) close() {
	close(o.closed)
	<-o.done
}
