package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/sim"
	"github.com/loiret/borne/tui"
	"github.com/loiret/borne/usage"
)

// ignoreTerminal keeps the terminal's keys (Ctrl+C, Ctrl+\, Ctrl+Z) and
// its hang-up from stopping the kiosk, from the first instant: under
// systemd the keys typed while the shell starts reach it too.
func ignoreTerminal() {
	signal.Ignore(syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGTSTP)
}

func (e env) runCmd(args []string) error {
	ignoreTerminal()
	fs := newFlags("run")
	path := fs.String("config", "", configUsage)
	db := fs.String("db", "", "the usage log `FILE` (default: usage.database)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	if *db != "" {
		if err := outputFolder(filepath.Dir(*db)); err != nil {
			return usagef("run: --db %s: %v", *db, err)
		}
		cfg.Usage.Database = *db
	}
	return e.shell(cfg, nil) // under systemd a hang-up is no reason to stop
}

func (e env) demoCmd(args []string) error {
	ignoreTerminal()
	// The demo runs in someone's terminal: when it closes, the demo ends
	// with it (cleanly, its log saying so) rather than running on unseen.
	hangUp := make(chan os.Signal, 1)
	signal.Notify(hangUp, syscall.SIGHUP)
	defer signal.Stop(hangUp)
	fs := newFlags("demo")
	db := fs.String("db", "", "the usage log `FILE` (default: one in a new temporary folder)")
	lang := fs.String("lang", "", "the language on start: `fr|en` (default: fr)")
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
	if *db != "" {
		if err := outputFolder(filepath.Dir(*db)); err != nil {
			return usagef("demo: --db %s: %v", *db, err)
		}
	}
	cfg.Usage.Database = *db
	if *db == "" {
		dir, err := os.MkdirTemp("", "borne-demo-")
		if err != nil {
			return fmt.Errorf("demo: no temporary folder for the usage log: %w", err)
		}
		cfg.Usage.Database = filepath.Join(dir, "usage.db")
	}
	err := e.shell(cfg, hangUp)
	fmt.Fprintf(e.stdout, "usage log: %s\n", cfg.Usage.Database)
	return err
}

// shell runs the kiosk until SIGTERM, or a signal on hangUp (nil: none).
// The first frame comes before any slow work: the usage log opens beside
// it. A panic anywhere ends it with errCrash, the terminal restored and
// the stack in the log (crash.go).
func (e env) shell(cfg *config.Config, hangUp <-chan os.Signal) (err error) {
	sink := e.logSink()
	logger := slog.New(slog.NewTextHandler(sink, nil))
	g := newGuard(sink, logger)
	for _, w := range cfg.Warnings {
		logger.Warn("config: an optional feature is off", "warning", w.Error())
	}
	crashes := crashFileFor(cfg.Usage.Database, logger)
	recent := crashes.start(time.Now())
	defer func() { crashes.end(time.Now(), err) }()
	defer g.catch(&err) // first of the two: end must see the crash
	ops, err := cfg.ResolveOperators()
	if err != nil {
		return badConfig{err}
	}
	hwset, err := kioskHardware(cfg, e.getenv, logger)
	if err != nil && len(recent) < crashLimit {
		return err
	} else if err != nil {
		logger.Error("hardware unavailable: the safe screen runs without it", "err", err)
		hwset = noHardware()
	}
	defer hwset.Close()
	rec := openLater(cfg.Usage.Database, logger, g)
	defer rec.Close()

	stamp := func(kind string) usage.Event {
		now := time.Now()
		return usage.Event{Kind: kind, At: now, Site: cfg.Site.ID, Place: cfg.PlaceAt(now)}
	}
	started := make(chan struct{})
	// record is for events the shell's own model does not see.
	record := func(kind string, detail map[string]any) {
		<-started
		ev := stamp(kind)
		ev.Detail = detail
		rec.record(ev)
	}
	sup := newSupervisor(e, g, logger, recent, record)
	help, err := startRemote(cfg.Remote, logger, g)
	if err != nil {
		logger.Error("remote help unavailable", "err", err)
	}
	defer help.Close()

	deps := tui.Deps{Config: cfg, Operators: ops, HW: hwset, Log: faultyRecorder(rec), Logger: logger,
		Maint: maintenance(cfg, rec, logger), Mirror: help.Mirror()}
	p := tea.NewProgram(tui.New(deps),
		tea.WithContext(g.ctx),
		tea.WithFilter(sup.filter(tui.Filter)),
		tea.WithoutSignalHandler(),
		tea.WithFPS(15),
	)
	help.Attach(deps, p.Send, func() { record(usage.KindMaintenanceLocked, map[string]any{"remote": true}) })
	stop := handleSignals(p, g, hangUp)
	defer stop()
	jobs := startJobs(cfg, rec, logger, g.goSafe) // sync, daily purge, metrics file (jobs.go)
	defer jobs.Stop()
	g.goSafe(func() { forwardChanges(hwset.Changes, p, jobs.device) })

	g.goSafe(func() { defer close(started); rec.record(stamp(usage.KindShellStarted)) })
	g.tap.install()
	sup.start(p)
	_, runErr := p.Run()
	help.Close() // technicians' sessions end before the shell says it stopped
	sup.wd.stopping()
	runErr = g.after(runErr)
	<-started // shell_stopped must follow shell_started in the log
	rec.record(stamp(usage.KindShellStopped))
	if runErr == errCrash {
		return errCrash
	}
	if runErr != nil {
		return fmt.Errorf("the shell stopped: %w", runErr)
	}
	return nil
}

func hardware(cfg *config.Config, logger *slog.Logger) (hw.Hardware, error) {
	switch cfg.Hardware.Backend {
	case "sim":
		dir := filepath.Join(filepath.Dir(cfg.Usage.Database), "print")
		m := sim.New(dir)
		m.SetLocation(cfg.Location()) // sheets dated as the site reads its clock
		return m.Hardware(), nil
	case "dbus":
		return dbusHardware(context.Background(), cfg, logger)
	}
	return hw.Hardware{}, fmt.Errorf("hardware.backend %q: this build drives simulated hardware only (set backend = \"sim\")", cfg.Hardware.Backend)
}

// handleSignals keeps the terminal's keys from stopping the kiosk: only
// SIGTERM (systemd stopping the unit), or a signal on hangUp, ends it,
// cleanly.
func handleSignals(p *tea.Program, g *guard, hangUp <-chan os.Signal) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	done := make(chan struct{})
	g.goSafe(func() {
		select {
		case <-ch:
			p.Send(tui.StopMsg{})
		case <-hangUp:
			p.Send(tui.StopMsg{})
		case <-done:
		}
	})
	return func() { signal.Stop(ch); close(done) }
}

// forwardChanges hands the hardware's changes to the interface, and to
// tap (the metrics file's device states).
func forwardChanges(ch <-chan hw.Change, p *tea.Program, tap func(hw.Change)) {
	if ch == nil {
		return
	}
	for c := range ch {
		tap(c)
		p.Send(c)
	}
}
