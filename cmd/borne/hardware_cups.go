package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/cups"
)

// cupsPrinter starts the CUPS printer of cfg ([hardware.printer]): its
// state and its jobs' outcomes come on the channel, closed by the
// returned function. It does not wait for CUPS, which may come later.
func cupsPrinter(ctx context.Context, cfg *config.Config, log *slog.Logger) (hw.Printer, <-chan hw.Change, func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, err
	}
	p, err := cups.New(cupsConfig(cfg, log))
	if err != nil {
		return nil, nil, nil, err
	}
	return p, p.Changes(), p.Close, nil
}

// cupsDoctor examines the printing chain of cfg for borne doctor.
func cupsDoctor(ctx context.Context, cfg *config.Config) ([]hw.Check, error) {
	return cups.Examine(ctx, cupsConfig(cfg, nil))
}

func cupsConfig(cfg *config.Config, log *slog.Logger) cups.Config {
	loc := cfg.Location()
	return cups.Config{
		Server:    cfg.Hardware.Printer.Server,
		Queue:     cfg.Hardware.Printer.Queue,
		SystemBus: cups.SystemBus,
		Now:       func() time.Time { return time.Now().In(loc) },
		Log:       log,
	}
}
