//go:build linux

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
	hwdbus "github.com/loiret/borne/hw/dbus"
)

// startupWait bounds how long the shell waits for the services at
// start-up; those not there by then are reported unavailable and followed.
const startupWait = 10 * time.Second

// dbusHardware starts the D-Bus back-ends (sessions, screen, camera) and
// the CUPS printer, their news merged on one channel. log may be nil.
func dbusHardware(ctx context.Context, cfg *config.Config, log *slog.Logger) (hw.Hardware, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startupWait)
		defer cancel()
	}
	c := hwdbus.FromConfig(cfg)
	c.Log = log
	b, err := hwdbus.New(ctx, c)
	if err != nil {
		return hw.Hardware{}, fmt.Errorf("hardware.backend \"dbus\": %w", err)
	}
	h := b.Hardware()
	printer, changes, closePrinter, err := cupsPrinter(ctx, cfg, log)
	if err != nil {
		h.Close()
		return hw.Hardware{}, fmt.Errorf("hardware.printer: %w", err)
	}
	h.Printer = printer
	h.Changes = merge(h.Changes, changes)
	closeAll := h.Close
	h.Close = func() error { return errors.Join(closePrinter(), closeAll()) }
	addAudio(ctx, &h, cfg, nil, log) // hardware_audio.go
	return h, nil
}

// merge forwards two channels of news into one, closed when both are.
func merge(a, b <-chan hw.Change) <-chan hw.Change {
	out := make(chan hw.Change, 16)
	var wg sync.WaitGroup
	for _, ch := range []<-chan hw.Change{a, b} {
		if ch == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range ch {
				out <- c
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	return out
}

// dbusDoctor examines the D-Bus services and devices cfg uses, without
// changing anything: it may run beside a kiosk in a call.
func dbusDoctor(ctx context.Context, cfg *config.Config, getenv func(string) string, sysRoot string) ([]hw.Check, error) {
	c := hwdbus.FromConfig(cfg)
	c.Passive, c.Getenv, c.SysRoot = true, getenv, sysRoot
	b, err := hwdbus.New(ctx, c)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return b.Doctor(ctx), nil
}
