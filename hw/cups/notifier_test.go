package cups_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/cups"
	"github.com/loiret/borne/hw/ipp"
)

// newFakePrinter is a printer on the fake CUPS, listening to the private
// bus; polling finds its job held forever, so only signals move it.
func newFakePrinter(t *testing.T, f *fakeCUPS, bus string, lease time.Duration) *cups.Printer {
	t.Helper()
	cfg := cups.Config{Server: f.addr(), Queue: "borne-test", User: user, Poll: 50 * time.Millisecond, Lease: lease, StuckAfter: time.Hour}
	if bus != "" {
		cfg.SystemBus = dialer(bus)
	}
	p, err := cups.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNotifierSignals sends the signals cupsd's dbus notifier sends, with
// their exact signatures, and checks what the shell is told.
func TestNotifierSignals(t *testing.T) {
	bus := startBus(t)
	f := startFakeCUPS(t)
	p := newFakePrinter(t, f, bus, time.Hour)
	ch := p.Changes()
	waitChange(t, ch, 5*time.Second, "printer ready at start", printerIs(true, ""))
	waitFor(t, 5*time.Second, "the notifier subscription", func() bool { return p.Subscription() == 1 })

	job, err := p.Print(ctxT(t, 5*time.Second), hw.Document{Kind: "sheet", Title: "Fiche CAF", Lines: []string{"• Pièce d'identité"}})
	if err != nil || job != "1" {
		t.Fatalf("Print = %q, %v", job, err)
	}
	e := newEmitter(t, bus)

	// Another queue's troubles are not the kiosk's.
	e.printer(t, "PrinterStateChanged", "other", 5, "media-empty-error,paused", true)
	// The kiosk's queue runs out of paper.
	e.printer(t, "PrinterStateChanged", "borne-test", 5, "media-empty-error,paused", true)
	c := waitChange(t, ch, 5*time.Second, "out of paper", func(c hw.Change) bool { return c.Job == "" })
	if c.OK || c.Reason != hw.ReasonNoPaper {
		t.Fatalf("first printer change = %+v, want not OK, %s (the other queue's signal must be ignored)", c, hw.ReasonNoPaper)
	}
	// The job stops with it: said once, not OK, not final.
	e.job(t, "JobStopped", "borne-test", "media-empty-error,paused", 1, ipp.JobStopped, 0)
	e.job(t, "JobState", "borne-test", "media-empty-error,paused", 1, ipp.JobStopped, 0)
	c = waitChange(t, ch, 5*time.Second, "job stopped", func(c hw.Change) bool { return c.Job == "1" })
	if c.OK || c.JobState != "processing-stopped" || c.Reason != hw.ReasonNoPaper {
		t.Fatalf("job change = %+v", c)
	}
	// Paper back: ready, and the job completes with the pages CUPS counted.
	e.printer(t, "PrinterStateChanged", "borne-test", 3, "none", true)
	waitChange(t, ch, 5*time.Second, "ready again", printerIs(true, ""))
	// Signals that are not the kiosk's job, or malformed, change nothing.
	e.job(t, "JobCompleted", "borne-test", "none", 99, ipp.JobCompleted, 1)
	if err := e.conn.Emit(cups.NotifierPath, cups.NotifierIface+".JobCompleted", "short", "", "borne-test"); err != nil {
		t.Fatal(err)
	}
	if err := e.conn.Emit(cups.NotifierPath, cups.NotifierIface+".PrinterStateChanged", "wrong", "types", "borne-test", int32(5), "paused", true); err != nil {
		t.Fatal(err)
	}
	e.job(t, "JobCompleted", "borne-test", "none", 1, ipp.JobCompleted, 2)
	c = waitChange(t, ch, 5*time.Second, "job completed", func(c hw.Change) bool { return c.Job != "" || !c.OK })
	if c.Job != "1" || !c.OK || c.JobState != "completed" || c.Pages != 2 {
		t.Fatalf("change = %+v, want job 1 completed, 2 pages, and nothing from the foreign or malformed signals", c)
	}
	// A job signal whose printer URI is empty carries no printer state.
	if err := e.conn.Emit(cups.NotifierPath, cups.NotifierIface+".JobState",
		"", "", "", uint32(5), "paused", false, uint32(7), uint32(ipp.JobPending), "none", "x", uint32(0)); err != nil {
		t.Fatal(err)
	}
	// The queue deleted, then CUPS stopping.
	e.printer(t, "PrinterDeleted", "borne-test", 5, "none", false)
	c = waitChange(t, ch, 5*time.Second, "queue deleted", func(c hw.Change) bool { return true })
	if c.OK || c.Reason != hw.ReasonNoPrinter {
		t.Fatalf("after PrinterDeleted: %+v (an empty-URI job signal must not change the printer)", c)
	}
	if err := e.conn.Emit(cups.NotifierPath, cups.NotifierIface+".ServerStopped", "Scheduler shutting down."); err != nil {
		t.Fatal(err)
	}
	waitChange(t, ch, 5*time.Second, "CUPS stopped", printerIs(false, hw.ReasonNoService))
}

func TestJobOutcomes(t *testing.T) {
	bus := startBus(t)
	f := startFakeCUPS(t)
	p := newFakePrinter(t, f, bus, time.Hour)
	ch := p.Changes()
	waitFor(t, 5*time.Second, "the notifier subscription", func() bool { return p.Subscription() == 1 })
	e := newEmitter(t, bus)
	print := func() hw.JobID {
		job, err := p.Print(ctxT(t, 5*time.Second), hw.Document{Kind: "slip", Title: "CAF"})
		if err != nil {
			t.Fatal(err)
		}
		return job
	}
	for _, tc := range []struct {
		state  uint32
		name   string
		ok     bool
		reason string
	}{
		// Canceled, not by the kiosk: by CUPS or at its console.
		{ipp.JobCanceled, "canceled", false, hw.ReasonJobFailed},
		{ipp.JobAborted, "aborted", false, hw.ReasonJobFailed},
		{ipp.JobCompleted, "completed", true, ""},
	} {
		job := print()
		e.job(t, "JobCompleted", "borne-test", "none", 1, tc.state, 0)
		c := waitChange(t, ch, 5*time.Second, tc.name, jobDone(job))
		if c.OK != tc.ok || c.JobState != tc.name || c.Reason != tc.reason {
			t.Errorf("%s: %+v", tc.name, c)
		}
		if tc.ok && c.Pages != 1 {
			t.Errorf("completed with no count from CUPS: pages %d, want the 1 laid out", c.Pages)
		}
	}
}

func TestJobStuck(t *testing.T) {
	f := startFakeCUPS(t)
	p, err := cups.New(cups.Config{Server: f.addr(), Queue: "borne-test", User: user, Poll: 20 * time.Millisecond, StuckAfter: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	job, err := p.Print(ctxT(t, 5*time.Second), hw.Document{Kind: "sheet", Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c := waitChange(t, p.Changes(), 5*time.Second, "job stuck", func(c hw.Change) bool { return c.Job == job })
	if c.OK || c.JobState != "pending-held" || c.Reason != hw.ReasonUnknown {
		t.Errorf("stuck job: %+v", c)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("told after %s, before StuckAfter", d)
	}
	// Said once only.
	select {
	case c := <-p.Changes():
		if c.Job == job {
			t.Errorf("told again: %+v", c)
		}
	case <-time.After(300 * time.Millisecond):
	}
}

func TestSubscriptionRenewedAndCanceled(t *testing.T) {
	bus := startBus(t)
	f := startFakeCUPS(t)
	p := newFakePrinter(t, f, bus, 2*time.Second)
	waitFor(t, 5*time.Second, "a renewal before the 2s lease ends", func() bool { return f.count(ipp.OpRenewSubscription) >= 1 })
	if n := f.count(ipp.OpCreatePrinterSubscriptions); n != 1 {
		t.Errorf("%d subscriptions made, want 1 renewed", n)
	}
	p.Close()
	if n := f.count(ipp.OpCancelSubscription); n != 1 {
		t.Errorf("Close canceled %d subscriptions, want 1", n)
	}
	if _, open := <-p.Changes(); open {
		for range p.Changes() {
		}
	}
}

func TestNoBusPollsOnly(t *testing.T) {
	f := startFakeCUPS(t)
	p := newFakePrinter(t, f, "", time.Hour)
	waitChange(t, p.Changes(), 5*time.Second, "ready", printerIs(true, ""))
	time.Sleep(200 * time.Millisecond)
	if n := f.count(ipp.OpCreatePrinterSubscriptions); n != 0 {
		t.Errorf("%d subscriptions without a bus to hear them", n)
	}
	if err := p.Enable(ctxT(t, 5*time.Second)); err == nil || !strings.Contains(err.Error(), "no system bus") {
		t.Errorf("Enable without bus nor rights: %v", err)
	}
}

func TestPkHelper(t *testing.T) {
	bus := startBus(t)
	helper := startPkHelper(t, bus)
	f := startFakeCUPS(t)
	f.deny = map[ipp.Op]bool{ipp.OpCancelJob: true, ipp.OpResumePrinter: true}
	p := newFakePrinter(t, f, bus, time.Hour)
	ctx := ctxT(t, 10*time.Second)

	// Jobs sent by someone else: CUPS refuses the kiosk, the helper cancels.
	if err := p.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"JobCancelPurge 1 true", "JobCancelPurge 2 true", "PrinterSetEnabled borne-test true", "PrinterSetAcceptJobs borne-test true "}
	if got := helper.Calls(); !slices.Equal(got, want) {
		t.Errorf("helper calls:\n got %q\nwant %q", got, want)
	}

	// The helper refusing (polkit said no) is said, with CUPS's refusal.
	helper.setFail("not-authorized")
	err := p.Cancel(ctx, "1")
	if err == nil || !strings.Contains(err.Error(), "not-authorized") || !strings.Contains(err.Error(), "authenticated") {
		t.Errorf("Cancel refused by both: %v", err)
	}
	err = p.Enable(ctx)
	if err == nil || !strings.Contains(err.Error(), "not-authorized") {
		t.Errorf("Enable refused by both: %v", err)
	}
	if err := p.Cancel(ctx, "x"); err == nil {
		t.Errorf("Cancel of a job that is no number: no error")
	}
}
