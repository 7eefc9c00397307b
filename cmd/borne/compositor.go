package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/browser"
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

// kioskHardware is the shell's hardware: the back-end's, its sessions run
// by the configured runner, web visios opened in the browser on that
// runner, and the windows laid out by sway when there is one.
func kioskHardware(cfg *config.Config, getenv func(string) string, logger *slog.Logger) (hw.Hardware, error) {
	h, err := hardware(cfg, logger)
	if err != nil {
		return h, err
	}
	h = withRunner(cfg, h, logger)
	if h, err = withVisio(cfg, h, getenv, logger); err != nil {
		return h, err
	}
	return underSway(cfg, h, getenv, logger), nil
}

// withVisio opens operators with a visio_url in the shell's browser. It
// wraps the runner that is in place at the end, systemd's or the shell's
// children (runner = "process"): wrapping the back-end's before the
// process runner replaced it left web visios with no browser at all.
// The simulated runner only pretends to run clients, so it keeps them.
func withVisio(cfg *config.Config, h hw.Hardware, getenv func(string) string, logger *slog.Logger) (hw.Hardware, error) {
	if cfg.Hardware.Backend == "sim" && cfg.Hardware.Session.Runner != "process" {
		return h, nil
	}
	s, err := browser.New(h.Sessions, browser.Options{
		Command: cfg.Hardware.Browser.Command,
		Flags:   cfg.Hardware.Browser.Flags,
		Wayland: getenv("WAYLAND_DISPLAY") != "" && slices.Contains(cfg.Hardware.Session.Environment, "WAYLAND_DISPLAY"),
		Log:     logger,
	})
	if err != nil {
		h.Close()
		return hw.Hardware{}, fmt.Errorf("hardware.browser: %w", err)
	}
	h.Sessions = s
	return h, nil
}
