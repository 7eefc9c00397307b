package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/sim"
	"github.com/loiret/borne/tui"
	"github.com/loiret/borne/usage"
)

func (e env) runCmd(args []string) error {
	fs := newFlags("run")
	path := fs.String("config", "", "config file")
	db := fs.String("db", "", "usage log database")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	if *db != "" {
		cfg.Usage.Database = *db
	}
	return e.shell(cfg)
}

func (e env) demoCmd(args []string) error {
	fs := newFlags("demo")
	db := fs.String("db", "", "usage log database (default: a new temporary folder)")
	lang := fs.String("lang", "", "language on start: fr or en")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := config.Demo()
	if *lang != "" {
		if !slices.Contains(cfg.Site.Languages, *lang) {
			return usagef("demo: --lang %q: the demo speaks %v", *lang, cfg.Site.Languages)
		}
		langs := []string{*lang}
		for _, l := range cfg.Site.Languages {
			if l != *lang {
				langs = append(langs, l)
			}
		}
		cfg.Site.Languages = langs
	}
	cfg.Usage.Database = *db
	if *db == "" {
		dir, err := os.MkdirTemp("", "borne-demo-")
		if err != nil {
			return fmt.Errorf("demo: no temporary folder for the usage log: %w", err)
		}
		cfg.Usage.Database = filepath.Join(dir, "usage.db")
	}
	err := e.shell(cfg)
	fmt.Fprintf(e.stdout, "usage log: %s\n", cfg.Usage.Database)
	return err
}

// shell runs the kiosk until SIGTERM. The first frame comes before any
// slow work: the usage log opens beside it.
func (e env) shell(cfg *config.Config) error {
	logger := slog.New(slog.NewTextHandler(e.stderrLog(), nil))
	ops, err := cfg.ResolveOperators()
	if err != nil {
		return badConfig{err}
	}
	hwset, err := hardware(cfg)
	if err != nil {
		return err
	}
	defer hwset.Close()
	rec := openLater(cfg.Usage.Database, logger)
	defer rec.Close()

	model := tui.New(tui.Deps{Config: cfg, Operators: ops, HW: hwset, Log: rec, Logger: logger,
		Maint: maintenance(cfg, rec)})
	p := tea.NewProgram(model,
		tea.WithFilter(tui.Filter),
		tea.WithoutSignalHandler(),
		tea.WithFPS(30),
	)
	stop := handleSignals(p)
	defer stop()
	go forwardChanges(hwset.Changes, p)

	stamp := func(kind string) usage.Event {
		now := time.Now()
		return usage.Event{Kind: kind, At: now, Site: cfg.Site.ID, Place: cfg.PlaceAt(now)}
	}
	started := make(chan struct{})
	go func() { rec.record(stamp(usage.KindShellStarted)); close(started) }()
	_, runErr := p.Run()
	<-started // shell_stopped must follow shell_started in the log
	rec.record(stamp(usage.KindShellStopped))
	if runErr != nil {
		return fmt.Errorf("the shell stopped: %w", runErr)
	}
	return nil
}

// stderrLog is where the shell's own log goes while the terminal belongs to
// the interface: the journal under systemd, or a file named by
// $BORNE_LOG; never the citizen's screen.
func (e env) stderrLog() *os.File {
	if p := e.getenv("BORNE_LOG"); p != "" {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640); err == nil {
			return f
		}
	}
	if e.getenv("JOURNAL_STREAM") != "" {
		return os.Stderr
	}
	f, _ := os.Open(os.DevNull)
	return f
}

func hardware(cfg *config.Config) (hw.Hardware, error) {
	switch cfg.Hardware.Backend {
	case "sim":
		dir := filepath.Join(filepath.Dir(cfg.Usage.Database), "print")
		return sim.New(dir).Hardware(), nil
	}
	return hw.Hardware{}, fmt.Errorf("hardware.backend %q: this build drives simulated hardware only (set backend = \"sim\")", cfg.Hardware.Backend)
}

// handleSignals keeps the terminal's signals from stopping the kiosk: only
// SIGTERM (systemd stopping the unit) ends it, cleanly.
func handleSignals(p *tea.Program) (stop func()) {
	signal.Ignore(syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGTSTP)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			p.Send(tui.StopMsg{})
		case <-done:
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

func forwardChanges(ch <-chan hw.Change, p *tea.Program) {
	if ch == nil {
		return
	}
	for c := range ch {
		p.Send(c)
	}
}

// lazyStore opens the usage log in the background; Record waits for it.
type lazyStore struct {
	ready chan struct{}
	store *usage.Store
	err   error
	log   *slog.Logger
	once  sync.Once
}

func openLater(path string, log *slog.Logger) *lazyStore {
	l := &lazyStore{ready: make(chan struct{}), log: log}
	go func() {
		defer close(l.ready)
		l.store, l.err = usage.Open(path)
		if l.err != nil {
			log.Error("usage log unavailable", "err", l.err)
		}
	}()
	return l
}

func (l *lazyStore) Record(ctx context.Context, ev usage.Event) (usage.Event, error) {
	select {
	case <-l.ready:
	case <-ctx.Done():
		return ev, ctx.Err()
	}
	if l.err != nil {
		return ev, l.err
	}
	return l.store.Record(ctx, ev)
}

// wait returns the store once it is open, or why it could not open.
func (l *lazyStore) wait(ctx context.Context) (*usage.Store, error) {
	select {
	case <-l.ready:
		return l.store, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *lazyStore) record(ev usage.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.Record(ctx, ev); err != nil {
		l.log.Error("usage event not recorded", "kind", ev.Kind, "err", err)
	}
}

func (l *lazyStore) Close() {
	l.once.Do(func() {
		<-l.ready
		if l.store != nil {
			l.store.Close()
		}
	})
}
