//go:build !linux

package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
)

var errNotLinux = errors.New(`hardware.backend "dbus" needs Linux (set backend = "sim" elsewhere)`)

func dbusHardware(ctx context.Context, cfg *config.Config, log *slog.Logger) (hw.Hardware, error) {
	return hw.Hardware{}, errNotLinux
}

func dbusDoctor(ctx context.Context, cfg *config.Config, getenv func(string) string, sysRoot string) ([]hw.Check, error) {
	return nil, errNotLinux
}
