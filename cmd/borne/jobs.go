package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/usage"
)

// When the shell's background jobs run. The first runs wait a little, so
// that they never compete with the start of the shell; tests shorten them.
var (
	syncFirst     = time.Minute
	purgeFirst    = 10 * time.Minute
	purgeCheck    = time.Hour      // how often the purge looks whether a day has passed
	purgeEvery    = 24 * time.Hour // the daily purge
	metricsEvery  = time.Minute
	metricsSettle = time.Second     // changes coming together make one write
	healthPoll    = 5 * time.Second // the log's health, for the metrics file
)

// jobs is the shell's work on its usage log in the background: sync every
// usage.sync.interval, a daily purge, and the metrics file.
type jobs struct {
	cfg    *config.Config
	rec    *lazyStore
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	lastSync *usage.SyncState // last read, for the metrics while the log is down
}

// startJobs starts what cfg asks for; spawn runs a goroutine (the shell's
// guard, which turns a panic into a clean crash).
func startJobs(cfg *config.Config, rec *lazyStore, log *slog.Logger, spawn func(func())) *jobs {
	j := &jobs{cfg: cfg, rec: rec, log: log}
	j.ctx, j.cancel = context.WithCancel(context.Background())
	run := func(f func()) {
		j.wg.Add(1)
		spawn(func() { defer j.wg.Done(); f() })
	}
	if cfg.Usage.Sync.URL != "" {
		run(j.syncLoop)
	}
	run(j.purgeLoop)
	if cfg.Usage.MetricsFile != "" {
		run(j.metricsLoop)
	}
	return j
}

// Stop ends the jobs and waits for them: a sync or a purge under way
// stops where it is, which they are made for.
func (j *jobs) Stop() {
	j.cancel()
	j.wg.Wait()
}

// device is the tap on the hardware's changes: the metrics file tells
// which devices work.
func (j *jobs) device(c hw.Change) {
	if c.Job == "" {
		j.rec.metrics.SetDevice(c.Device, c.OK)
	}
}

// pause waits d, or less if the jobs stop; false when they do.
func (j *jobs) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-j.ctx.Done():
		return false
	}
}

// store returns the log if it is open now, without waiting long.
func (j *jobs) store() (*usage.Store, error) {
	ctx, cancel := context.WithTimeout(j.ctx, 10*time.Second)
	defer cancel()
	return j.rec.wait(ctx)
}

func (j *jobs) syncLoop() {
	interval := j.cfg.Usage.Sync.Interval.D()
	if !j.pause(syncFirst) {
		return
	}
	for {
		// A round retries until everything is sent or its interval is
		// nearly over, so that rounds never pile up.
		j.syncRound(interval * 9 / 10)
		if !j.pause(interval) {
			return
		}
	}
}

func (j *jobs) syncRound(limit time.Duration) {
	ctx, cancel := context.WithTimeout(j.ctx, limit)
	defer cancel()
	s, err := j.store()
	if err != nil {
		j.log.Warn("usage sync skipped: the log is not open", "err", err)
		return
	}
	token, err := readToken(j.cfg.Usage.Sync.TokenFile)
	if err != nil {
		j.log.Error("usage sync skipped", "err", err)
		return
	}
	o := syncOptions(j.cfg, token)
	o.Progress = func(p usage.SyncProgress) {
		if p.Retry {
			j.log.Warn("usage sync: collector unavailable, trying again", "first_seq", p.FirstSeq, "last_seq", p.LastSeq, "err", p.Err, "in", p.RetryIn.Round(time.Second))
		}
	}
	res, err := s.Sync(ctx, o)
	switch {
	case errors.Is(err, usage.ErrSyncBusy):
		j.log.Info("usage sync skipped: another sync is running", "err", err)
	case err != nil && j.ctx.Err() == nil:
		j.log.Error("usage sync failed", "sent", res.Events, "cursor", res.Cursor, "err", err)
	case res.Events > 0:
		j.log.Info("usage events synced", "events", res.Events, "first_seq", res.FirstSeq, "last_seq", res.LastSeq, "batches", res.Batches)
	}
	j.rec.metrics.Touch()
}

func (j *jobs) purgeLoop() {
	if !j.pause(purgeFirst) {
		return
	}
	for {
		j.purgeIfDue(time.Now())
		if !j.pause(purgeCheck) {
			return
		}
	}
}

// purgeIfDue purges when a day has passed since the last purge, which the
// log remembers: a kiosk restarted every evening still purges daily.
func (j *jobs) purgeIfDue(now time.Time) {
	s, err := j.store()
	if err != nil {
		return
	}
	st, err := s.SyncState(j.ctx)
	if err != nil || now.Sub(st.LastPurge) < purgeEvery {
		return
	}
	res, err := s.Purge(j.ctx, usage.PurgeOptions{Retention: j.cfg.Usage.Retention.D(), Now: now})
	if err != nil {
		if j.ctx.Err() == nil {
			j.log.Error("usage purge failed", "err", err)
		}
		return
	}
	j.log.Info("usage purge", "summary", purgeSummary(res, j.cfg.Usage.Retention))
	j.rec.metrics.Touch()
}

func (j *jobs) metricsLoop() {
	path := j.cfg.Usage.MetricsFile
	var lastErr string
	write := func() {
		err := usage.WriteFileAtomic(path, j.rec.metrics.Render(j.metricsState()), 0o644)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if msg != lastErr {
			if err != nil {
				j.log.Error("metrics file not written", "file", path, "err", err)
			} else if lastErr != "" {
				j.log.Info("metrics file written again", "file", path)
			}
			lastErr = msg
		}
	}
	write()
	tick := time.NewTicker(metricsEvery)
	defer tick.Stop()
	poll := time.NewTicker(healthPoll)
	defer poll.Stop()
	last := j.rec.buf.Health()
	for {
		select {
		case <-j.ctx.Done():
			return
		case <-tick.C:
		case <-poll.C:
			h := j.rec.buf.Health()
			if (h.Err == nil) == (last.Err == nil) && h.Pending == last.Pending && h.Dropped == last.Dropped {
				continue
			}
			last = h
		case <-j.rec.metrics.Changed():
			if !j.pause(metricsSettle) {
				return
			}
		}
		write()
	}
}

// metricsState reads the log's health and sync state; while the log
// cannot be read, the last sync state read stands.
func (j *jobs) metricsState() usage.MetricsState {
	h := j.rec.buf.Health()
	st := usage.MetricsState{LogUp: h.Err == nil && h.Open, Buffered: h.Pending, Dropped: h.Dropped}
	ctx, cancel := context.WithTimeout(j.ctx, 5*time.Second)
	defer cancel()
	j.mu.Lock()
	defer j.mu.Unlock()
	if s, err := j.rec.wait(ctx); err == nil {
		if ss, err := s.SyncState(ctx); err == nil {
			j.lastSync = &ss
		}
	}
	st.Sync = j.lastSync
	return st
}

// usageChecks are borne doctor's lines about the usage log: the storage
// as this command sees it, with the running shell's own view when its
// metrics file tells it, and the sync.
func usageChecks(ctx context.Context, cfg *config.Config) []hw.Check {
	path := cfg.Usage.Database
	d := usage.Diagnose(ctx, path)
	log := hw.Check{Name: "usage", Health: hw.OK}
	switch {
	case d.Err != nil:
		log.Health = hw.Degraded
		log.Reason = fmt.Sprintf("%v: the kiosk keeps up to %d events in memory and writes them when it can", d.Err, usage.MaxBuffered)
	case !d.Exists:
		log.Health = hw.Degraded
		log.Reason = path + " does not exist yet: borne run creates it"
	default:
		log.Reason = fmt.Sprintf("%s: events up to seq %d, %.0f MiB free", path, d.Sync.LastSeq, float64(d.FreeBytes)/(1<<20))
	}
	if mf := cfg.Usage.MetricsFile; mf != "" {
		st, written, ok := usage.MetricsFileState(mf)
		switch {
		case !ok, time.Since(written) > 3*metricsEvery:
			// No shell running, or not for long: nothing more to say.
		case !st.LogUp:
			log.Health = hw.Degraded
			log.Reason += fmt.Sprintf("; the running shell cannot write the log: %d events wait in memory", st.Buffered)
		}
		if ok && st.Dropped > 0 {
			log.Health = hw.Degraded
			log.Reason += fmt.Sprintf("; the running shell lost %d events because memory was full", st.Dropped)
		}
	}
	checks := []hw.Check{log}

	if cfg.Usage.Sync.URL != "" {
		c := hw.Check{Name: "sync", Health: hw.OK}
		_, tokenErr := readToken(cfg.Usage.Sync.TokenFile)
		late := 2*cfg.Usage.Sync.Interval.D() + time.Hour
		switch {
		case tokenErr != nil:
			c.Health, c.Reason = hw.Degraded, tokenErr.Error()
		case d.SyncErr != nil:
			c.Health, c.Reason = hw.Degraded, "cannot read the sync state: "+d.SyncErr.Error()
		case d.Sync.Unsynced == 0:
			c.Reason = fmt.Sprintf("the collector has every event (up to seq %d)", d.Sync.Cursor)
		case d.Sync.LastSync.IsZero():
			c.Health, c.Reason = hw.Degraded, fmt.Sprintf("%d events wait; the collector at %s never acknowledged any", d.Sync.Unsynced, cfg.Usage.Sync.URL)
		case time.Since(d.Sync.LastSync) > late:
			c.Health = hw.Degraded
			c.Reason = fmt.Sprintf("%d events wait; last acknowledged by the collector %s", d.Sync.Unsynced, d.Sync.LastSync.Local().Format("2006-01-02 15:04"))
		default:
			c.Reason = fmt.Sprintf("%d events wait for the next sync; last one %s", d.Sync.Unsynced, d.Sync.LastSync.Local().Format("2006-01-02 15:04"))
		}
		checks = append(checks, c)
	}
	return checks
}
