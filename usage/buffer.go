package usage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/mattn/go-sqlite3"
)

// MaxBuffered is how many events a Buffer keeps in memory while the log
// cannot be written.
const MaxBuffered = 10_000

// BufferOptions tune a Buffer; the zero value is the kiosk's.
type BufferOptions struct {
	Logger *slog.Logger // nil: slog.Default()
	Max    int          // events kept in memory; default MaxBuffered
	// Retries of a failing log start after MinRetry and double up to
	// MaxRetry (defaults 1 s and 30 s).
	MinRetry, MaxRetry time.Duration
	// Wait bounds how long Record waits for its event to be written while
	// the log works (default 2 s); past it the event stays in memory.
	Wait time.Duration
	// OnRecord hears of every event Record accepts, written or not yet.
	OnRecord func(Event)
}

// Health is how the log behind a Buffer is doing.
type Health struct {
	Err     error     // why events cannot be written now; nil when they can
	Since   time.Time // when the failure began
	Pending int       // events in memory, not yet written
	Dropped int64     // events lost because memory was full
	Open    bool      // the log file is open
}

// Problem says, in one line for a site agent, what is wrong; nil when
// nothing is.
func (h Health) Problem() error {
	lost := ""
	if h.Dropped > 0 {
		lost = fmt.Sprintf("%d events were lost because memory was full", h.Dropped)
	}
	if h.Err == nil {
		if lost == "" {
			return nil
		}
		return errors.New("the usage log works again, but " + lost)
	}
	msg := "the usage log cannot be written"
	if r := storageReason(h.Err); r != "" {
		msg += " (" + reasonWords[r] + ")"
	}
	if !h.Since.IsZero() {
		msg += " since " + h.Since.Local().Format("2006-01-02 15:04")
	}
	msg += fmt.Sprintf(": %d events kept in memory, written as soon as it can", h.Pending)
	if lost != "" {
		msg += "; " + lost
	}
	return errors.New(msg + "; " + h.Err.Error())
}

// Buffer stands in front of the usage log so that bad storage never stops
// the kiosk: Record stamps and checks an event at once, then one goroutine
// writes events in the order they came. While the log is not open yet, or
// cannot be written (read-only, full, damaged), events wait in memory, at
// most Max of them (the oldest go first), with their original time and
// id; the goroutine retries with back-off, reopening the file, and writes
// them when it can. Seq is given when an event is written.
type Buffer struct {
	open func() (*Store, error)
	o    BufferOptions
	log  *slog.Logger
	now  func() time.Time
	// write records one event; tests put faults in it.
	write func(ctx context.Context, s *Store, e Event) (Event, error)

	mu       sync.Mutex
	store    *Store
	queue    []*item
	inflight *item
	err      error
	since    time.Time
	fails    int // failed attempts in a row
	dropped  int64
	opened   chan struct{} // closed after the first open attempt
	closed   bool
	site     string
	place    func(time.Time) string

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

type item struct {
	e        Event
	done     chan struct{} // closed when Record no longer waits for it
	released bool
	seq      int64
	err      error
}

// writeTimeout bounds one write: storage that hangs longer is failing.
const writeTimeout = 10 * time.Second

// NewBuffer starts a Buffer on the log that open opens; open runs in the
// background, at once and again after failures.
func NewBuffer(open func() (*Store, error), o BufferOptions) *Buffer {
	if o.Max <= 0 {
		o.Max = MaxBuffered
	}
	if o.MinRetry <= 0 {
		o.MinRetry = time.Second
	}
	if o.MaxRetry <= 0 {
		o.MaxRetry = 30 * time.Second
	}
	o.MaxRetry = max(o.MaxRetry, o.MinRetry)
	if o.Wait <= 0 {
		o.Wait = 2 * time.Second
	}
	b := &Buffer{
		open: open, o: o, log: o.Logger, now: time.Now,
		write:  func(ctx context.Context, s *Store, e Event) (Event, error) { return s.Record(ctx, e) },
		opened: make(chan struct{}),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	go b.run()
	return b
}

// SetStamp sets the site id and the place function that Record puts into
// events which leave them empty, as Store.SetStamp.
func (b *Buffer) SetStamp(site string, place func(time.Time) string) {
	b.mu.Lock()
	b.site, b.place = site, place
	b.mu.Unlock()
}

// Record accepts e: ID, At, Site and Place are set as Store.Record sets
// them, now, and the event is checked now (an invalid one is refused with
// ErrInvalid). It returns once the event is on disk, with its Seq; or at
// once, Seq 0, when the log is failing and the event waits in memory; or
// after BufferOptions.Wait or when ctx ends, the event still queued.
func (b *Buffer) Record(ctx context.Context, e Event) (Event, error) {
	if b == nil {
		return e, ErrClosed
	}
	b.mu.Lock()
	site, place := b.site, b.place
	b.mu.Unlock()
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	if e.At.IsZero() {
		e.At = b.now()
	}
	e.At = e.At.UTC().Truncate(time.Second)
	if e.Site == "" {
		e.Site = site
	}
	if e.Place == "" && place != nil {
		e.Place = place(e.At)
	}
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	if _, err := check(&e); err != nil {
		return e, err
	}

	it := &item{e: e, done: make(chan struct{})}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return e, ErrClosed
	}
	if len(b.queue) >= b.o.Max {
		b.dropOldest()
	}
	b.queue = append(b.queue, it)
	failing := b.err != nil
	b.mu.Unlock()
	if b.o.OnRecord != nil {
		b.o.OnRecord(e)
	}
	if failing {
		b.release(it)
		return e, nil
	}
	b.kick()
	t := time.NewTimer(b.o.Wait)
	defer t.Stop()
	select {
	case <-it.done:
	case <-ctx.Done():
		return e, nil
	case <-t.C:
		return e, nil
	}
	b.mu.Lock()
	seq, err := it.seq, it.err
	b.mu.Unlock()
	e.Seq = seq
	return e, err
}

// dropOldest forgets the oldest event not being written. Called with mu.
func (b *Buffer) dropOldest() {
	i := 0
	if len(b.queue) > 0 && b.queue[0] == b.inflight {
		i = 1
	}
	if i >= len(b.queue) {
		return
	}
	b.releaseLocked(b.queue[i])
	b.queue = append(b.queue[:i], b.queue[i+1:]...)
	b.dropped++
}

func (b *Buffer) release(it *item) {
	b.mu.Lock()
	b.releaseLocked(it)
	b.mu.Unlock()
}

func (b *Buffer) releaseLocked(it *item) {
	if !it.released {
		it.released = true
		close(it.done)
	}
}

func (b *Buffer) kick() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Store returns the log once it is open, waiting for the first attempt
// to open it; or why it is not open.
func (b *Buffer) Store(ctx context.Context) (*Store, error) {
	if b == nil {
		return nil, ErrClosed
	}
	select {
	case <-b.opened:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.store != nil {
		return b.store, nil
	}
	if b.err != nil {
		return nil, b.err
	}
	return nil, ErrClosed
}

// Health tells how the log is doing.
func (b *Buffer) Health() Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Health{Err: b.err, Since: b.since, Pending: len(b.queue), Dropped: b.dropped, Open: b.store != nil}
}

// Close stops accepting events, writes those in memory if the log takes
// them within a few seconds, and closes the log. Events it could not write
// are counted in the returned error.
func (b *Buffer) Close() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.done
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	<-b.done

	b.mu.Lock()
	defer b.mu.Unlock()
	var lost error
	if n := len(b.queue); n > 0 {
		lost = fmt.Errorf("usage log: %d events could not be written before the shell stopped: %v", n, b.err)
		b.log.Error("usage events lost at exit", "count", n, "err", b.err)
	}
	for _, it := range b.queue {
		b.releaseLocked(it)
	}
	b.queue = nil
	err := b.store.Close()
	b.store = nil
	return errors.Join(lost, err)
}

func (b *Buffer) run() {
	defer close(b.done)
	retry := b.o.MinRetry
	first := true
	for {
		err := b.drain(context.Background())
		if first {
			first = false
			close(b.opened)
		}
		var timer *time.Timer
		var tick <-chan time.Time
		if err != nil {
			timer = time.NewTimer(retry)
			tick = timer.C
			retry = min(retry*2, b.o.MaxRetry)
		} else {
			retry = b.o.MinRetry
		}
		// While failing, new events only queue up: retries follow the
		// back-off, not the pace at which citizens touch the screen.
		wake := b.wake
		if err != nil {
			wake = nil
		}
		select {
		case <-wake:
		case <-tick:
		case <-b.stop:
			if timer != nil {
				timer.Stop()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			b.drain(ctx)
			cancel()
			return
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// drain opens the log if needed and writes the queue in order, until it
// is empty or a write fails.
func (b *Buffer) drain(ctx context.Context) error {
	b.mu.Lock()
	s := b.store
	b.mu.Unlock()
	if s == nil {
		var err error
		if s, err = b.open(); err != nil {
			b.fail(err)
			return err
		}
		b.mu.Lock()
		b.store = s
		b.mu.Unlock()
	}
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.recovered()
			b.mu.Unlock()
			return nil
		}
		it := b.queue[0]
		b.inflight = it
		b.mu.Unlock()

		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		got, err := b.write(wctx, s, it.e)
		cancel()
		if errors.Is(err, errAlreadyRecorded) {
			err = nil // an earlier attempt reached the disk after all
		}
		b.mu.Lock()
		b.inflight = nil
		if err != nil && !errors.Is(err, ErrInvalid) {
			b.mu.Unlock()
			b.fail(err)
			return err
		}
		// Written, or refused for good (which check has ruled out).
		b.queue = b.queue[1:]
		it.seq, it.err = got.Seq, err
		b.releaseLocked(it)
		b.mu.Unlock()
	}
}

// fail notes a failure, lets every waiting Record go, and after a few in a
// row closes the log so that the next attempt opens it afresh (a disk
// remounted, a damaged file replaced).
func (b *Buffer) fail(err error) {
	b.mu.Lock()
	was := b.err
	b.err = err
	b.fails++
	if was == nil {
		b.since = b.now()
	}
	for _, it := range b.queue {
		if it != b.inflight {
			b.releaseLocked(it)
		}
	}
	var closing *Store
	if b.fails >= 3 && b.store != nil {
		closing, b.store = b.store, nil
		b.fails = 0
	}
	// The failure goes into the log too, at its time, so that the figures
	// say when events may be missing; not for a log merely busy.
	reason := storageReason(err)
	if was == nil && reason != "" && reason != "busy" && !b.closed {
		fault := Event{ID: uuid.NewString(), At: b.now().UTC().Truncate(time.Second), Site: b.site,
			Kind: KindHardwareFault, Detail: map[string]any{"device": "usage_log", "reason": reason}}
		if b.place != nil {
			fault.Place = b.place(fault.At)
		}
		if len(b.queue) >= b.o.Max {
			b.dropOldest()
		}
		b.queue = append(b.queue, &item{e: fault, done: make(chan struct{}), released: true})
	}
	b.mu.Unlock()
	if was == nil || was.Error() != err.Error() {
		b.log.Error("usage log cannot be written; events kept in memory", "err", err, "pending", b.Health().Pending)
	}
	if closing != nil {
		closing.Close()
	}
}

// recovered clears the failure once the queue is written. Called with mu.
func (b *Buffer) recovered() {
	if b.err == nil {
		return
	}
	b.log.Info("usage log written again", "after", b.now().Sub(b.since).Round(time.Second), "dropped", b.dropped)
	b.err, b.since, b.fails = nil, time.Time{}, 0
	if b.closed {
		return
	}
	e := Event{ID: uuid.NewString(), At: b.now().UTC().Truncate(time.Second), Site: b.site,
		Kind: KindHardwareRecovered, Detail: map[string]any{"device": "usage_log"}}
	if b.place != nil {
		e.Place = b.place(e.At)
	}
	b.queue = append(b.queue, &item{e: e, done: make(chan struct{}), released: true})
	b.kick()
}

// Reasons a log cannot be written, as short words for hardware_fault
// events, with their plain words for site agents.
var reasonWords = map[string]string{
	"read_only":   "the disk or the file is read-only",
	"disk_full":   "the disk is full",
	"corrupt":     "the file is damaged",
	"io_error":    "the disk reports errors",
	"busy":        "another program holds the log",
	"cannot_open": "the file cannot be opened",
	"unavailable": "it is not available",
}

// storageReason sorts a failure to write the log.
func storageReason(err error) string {
	if err == nil {
		return ""
	}
	switch {
	case errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission):
		return "read_only"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "disk_full"
	case errors.Is(err, syscall.EIO), errors.Is(err, context.DeadlineExceeded):
		return "io_error"
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrReadonly, sqlite3.ErrPerm, sqlite3.ErrAuth:
			return "read_only"
		case sqlite3.ErrFull:
			return "disk_full"
		case sqlite3.ErrCorrupt, sqlite3.ErrNotADB:
			return "corrupt"
		case sqlite3.ErrIoErr:
			return "io_error"
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return "busy"
		case sqlite3.ErrCantOpen:
			return "cannot_open"
		}
	}
	return "unavailable"
}
