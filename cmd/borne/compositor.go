package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/process"
	"github.com/loiret/borne/hw/sway"
)

// withRunner puts the children-of-the-shell runner in place of the
// back-end's sessions when the config asks for it (runner = "process").
func withRunner(cfg *config.Config, h hw.Hardware, logger *slog.Logger) hw.Hardware {
	if cfg.Hardware.Session.Runner != "process" {
		return h
	}
	r := process.New(process.Options{
		Environment: cfg.Hardware.Session.Environment,
		MaxSession:  cfg.Kiosk.MaxSession.D(),
		Slack:       30 * time.Second,
		Log:         logger,
	})
	h.Sessions = r
	closeAll := h.Close
	h.Close = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return errors.Join(r.Reset(ctx), closeAll())
	}
	return h
}

// underSway lays the shell's window and the video client's out through
// sway's IPC when the shell runs under sway ($SWAYSOCK); elsewhere (the
// console, a terminal) nothing changes.
func underSway(cfg *config.Config, h hw.Hardware, getenv func(string) string, logger *slog.Logger) hw.Hardware {
	if getenv("SWAYSOCK") == "" || h.Sessions == nil {
		return h
	}
	k := sway.New(sway.Options{
		Socket:   func() string { return getenv("SWAYSOCK") },
		Bar:      cfg.Hardware.Display.CallBar,
		ShellPID: os.Getpid(),
		Log:      logger.With("component", "sway"),
	})
	h.Sessions = k.Sessions(h.Sessions)
	h.Display = k.Display(h.Display)
	closeAll := h.Close
	h.Close = func() error { return errors.Join(k.Close(), closeAll()) }
	return h
}
