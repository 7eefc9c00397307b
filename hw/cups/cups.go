// Package cups is the kiosk's printer on a real box: a CUPS queue, driven
// over IPP to the local scheduler, followed live through the CUPS D-Bus
// notifier's signals when the system bus carries them and by polling
// always, and managed through cups-pk-helper when maintenance needs more
// than the kiosk's user may do.
//
// What the shell sees is hw.Printer (print, state, purge), hw.PrintQueue
// (the jobs, for maintenance) and hw.Doctor; changes of the printer's
// state and the outcome of every job come out as hw.Change values.
package cups

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/ipp"
	"github.com/loiret/borne/hw/printdoc"
)

// Config says which queue to drive and how.
type Config struct {
	// Server is the scheduler: "localhost:631", or the path of its Unix
	// socket ("/run/cups/cups.sock"), where CUPS knows the kiosk's user
	// without a password.
	Server string
	// Queue is the CUPS queue's name.
	Queue string
	// User is who the jobs are from: the process's own user when empty, as
	// production leaves it. cupsd 2.4 crashes on some requests naming a user
	// the system does not know, so this must be a real account.
	User string
	// SystemBus connects to the bus the CUPS notifier and cups-pk-helper
	// are on (the system bus). Nil leaves the printer to polling and IPP.
	SystemBus func() (*dbus.Conn, error)
	// Poll is how often job and printer state are read when nothing says
	// they changed: 2 s when zero. Printer state is read five times less
	// often.
	Poll time.Duration
	// Lease is the notifier subscription's lease, renewed at half-time:
	// 1 h when zero.
	Lease time.Duration
	// StuckAfter is how long a job may wait before the shell is told: 2
	// minutes when zero.
	StuckAfter time.Duration
	// Now is the clock (the date printed on documents); time.Now when nil.
	Now func() time.Time
	// Log receives what a technician may want to know; nothing when nil.
	Log *slog.Logger
}

// SystemBus connects to the system bus, where the CUPS notifier and
// cups-pk-helper are.
func SystemBus() (*dbus.Conn, error) { return dbus.ConnectSystemBus() }

// Printer is a CUPS queue.
type Printer struct {
	cfg    Config
	client *ipp.Client
	path   string // "/printers/<queue>"

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}
	out    *outbox

	mu      sync.Mutex
	jobs    map[int]*tracked
	status  hw.PrinterStatus
	known   bool // status was read at least once
	bus     *dbus.Conn
	signals chan *dbus.Signal
	sub     subscription
	closing sync.Once
}

var (
	_ hw.Printer    = (*Printer)(nil)
	_ hw.PrintQueue = (*Printer)(nil)
	_ hw.Doctor     = (*Printer)(nil)
)

// ErrNotReady is returned by Print when the printer cannot print now;
// the error's text says why.
var ErrNotReady = errors.New("the printer cannot print")

// New returns the printer for cfg and starts following it. It does not
// wait for CUPS: a scheduler that is not there yet is a state the shell
// shows, not a reason not to start.
func New(cfg Config) (*Printer, error) {
	p, err := newPrinter(cfg)
	if err != nil {
		return nil, err
	}
	go p.run()
	return p, nil
}

// Examine is borne doctor's look at the printing chain of cfg, without
// following the printer: it may run beside a kiosk in use.
func Examine(ctx context.Context, cfg Config) ([]hw.Check, error) {
	p, err := newPrinter(cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		p.cancel()
		p.client.Close()
		p.out.close()
	}()
	return p.Doctor(ctx), nil
}

func newPrinter(cfg Config) (*Printer, error) {
	if cfg.Queue == "" {
		return nil, errors.New("hardware.printer.queue: no CUPS queue named")
	}
	if cfg.Server == "" {
		cfg.Server = "localhost:631"
	}
	if cfg.User == "" {
		cfg.User = processUser()
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Hour
	}
	if cfg.StuckAfter <= 0 {
		cfg.StuckAfter = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Printer{
		cfg:    cfg,
		client: ipp.NewClient(cfg.Server, cfg.User),
		path:   "/printers/" + cfg.Queue,
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
		out:    newOutbox(),
		jobs:   map[int]*tracked{},
	}
	return p, nil
}

// Changes carries the printer's changes of state and the outcome of its
// jobs. It is closed by Close. Nothing is dropped when the reader is slow.
func (p *Printer) Changes() <-chan hw.Change { return p.out.ch }

// Close stops following the printer, cancels the notifier subscription and
// closes Changes. Jobs already sent print on.
func (p *Printer) Close() error {
	p.closing.Do(func() {
		p.cancel()
		<-p.done
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		p.unsubscribe(ctx)
		p.mu.Lock()
		if p.bus != nil {
			p.bus.Close()
			p.bus = nil
		}
		p.mu.Unlock()
		p.client.Close()
		p.out.close()
	})
	return nil
}

// request starts a request about the queue.
func (p *Printer) request(op ipp.Op) *ipp.Message {
	r := ipp.NewRequest(op, "en")
	r.Add(ipp.TagOperation, "printer-uri", ipp.URI(p.client.URI(p.path)))
	r.Add(ipp.TagOperation, "requesting-user-name", ipp.Name(p.cfg.User))
	return r
}

// Status reads the printer's state from CUPS now. The state says when
// CUPS does not answer or has no such queue; the error is only ever
// ctx's, when it was done before anything could be asked.
func (p *Printer) Status(ctx context.Context) (hw.PrinterStatus, error) {
	if err := ctx.Err(); err != nil {
		return hw.PrinterStatus{Reason: hw.ReasonUnknown, Detail: err.Error()}, err
	}
	st := p.fetchStatus(ctx)
	p.setStatus(st)
	return st, nil
}

func (p *Printer) fetchStatus(ctx context.Context) hw.PrinterStatus {
	st, _ := p.fetch(ctx)
	return st
}

// fetch reads the printer's state, and the attributes it came from.
func (p *Printer) fetch(ctx context.Context) (hw.PrinterStatus, ipp.Group) {
	r := p.request(ipp.OpGetPrinterAttributes)
	r.Add(ipp.TagOperation, "requested-attributes", ipp.Keywords(statusAttrs...)...)
	m, err := p.client.Do(ctx, p.path, r, nil)
	switch {
	case ipp.IsStatus(err, ipp.StatusNotFound):
		return notFound(p.cfg.Server, p.cfg.Queue), ipp.Group{}
	case err != nil:
		return noService(err), ipp.Group{}
	}
	g, _ := m.Group(ipp.TagPrinter)
	return statusFrom(g), g
}

// setStatus records the printer's state and reports it when the shell
// would show something else.
func (p *Printer) setStatus(st hw.PrinterStatus) {
	p.mu.Lock()
	prev, known := p.status, p.known
	p.status, p.known = st, true
	if prev.Reason == hw.ReasonNoService && st.Reason != hw.ReasonNoService {
		// CUPS is back, and may have lost the subscription with its
		// state: renew it now rather than at half-lease.
		p.sub.renewAt, p.sub.retryAt = time.Time{}, time.Time{}
	}
	p.mu.Unlock()
	if known && prev.Ready == st.Ready && prev.Reason == st.Reason {
		return
	}
	if !st.Ready {
		p.cfg.Log.Warn("printer cannot print", "queue", p.cfg.Queue, "reason", st.Reason, "detail", st.Detail)
	} else if known {
		p.cfg.Log.Info("printer ready again", "queue", p.cfg.Queue)
	}
	p.out.send(hw.Change{Device: "printer", OK: st.Ready, Reason: st.Reason})
	if !st.Ready && st.Reason == hw.ReasonNoService {
		p.jobsUnreachable()
	}
}

func (p *Printer) lastStatus() hw.PrinterStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// Print sends d to the queue and returns its job number once CUPS has it;
// the outcome comes later on Changes. It refuses, saying why, when the
// printer cannot print: a citizen is never told to wait for paper that
// will not come.
func (p *Printer) Print(ctx context.Context, d hw.Document) (hw.JobID, error) {
	doc, err := printdoc.Render(d, p.cfg.Now())
	if err != nil {
		return "", err
	}
	st := p.fetchStatus(ctx)
	p.setStatus(st)
	if !st.Ready {
		return "", fmt.Errorf("%w: %s (%s)", ErrNotReady, reasonText(st.Reason), st.Detail)
	}
	name := d.Title
	if name == "" {
		name = d.Kind
	}
	r := p.request(ipp.OpPrintJob)
	r.Add(ipp.TagOperation, "job-name", ipp.Name(clip(name, 200)))
	r.Add(ipp.TagOperation, "document-format", ipp.MimeType("application/pdf"))
	m, err := p.client.Do(ctx, p.path, r, doc.Data)
	if err != nil {
		return "", p.printError(err)
	}
	g, _ := m.Group(ipp.TagJob)
	id, ok := g.Int("job-id")
	if !ok {
		return "", fmt.Errorf("CUPS took the job but gave no job number")
	}
	state, _ := g.Int("job-state")
	p.track(id, d.Kind, doc.Pages, state)
	p.cfg.Log.Info("print job sent", "queue", p.cfg.Queue, "job", id, "kind", d.Kind, "pages", doc.Pages)
	return hw.JobID(strconv.Itoa(id)), nil
}

// printError says why CUPS refused a job, and updates the printer's state
// when the refusal tells something about it.
func (p *Printer) printError(err error) error {
	switch {
	case ipp.IsStatus(err, ipp.StatusNotFound):
		p.setStatus(notFound(p.cfg.Server, p.cfg.Queue))
		return fmt.Errorf("%w: CUPS on %s has no queue %q", ErrNotReady, p.cfg.Server, p.cfg.Queue)
	case ipp.IsStatus(err, ipp.StatusNotAcceptingJobs):
		p.setStatus(hw.PrinterStatus{Reason: hw.ReasonPaused, Detail: err.Error()})
		return fmt.Errorf("%w: the queue %q refuses jobs", ErrNotReady, p.cfg.Queue)
	case ipp.IsUnreachable(err):
		p.setStatus(noService(err))
		return fmt.Errorf("%w: CUPS does not answer: %v", ErrNotReady, err)
	}
	return fmt.Errorf("the print job was refused: %w", err)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 { // not in the middle of a character
		n--
	}
	return s[:n]
}

// poke makes the loop look at the jobs now.
func (p *Printer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// processUser names the account this process runs as. Without a passwd
// entry (a DynamicUser unit) the numeric uid is what cupsd would see on its
// socket anyway.
func processUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}
