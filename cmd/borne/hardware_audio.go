package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/audio"
)

// addAudio adds the sound server to h: the microphones are closed and the
// speaker set to the site's level as soon as the server is reached. The
// shell does not wait for it longer than ctx: a server that comes later
// is followed all the same.
func addAudio(ctx context.Context, h *hw.Hardware, cfg *config.Config, getenv func(string) string, log *slog.Logger) {
	if getenv == nil {
		getenv = os.Getenv
	}
	a := audio.New(audio.Options{Getenv: getenv, Volume: cfg.Hardware.Audio.Volume, Log: log})
	select {
	case <-a.Ready():
	case <-ctx.Done():
	}
	h.Audio = a
	h.Changes = merge(h.Changes, a.Changes())
	closeAll := h.Close
	h.Close = func() error {
		err := a.Close()
		if closeAll != nil {
			err = errors.Join(err, closeAll())
		}
		return err
	}
}

// audioDoctor examines the sound server without changing anything.
func audioDoctor(ctx context.Context, getenv func(string) string) []hw.Check {
	a := audio.New(audio.Options{Getenv: getenv, Passive: true})
	defer a.Close()
	return a.Doctor(ctx)
}
