package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/loiret/borne/usage"
)

// lazyStore is the shell's usage log: a usage.Buffer, so that a log that
// opens late, or a disk that is read-only, full or damaged, never holds up
// a citizen; events wait in memory and are written when the log can take
// them. metrics counts what is recorded, for the fleet metrics file.
type lazyStore struct {
	buf     *usage.Buffer
	log     *slog.Logger
	metrics *usage.Metrics
}

// openLater opens the usage log in the background. g is the shell's
// guard; the buffer's own goroutine lives in usage and never panics on
// bad storage, it reports it.
func openLater(path string, log *slog.Logger, g *guard) *lazyStore {
	m := usage.NewMetrics()
	b := usage.NewBuffer(func() (*usage.Store, error) { return usage.Open(path) },
		usage.BufferOptions{Logger: log, OnRecord: m.Observe})
	return &lazyStore{buf: b, log: log, metrics: m}
}

func (l *lazyStore) Record(ctx context.Context, ev usage.Event) (usage.Event, error) {
	return l.buf.Record(ctx, ev)
}

// wait returns the store once it is open, or why it could not open.
func (l *lazyStore) wait(ctx context.Context) (*usage.Store, error) {
	return l.buf.Store(ctx)
}

// health says, for the maintenance menu, whether events reach the disk;
// it waits for the first attempt to open the log.
func (l *lazyStore) health(ctx context.Context) error {
	if _, err := l.buf.Store(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return l.buf.Health().Problem()
}

func (l *lazyStore) record(ev usage.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.Record(ctx, ev); err != nil {
		l.log.Error("usage event not recorded", "kind", ev.Kind, "err", err)
	}
}

// Close writes what is still in memory, if the log takes it within a few
// seconds, and closes the log.
func (l *lazyStore) Close() {
	if err := l.buf.Close(); err != nil {
		l.log.Error("usage log closed with a problem", "err", err)
	}
}
