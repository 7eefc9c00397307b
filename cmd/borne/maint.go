package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/tui"
	"github.com/loiret/borne/usage"
)

// maintenance wires the maintenance menu to the PIN check, the usage log,
// the USB keys and the out-of-service state kept across restarts.
func maintenance(cfg *config.Config, rec *lazyStore, log *slog.Logger) tui.Maintenance {
	lock := usage.NewLockout(lockoutPath(cfg), cfg.Maintenance.MaxAttempts)
	service := usage.NewServiceFile(servicePath(cfg))
	m := tui.Maintenance{
		Lockout: lock.State,
		Figures: func(ctx context.Context, from, to time.Time) (tui.Figures, error) {
			s, err := rec.wait(ctx)
			if err != nil {
				return tui.Figures{}, err
			}
			return figures(ctx, s, from, to)
		},
		Export: func(ctx context.Context) (tui.Exported, error) {
			return exportToKey(ctx, cfg, mountPoints(), log)
		},
		LogHealth:   rec.health,
		Service:     restoreService(service, log),
		KeepService: service.Save,
	}
	if hash := cfg.Maintenance.PinHash; hash != "" {
		m.Unlock = func(ctx context.Context, pin string) (usage.Attempt, error) {
			return withDeadline(ctx, func() (usage.Attempt, error) {
				return lock.Try(time.Now(), func() (bool, error) { return config.VerifyPIN(hash, pin) })
			})
		}
	}
	return m
}

// withDeadline runs f, but answers when ctx ends if f has not: the pad
// says the check failed instead of "Vérification…" for ever, whatever the
// disk under the attempts file does. f finishes on its own; the lock-out's
// mutex keeps a later attempt behind it.
func withDeadline(ctx context.Context, f func() (usage.Attempt, error)) (usage.Attempt, error) {
	type answer struct {
		a   usage.Attempt
		err error
	}
	done := make(chan answer, 1)
	go func() {
		a, err := f()
		done <- answer{a, err}
	}()
	select {
	case r := <-done:
		return r.a, r.err
	case <-ctx.Done():
		return usage.Attempt{}, fmt.Errorf("maintenance PIN not checked in time: %w", ctx.Err())
	}
}

// lockoutPath keeps the PIN attempts beside the usage log, in the kiosk's
// own state folder.
func lockoutPath(cfg *config.Config) string {
	return filepath.Join(filepath.Dir(cfg.Usage.Database), "maintenance-attempts")
}

// servicePath keeps the out-of-service state beside the PIN attempts.
func servicePath(cfg *config.Config) string {
	return filepath.Join(filepath.Dir(cfg.Usage.Database), "out-of-service")
}

// restoreService reads the state an agent left before the last stop. A
// file there that cannot be read or understood keeps the kiosk out of
// service, as maintenance: an agent marked it so, and an agent brings it
// back (which writes the file anew).
func restoreService(f *usage.ServiceFile, log *slog.Logger) usage.OutOfService {
	s, err := f.Load()
	if err != nil {
		log.Error("out-of-service state not understood: the kiosk stays out of service until an agent brings it back", "err", err)
		return usage.OutOfService{Key: "oos.preset.maintenance", Since: time.Now()}
	}
	if s.On() {
		log.Info("out of service since before the restart", "since", s.Since)
	}
	return s
}

func figures(ctx context.Context, s *usage.Store, from, to time.Time) (tui.Figures, error) {
	f, err := s.Figures(ctx, from, to)
	if err != nil {
		return tui.Figures{}, err
	}
	return tui.Figures{Calls: f.Calls, Completed: f.Completed, Prints: f.Prints, Surveys: f.Surveys,
		ScoreSum: f.ScoreSum, Faults: f.Faults}, nil
}

// mountPoints lists the removable media mounted where desktop and udisks
// mount them: /media/… and /run/media/….
func mountPoints() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := strings.ReplaceAll(fields[4], `\040`, " ")
		if strings.HasPrefix(mp, "/media/") || strings.HasPrefix(mp, "/run/media/") {
			out = append(out, mp)
		}
	}
	return out
}

// exportToKey writes the whole usage log to the first USB key that takes
// it, under a name that says which kiosk and when. The agent reads what
// it wrote; the details (sequence numbers, digest, each key's error) go
// to the shell's log.
func exportToKey(ctx context.Context, cfg *config.Config, mounts []string, log *slog.Logger) (tui.Exported, error) {
	if len(mounts) == 0 {
		return tui.Exported{}, tui.ErrNoUSBKey
	}
	name := fmt.Sprintf("borne-%s-%s.ndjson", cfg.Site.ID, time.Now().In(cfg.Location()).Format("20060102-1504"))
	var last error
	for _, mp := range mounts {
		out := filepath.Join(mp, name)
		// A failure to note the export only keeps its events from the
		// purge longer: the key holds a good file all the same.
		sum, digest, _, err := exportAtomic(ctx, cfg.Usage.Database, out, usage.ExportOptions{Format: "ndjson"})
		if err == nil {
			log.Info("usage log exported to a USB key", "events", sum.Events, "first_seq", sum.FirstSeq, "last_seq", sum.LastSeq, "file", out, "sha256", digest)
			return tui.Exported{Events: sum.Events, File: name}, nil
		}
		log.Warn("usage log not exported to this key", "key", mp, "err", err)
		last = fmt.Errorf("export to %s: %w", mp, err)
	}
	return tui.Exported{}, last
}
