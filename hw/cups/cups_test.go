package cups_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/cups"
	"github.com/loiret/borne/hw/cups/cupstest"
	"github.com/loiret/borne/hw/ipp"
)

// These tests print on a real cupsd (cupstest), through Debian's cups-pdf
// backend, and read the PDF files it makes.

// user is who the jobs are from: like the kiosk's own user, not root, so
// cupsd's owner checks apply. It must exist: cupsd 2.4.2 crashes on
// Cancel-Job, Restart-Job and Pause-Printer from an unknown user, and
// "nobody" is on every Debian system, unlike a kiosk user the tests would
// have to make.
const user = "nobody"

func newPrinter(t *testing.T, srv *cupstest.Server, queue, bus string) *cups.Printer {
	t.Helper()
	cfg := cups.Config{Server: srv.Addr, Queue: queue, User: user, Poll: 100 * time.Millisecond, StuckAfter: time.Minute, Log: testLog(t)}
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

func TestPrintEachKind(t *testing.T) {
	srv := cupstest.Start(t, cupstest.Options{})
	p := newPrinter(t, srv, srv.Queue, "")
	ch := p.Changes()
	waitChange(t, ch, 10*time.Second, "ready", printerIs(true, ""))
	form, _ := filepath.Abs("../ipp/testdata/one-page.pdf")
	long := hw.Document{Kind: "sheet", Title: "Fiche longue", Lang: "fr"}
	for range 70 {
		long.Lines = append(long.Lines, "• Justificatif de domicile de moins de trois mois")
	}
	tests := []struct {
		doc   hw.Document
		pages int
		want  []string
	}{
		{hw.Document{Kind: "sheet", Title: "Fiche — CAF du Loiret", Lang: "fr", Lines: []string{
			"Documents à apporter", " • Pièce d'identité", " • Numéro d'allocataire"}},
			1, []string{"Fiche — CAF du Loiret", "Documents à apporter", "Pièce d'identité"}},
		{hw.Document{Kind: "slip", Title: "CPAM du Loiret", Lang: "fr", Lines: []string{"Fermé · ouvre lun. 9:00"},
			Phone: "36 46", Website: "ameli.fr", Opens: "lundi 9:00"},
			1, []string{"CPAM du Loiret", "Téléphone", "36 46", "ameli.fr", "Prochaine ouverture"}},
		{hw.Document{Kind: "test", Lang: "fr", Lines: []string{"File d'attente : " + srv.Queue}},
			1, []string{"Page de test", "File d'attente : " + srv.Queue, "éèêë"}},
		{hw.Document{Kind: "form", Title: "Formulaire", File: form}, 1, []string{"Formulaire de test"}},
		{long, 3, []string{"Fiche longue", "page 3 sur 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.doc.Kind+" "+tt.doc.Title, func(t *testing.T) {
			job, err := p.Print(ctxT(t, 10*time.Second), tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			c := waitChange(t, ch, 60*time.Second, "the job's outcome", jobDone(job))
			if !c.OK || c.JobState != "completed" {
				t.Fatalf("outcome %+v\n%s", c, srv.Log())
			}
			id := jobNumber(t, job)
			pdf := srv.PDF(t, id, 10*time.Second)
			if n := cupstest.Pages(t, pdf); n != tt.pages || c.Pages != tt.pages {
				t.Errorf("pages: %d in the PDF, %d reported; want %d", n, c.Pages, tt.pages)
			}
			text := cupstest.Text(t, pdf)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q is not in the printed PDF:\n%s", w, text)
				}
			}
		})
	}
}

func jobNumber(t *testing.T, id hw.JobID) int {
	t.Helper()
	var n int
	for _, c := range id {
		if c < '0' || c > '9' {
			t.Fatalf("job id %q is not CUPS's number", id)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func TestStateAndRefusal(t *testing.T) {
	srv := cupstest.Start(t, cupstest.Options{})
	p := newPrinter(t, srv, srv.Queue, "")
	ch := p.Changes()
	ctx := ctxT(t, 30*time.Second)
	st, err := p.Status(ctx)
	if err != nil || !st.Ready || !strings.Contains(st.Detail, "idle") || !strings.Contains(st.Detail, "iso_a4_210x297mm") {
		t.Fatalf("status = %+v, %v", st, err)
	}
	waitChange(t, ch, 10*time.Second, "ready", printerIs(true, ""))

	srv.Pause(t)
	st, _ = p.Status(ctx)
	if st.Ready || st.Reason != hw.ReasonPaused || !strings.Contains(st.Detail, "stopped") {
		t.Fatalf("paused queue: %+v", st)
	}
	waitChange(t, ch, 10*time.Second, "stopped", printerIs(false, hw.ReasonPaused))
	_, err = p.Print(ctx, hw.Document{Kind: "sheet", Title: "x"})
	if !errors.Is(err, cups.ErrNotReady) || !strings.Contains(err.Error(), "Printer stopped") {
		t.Errorf("Print on a stopped queue: %v", err)
	}
	jobs, err := p.Jobs(ctx)
	if err != nil || len(jobs) != 0 {
		t.Errorf("nothing was queued: %+v %v", jobs, err)
	}

	// Polling alone notices the queue is back.
	srv.Resume(t)
	waitChange(t, ch, 10*time.Second, "ready again by polling", printerIs(true, ""))
}

// TestPurge is the end of a session: every job not printed is canceled,
// the kiosk's own through CUPS, anyone else's through cups-pk-helper.
func TestPurge(t *testing.T) {
	bus := startBus(t)
	srv := cupstest.Start(t, cupstest.Options{})
	helper := startPkHelper(t, bus)
	helper.setAct(func(method string, args ...any) string {
		if method != "JobCancelPurge" {
			return "unexpected " + method
		}
		r := ipp.NewRequest(ipp.OpCancelJob, "en")
		r.Add(ipp.TagOperation, "printer-uri", ipp.URI("ipp://localhost/printers/"+srv.Queue))
		r.Add(ipp.TagOperation, "job-id", ipp.Integer(int(args[0].(int32))))
		r.Add(ipp.TagOperation, "requesting-user-name", ipp.Name("root"))
		r.Add(ipp.TagOperation, "purge-job", ipp.Boolean(args[1].(bool)))
		if _, err := srv.Admin(ctxT(t, 5*time.Second), "/jobs", r, nil); err != nil {
			return err.Error()
		}
		return ""
	})
	p := newPrinter(t, srv, srv.Queue, bus)
	ch := p.Changes()
	ctx := ctxT(t, 60*time.Second)

	// New jobs wait, as behind a printer that is warming up.
	srv.QueueOp(t, ipp.OpHoldNewJobs)
	var mine []hw.JobID
	for _, title := range []string{"Fiche CAF", "Formulaire"} {
		job, err := p.Print(ctx, hw.Document{Kind: "sheet", Title: title})
		if err != nil {
			t.Fatalf("printing with new jobs held: %v", err)
		}
		mine = append(mine, job)
	}
	pdf, _ := os.ReadFile("../ipp/testdata/one-page.pdf")
	r := ipp.NewRequest(ipp.OpPrintJob, "en")
	r.Add(ipp.TagOperation, "printer-uri", ipp.URI("ipp://localhost/printers/"+srv.Queue))
	r.Add(ipp.TagOperation, "requesting-user-name", ipp.Name("someone"))
	r.Add(ipp.TagOperation, "document-format", ipp.MimeType("application/pdf"))
	if _, err := srv.Admin(ctx, "/printers/"+srv.Queue, r, pdf); err != nil {
		t.Fatal(err)
	}
	jobs, err := p.Jobs(ctx)
	if err != nil || len(jobs) != 3 {
		t.Fatalf("jobs = %+v, %v", jobs, err)
	}
	for _, j := range jobs {
		if j.State != "pending-held" {
			t.Errorf("job %+v not held", j)
		}
	}

	if err := p.Purge(ctx); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	for _, job := range mine {
		c := waitChange(t, ch, 10*time.Second, "canceled", jobDone(job))
		if c.OK || c.JobState != "canceled" || c.Reason != hw.ReasonJobCanceled {
			t.Errorf("purged job: %+v", c)
		}
	}
	if calls := helper.Calls(); len(calls) != 1 || !strings.HasPrefix(calls[0], "JobCancelPurge ") {
		t.Errorf("helper calls %q: want one, for the other user's job", calls)
	}
	jobs, err = p.Jobs(ctx)
	if err != nil || len(jobs) != 0 {
		t.Errorf("after the purge: %+v, %v", jobs, err)
	}
}

func TestMissingQueue(t *testing.T) {
	srv := cupstest.Start(t, cupstest.Options{})
	p := newPrinter(t, srv, "nowhere", "")
	ctx := ctxT(t, 20*time.Second)
	st, err := p.Status(ctx)
	if err != nil || st.Ready || st.Reason != hw.ReasonNoPrinter || !strings.Contains(st.Detail, `no queue "nowhere"`) {
		t.Errorf("status: %+v %v", st, err)
	}
	waitChange(t, p.Changes(), 10*time.Second, "not found", printerIs(false, hw.ReasonNoPrinter))
	_, err = p.Print(ctx, hw.Document{Kind: "sheet", Title: "x"})
	if !errors.Is(err, cups.ErrNotReady) || !strings.Contains(err.Error(), "Printer not found") {
		t.Errorf("Print: %v", err)
	}
	if err := p.Purge(ctx); err != nil {
		t.Errorf("Purge with no queue: %v", err)
	}
	checks := p.Doctor(ctx)
	if len(checks) < 2 || checks[0].Health != hw.OK || checks[1].Health != hw.Missing || !checks[1].Needed || !strings.Contains(checks[1].Reason, "lpadmin") {
		t.Errorf("doctor: %+v", checks)
	}
}

func TestBadForms(t *testing.T) {
	srv := cupstest.Start(t, cupstest.Options{})
	p := newPrinter(t, srv, srv.Queue, "")
	ctx := ctxT(t, 20*time.Second)
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "cerfa.pdf")
	os.WriteFile(corrupt, []byte("<html>not found</html>"), 0o644)
	for _, tc := range []struct{ file, says string }{
		{filepath.Join(dir, "missing.pdf"), "does not exist"},
		{corrupt, "not a PDF"},
	} {
		_, err := p.Print(ctx, hw.Document{Kind: "form", Title: "CERFA", File: tc.file})
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), tc.file) {
			t.Errorf("form %s: %v", tc.file, err)
		}
	}
	jobs, _ := p.Jobs(ctx)
	if len(jobs) != 0 {
		t.Errorf("a bad form reached CUPS: %+v", jobs)
	}
}

// TestCupsdStopped stops the scheduler under a waiting job: the shell is
// told at once, nothing hangs, and the job's outcome still comes when
// CUPS is back.
func TestCupsdStopped(t *testing.T) {
	srv := cupstest.Start(t, cupstest.Options{})
	p := newPrinter(t, srv, srv.Queue, "")
	ch := p.Changes()
	waitChange(t, ch, 10*time.Second, "ready", printerIs(true, ""))
	srv.QueueOp(t, ipp.OpHoldNewJobs)
	job, err := p.Print(ctxT(t, 10*time.Second), hw.Document{Kind: "sheet", Title: "Fiche"})
	if err != nil {
		t.Fatal(err)
	}

	srv.Stop(true)
	waitChange(t, ch, 5*time.Second, "CUPS gone", printerIs(false, hw.ReasonNoService))
	c := waitChange(t, ch, 5*time.Second, "the job cannot be followed", func(c hw.Change) bool { return c.Job == job })
	if c.OK || c.Reason != hw.ReasonNoService || c.JobState != "pending-held" {
		t.Errorf("job while CUPS is gone: %+v", c)
	}
	start := time.Now()
	_, err = p.Print(ctxT(t, 10*time.Second), hw.Document{Kind: "sheet", Title: "x"})
	if !errors.Is(err, cups.ErrNotReady) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Print with CUPS gone: %v", err)
	}
	st, _ := p.Status(ctxT(t, 10*time.Second))
	if st.Reason != hw.ReasonNoService || !strings.Contains(st.Detail, "cups service") {
		t.Errorf("status with CUPS gone: %+v", st)
	}
	checks := p.Doctor(ctxT(t, 10*time.Second))
	if checks[0].Health != hw.Missing || !checks[0].Needed {
		t.Errorf("doctor with CUPS gone: %+v", checks)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("with CUPS gone, Print, Status and Doctor took %s", d)
	}

	srv.Restart(t)
	waitChange(t, ch, 10*time.Second, "CUPS back", printerIs(true, ""))
	r := ipp.NewRequest(ipp.OpReleaseJob, "en")
	r.Add(ipp.TagOperation, "printer-uri", ipp.URI("ipp://localhost/printers/"+srv.Queue))
	r.Add(ipp.TagOperation, "job-id", ipp.Integer(jobNumber(t, job)))
	r.Add(ipp.TagOperation, "requesting-user-name", ipp.Name("root"))
	if _, err := srv.Admin(ctxT(t, 5*time.Second), "/jobs", r, nil); err != nil {
		t.Fatalf("releasing the job: %v", err)
	}
	c = waitChange(t, ch, 60*time.Second, "the job printed after all", jobDone(job))
	if !c.OK || c.Pages != 1 {
		t.Errorf("job after CUPS came back: %+v\n%s", c, srv.Log())
	}
}

// TestFailedJob prints on a queue whose backend fails: the job's failure
// is said, maintenance sees it and can retry it.
func TestFailedJob(t *testing.T) {
	srv := cupstest.Start(t, cupstest.Options{})
	if err := srv.AddBrokenQueue("broken"); err != nil {
		t.Fatal(err)
	}
	p := newPrinter(t, srv, "broken", "")
	ch := p.Changes()
	ctx := ctxT(t, 90*time.Second)
	job, err := p.Print(ctx, hw.Document{Kind: "sheet", Title: "Fiche"})
	if err != nil {
		t.Fatal(err)
	}
	// cups-pdf, unable to write, gives the job up: CUPS cancels it.
	c := waitChange(t, ch, 60*time.Second, "the job failed", jobDone(job))
	if c.OK || c.JobState != "canceled" || c.Reason != hw.ReasonJobFailed {
		t.Fatalf("failed job: %+v", c)
	}
	jobs, err := p.Jobs(ctx)
	if err != nil || !slices.ContainsFunc(jobs, func(j hw.PrintJob) bool {
		return j.ID == job && j.State == "canceled" && j.Reason == hw.ReasonJobFailed
	}) {
		t.Fatalf("maintenance's list: %+v %v", jobs, err)
	}
	if err := p.Retry(ctx, job); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	c = waitChange(t, ch, 60*time.Second, "the retried job's outcome", jobDone(job))
	if c.OK || c.Reason != hw.ReasonJobFailed {
		t.Errorf("retried job: %+v", c)
	}

	// A form that looks like a PDF but is not one: the filters fail, and
	// CUPS stops the job, to stay there until someone acts. The shell is
	// told; maintenance sees it and purges it.
	bad := filepath.Join(t.TempDir(), "cerfa.pdf")
	os.WriteFile(bad, []byte("%PDF-1.4\nthis is no PDF at all\n%%EOF\n"), 0o644)
	good := newPrinter(t, srv, srv.Queue, "")
	job, err = good.Print(ctx, hw.Document{Kind: "form", Title: "CERFA", File: bad})
	if err != nil {
		t.Fatal(err)
	}
	c = waitChange(t, good.Changes(), 60*time.Second, "the bad form stuck", func(c hw.Change) bool { return c.Job == job })
	if c.OK || c.JobState != "processing-stopped" || c.Reason != hw.ReasonJobFailed {
		t.Errorf("bad form: %+v", c)
	}
	jobs, _ = good.Jobs(ctx)
	if !slices.ContainsFunc(jobs, func(j hw.PrintJob) bool { return j.ID == job && j.State == "processing-stopped" }) {
		t.Errorf("the stuck job is not listed: %+v", jobs)
	}
	if err := good.Cancel(ctx, job); err != nil {
		t.Fatal(err)
	}
	c = waitChange(t, good.Changes(), 10*time.Second, "the stuck job canceled", jobDone(job))
	if c.JobState != "canceled" || c.Reason != hw.ReasonJobCanceled {
		t.Errorf("canceled stuck job: %+v", c)
	}
	if jobs, _ = good.Jobs(ctx); slices.ContainsFunc(jobs, func(j hw.PrintJob) bool { return j.ID == job }) {
		t.Errorf("the canceled job is still listed: %+v", jobs)
	}
}

// TestRealNotifier follows a job and the queue with no polling at all:
// only cupsd's own dbus notifier, on a private system bus, tells the
// kiosk what happens.
func TestRealNotifier(t *testing.T) {
	bus := startBus(t)
	srv := cupstest.Start(t, cupstest.Options{SystemBus: bus})
	p, err := cups.New(cups.Config{Server: srv.Addr, Queue: srv.Queue, User: user, SystemBus: dialer(bus), Poll: time.Hour, StuckAfter: time.Hour, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ch := p.Changes()
	waitChange(t, ch, 10*time.Second, "ready", printerIs(true, ""))
	waitFor(t, 10*time.Second, "the subscription", func() bool { return p.Subscription() != 0 })

	job, err := p.Print(ctxT(t, 10*time.Second), hw.Document{Kind: "slip", Title: "CARSAT", Phone: "39 60"})
	if err != nil {
		t.Fatal(err)
	}
	c := waitChange(t, ch, 60*time.Second, "completed, told by the notifier", jobDone(job))
	if !c.OK || c.Pages != 1 {
		t.Errorf("job: %+v\n%s", c, srv.Log())
	}
	srv.Pause(t)
	waitChange(t, ch, 10*time.Second, "stopped, told by the notifier", printerIs(false, hw.ReasonPaused))
	srv.Resume(t)
	waitChange(t, ch, 10*time.Second, "ready, told by the notifier", printerIs(true, ""))
}

// TestEnable starts a stopped queue again through cups-pk-helper.
func TestEnable(t *testing.T) {
	bus := startBus(t)
	srv := cupstest.Start(t, cupstest.Options{})
	helper := startPkHelper(t, bus)
	helper.setAct(func(method string, args ...any) string {
		op := map[string]ipp.Op{"PrinterSetEnabled": ipp.OpResumePrinter, "PrinterSetAcceptJobs": ipp.OpCUPSAcceptJobs}[method]
		if op == 0 || args[0] != srv.Queue || args[1] != true {
			return "unexpected call"
		}
		r := ipp.NewRequest(op, "en")
		r.Add(ipp.TagOperation, "printer-uri", ipp.URI("ipp://localhost/printers/"+srv.Queue))
		r.Add(ipp.TagOperation, "requesting-user-name", ipp.Name("root"))
		if _, err := srv.Admin(ctxT(t, 5*time.Second), "/admin/", r, nil); err != nil {
			return err.Error()
		}
		return ""
	})
	p := newPrinter(t, srv, srv.Queue, bus)
	ctx := ctxT(t, 30*time.Second)
	srv.Pause(t)
	if st, _ := p.Status(ctx); st.Ready {
		t.Fatal("not paused")
	}
	if err := p.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := p.Status(ctx); !st.Ready {
		t.Errorf("after Enable: %+v", st)
	}
	checks := p.Doctor(ctx)
	for _, c := range checks {
		if c.Health != hw.OK {
			t.Errorf("doctor: %+v", c)
		}
	}
	if len(checks) != 4 {
		t.Errorf("doctor checked %d things: %+v", len(checks), checks)
	}
}

func TestDoctor(t *testing.T) {
	bus := startBus(t)
	srv := cupstest.Start(t, cupstest.Options{})
	ctx := ctxT(t, 30*time.Second)
	health := func(checks []hw.Check) map[string]hw.Health {
		m := map[string]hw.Health{}
		for _, c := range checks {
			m[c.Name] = c.Health
			if c.Health != hw.OK && c.Reason == "" {
				t.Errorf("%s is %s without a reason", c.Name, c.Health)
			}
		}
		return m
	}
	cfg := cups.Config{Server: srv.Addr, Queue: srv.Queue, User: user}
	checks, err := cups.Examine(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]hw.Health{"cups": hw.OK, "printer": hw.OK, "notifier": hw.Degraded, "pk-helper": hw.Degraded}
	if got := health(checks); !maps.Equal(got, want) {
		t.Errorf("without a bus: %v, want %v", got, want)
	}
	cfg.SystemBus = dialer(bus)
	checks, _ = cups.Examine(ctx, cfg)
	want["notifier"] = hw.OK
	if got := health(checks); !maps.Equal(got, want) {
		t.Errorf("with a bus, no helper: %v, want %v (%+v)", got, want, checks)
	}
	srv.Pause(t)
	checks, _ = cups.Examine(ctx, cfg)
	if c := checks[1]; c.Health != hw.Degraded || !strings.Contains(c.Reason, "Printer stopped") || !c.Needed {
		t.Errorf("paused queue: %+v", c)
	}
}

// TestUnixSocket drives CUPS through its Unix socket, where it knows the
// kiosk's user by the socket's credentials: root here, who may then
// enable the queue without cups-pk-helper.
func TestUnixSocket(t *testing.T) {
	srv := cupstest.Start(t, cupstest.Options{})
	p, err := cups.New(cups.Config{Server: srv.Socket, Queue: srv.Queue, User: "root", Poll: 100 * time.Millisecond, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := ctxT(t, 60*time.Second)
	job, err := p.Print(ctx, hw.Document{Kind: "sheet", Title: "Par la socket"})
	if err != nil {
		t.Fatal(err)
	}
	if c := waitChange(t, p.Changes(), 30*time.Second, "printed", jobDone(job)); !c.OK {
		t.Fatalf("%+v", c)
	}
	srv.Pause(t)
	if err := p.Enable(ctx); err != nil {
		t.Fatalf("Enable as root over the socket: %v", err)
	}
	if st, _ := p.Status(ctx); !st.Ready {
		t.Errorf("after Enable: %+v", st)
	}
}

// TestNotifierAcrossRestart stops and starts CUPS under a kiosk that only
// listens: its subscription, kept by CUPS, goes on bringing the news.
func TestNotifierAcrossRestart(t *testing.T) {
	bus := startBus(t)
	srv := cupstest.Start(t, cupstest.Options{SystemBus: bus})
	p, err := cups.New(cups.Config{Server: srv.Addr, Queue: srv.Queue, User: user, SystemBus: dialer(bus), Poll: time.Hour, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ch := p.Changes()
	waitChange(t, ch, 10*time.Second, "ready", printerIs(true, ""))
	waitFor(t, 10*time.Second, "the subscription", func() bool { return p.Subscription() != 0 })
	sub := p.Subscription()

	// CUPS stops its notifier before it could say it stops: only polling
	// learns that (TestCupsdStopped). What the notifier must do is go on
	// once CUPS is back, with no polling to make up for it.
	srv.Stop(false)
	srv.Restart(t)
	job, err := p.Print(ctxT(t, 10*time.Second), hw.Document{Kind: "sheet", Title: "Après redémarrage"})
	if err != nil {
		t.Fatal(err)
	}
	if c := waitChange(t, ch, 60*time.Second, "completed, told by the notifier", jobDone(job)); !c.OK {
		t.Errorf("%+v", c)
	}
	if p.Subscription() != sub {
		t.Errorf("subscription %d became %d: CUPS kept it, it should have been renewed", sub, p.Subscription())
	}
}
