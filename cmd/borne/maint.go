package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/tui"
	"github.com/loiret/borne/usage"
)

// maintenance wires the maintenance menu to the PIN check, the usage log
// and the USB keys.
func maintenance(cfg *config.Config, rec *lazyStore) tui.Maintenance {
	lock := usage.NewLockout(lockoutPath(cfg), cfg.Maintenance.MaxAttempts)
	m := tui.Maintenance{
		Lockout: lock.State,
		Figures: func(ctx context.Context, from, to time.Time) (tui.Figures, error) {
			s, err := rec.wait(ctx)
			if err != nil {
				return tui.Figures{}, err
			}
			return figures(ctx, s, from, to)
		},
		Export: func(ctx context.Context) (string, error) {
			return exportToKey(ctx, cfg, mountPoints())
		},
		LogHealth: rec.health,
	}
	if hash := cfg.Maintenance.PinHash; hash != "" {
		m.Unlock = func(ctx context.Context, pin string) (usage.Attempt, error) {
			return lock.Try(time.Now(), func() (bool, error) { return config.VerifyPIN(hash, pin) })
		}
	}
	return m
}

// lockoutPath keeps the PIN attempts beside the usage log, in the kiosk's
// own state folder.
func lockoutPath(cfg *config.Config) string {
	return filepath.Join(filepath.Dir(cfg.Usage.Database), "maintenance-attempts")
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
// it, under a name that says which kiosk and when.
func exportToKey(ctx context.Context, cfg *config.Config, mounts []string) (string, error) {
	if len(mounts) == 0 {
		return "", errors.New("no USB key found: plug one in and try again")
	}
	name := fmt.Sprintf("borne-%s-%s.ndjson", cfg.Site.ID, time.Now().In(cfg.Location()).Format("20060102-1504"))
	var last error
	for _, mp := range mounts {
		out := filepath.Join(mp, name)
		// A failure to note the export only keeps its events from the
		// purge longer: the key holds a good file all the same.
		sum, digest, _, err := exportAtomic(ctx, cfg.Usage.Database, out, usage.ExportOptions{Format: "ndjson"})
		if err == nil {
			return fmt.Sprintf("%d events (seq %d to %d) in %s, sha256 %.12s…", sum.Events, sum.FirstSeq, sum.LastSeq, out, digest), nil
		}
		last = err
	}
	return "", last
}
