//go:build linux

// Package dbus is the kiosk's real hardware, driven over D-Bus through the
// services a Debian kiosk already runs: video sessions on the systemd
// user manager, the screen through logind (and ddcutil-service for an
// external monitor), the camera through the desktop portal or V4L2.
//
// Every back-end follows its service: it says "unavailable" on the
// Changes channel within a second of the service leaving the bus, and
// recovers by itself when it returns, or when the bus itself comes back.
// No call blocks: each takes the caller's deadline, and fails at once
// while its service is away.
package dbus

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/dbus/bus"
	"github.com/loiret/borne/hw/dbus/camera"
	"github.com/loiret/borne/hw/dbus/ddcutil"
	"github.com/loiret/borne/hw/dbus/logind"
	"github.com/loiret/borne/hw/dbus/systemd"
)

// Config is what the back-ends need from the kiosk's config and
// surroundings. Zero tuning fields take the defaults.
type Config struct {
	Hardware   config.Hardware
	MaxSession time.Duration

	Getenv    func(string) string         // bus addresses; nil: os.Getenv
	LookupEnv func(string) (string, bool) // the video client's environment; nil: os.LookupEnv
	SysRoot   string                      // "/sys"
	// Passive back-ends only look: borne doctor may run beside a kiosk
	// in a call, and must neither stop its video client nor touch its
	// screen.
	Passive bool
	Log     *slog.Logger

	Backoff    bus.Backoff
	Timeout    time.Duration
	StopGrace  time.Duration
	KillGrace  time.Duration
	Slack      time.Duration // RuntimeMaxUSec beyond MaxSession; see systemd.Options
	OpenCamera func(device string) (camera.Controls, error)
}

// FromConfig takes the hardware settings and max_session from cfg.
func FromConfig(cfg *config.Config) Config {
	return Config{Hardware: cfg.Hardware, MaxSession: cfg.Kiosk.MaxSession.D(), Slack: 30 * time.Second}
}

// Backend is the set of D-Bus back-ends.
type Backend struct {
	Sessions *systemd.Manager
	Screen   *logind.Display
	Monitor  *ddcutil.Monitor // nil without hardware.display.ddc_display
	Camera   *camera.Camera

	rep     *reporter
	display display
}

// New starts every back-end and waits, within ctx, for each to find its
// service. A service that is not there is no error: it is reported on
// Changes and recovered when it comes.
func New(ctx context.Context, c Config) (*Backend, error) {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	b := &Backend{rep: newReporter(c.Log)}
	h := c.Hardware
	percent := map[hw.Level]int{
		hw.LevelActive: h.Display.Active,
		hw.LevelDim:    h.Display.Dim,
		hw.LevelCall:   h.Display.Call,
		hw.LevelOff:    0,
	}
	state := func(component, device string) func(bool, string) {
		b.rep.declare(component, device)
		return func(up bool, reason string) { b.rep.set(component, up, reason) }
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	start := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	var sessionsState func(bool, string)
	if h.Session.Runner != "process" {
		sessionsState = state("systemd", "sessions")
	}
	screenState := state("logind", "display")
	var monitorState func(bool, string)
	if h.Display.DDCDisplay > 0 {
		monitorState = state("ddcutil", "display")
	}
	cameraState := state("portal", "camera")

	// runner = "process": the shell runs the clients itself (hw/process),
	// and no systemd user manager is looked for.
	if h.Session.Runner != "process" {
		start(func() (err error) {
			b.Sessions, err = systemd.New(ctx, systemd.Options{
				MaxSession: c.MaxSession, Slack: c.Slack, Environment: h.Session.Environment,
				LookupEnv: c.LookupEnv, Getenv: c.Getenv, StopGrace: c.StopGrace, KillGrace: c.KillGrace,
				Passive: c.Passive, Backoff: c.Backoff, Timeout: c.Timeout, Log: c.Log, State: sessionsState,
			})
			return err
		})
	}
	start(func() (err error) {
		b.Screen, err = logind.New(ctx, logind.Options{
			Backlight: h.Display.Backlight, Percent: percent, SysRoot: c.SysRoot, Passive: c.Passive,
			Getenv: c.Getenv, Backoff: c.Backoff, Timeout: c.Timeout, Log: c.Log, State: screenState,
		})
		return err
	})
	if h.Display.DDCDisplay > 0 {
		start(func() (err error) {
			b.Monitor, err = ddcutil.New(ctx, ddcutil.Options{
				Display: h.Display.DDCDisplay, Percent: percent, Passive: c.Passive,
				Getenv: c.Getenv, Backoff: c.Backoff, Timeout: c.Timeout, Log: c.Log, State: monitorState,
			})
			return err
		})
	}
	start(func() (err error) {
		b.Camera, err = camera.New(ctx, camera.Options{
			Device: h.Camera.Device, SysRoot: c.SysRoot, Open: c.OpenCamera, Passive: c.Passive,
			Preset: camera.Preset{Pan: h.Camera.Preset.Pan, Tilt: h.Camera.Preset.Tilt, Zoom: h.Camera.Preset.Zoom},
			Getenv: c.Getenv, Backoff: c.Backoff, Timeout: c.Timeout, Log: c.Log, State: cameraState,
		})
		return err
	})
	wg.Wait()
	if len(errs) > 0 {
		b.Close()
		return nil, errors.Join(errs...)
	}
	b.display = display{screen: b.Screen}
	if b.Monitor != nil {
		b.display.monitor = b.Monitor
	}
	b.rep.start()
	return b, nil
}

// Hardware is the back-ends as the shell sees them. The printer is not
// here: CUPS has its own back-end.
func (b *Backend) Hardware() hw.Hardware {
	h := hw.Hardware{
		Display: b.display,
		Camera:  b.Camera,
		Changes: b.rep.out,
		Close:   b.Close,
	}
	if b.Sessions != nil {
		h.Sessions = b.Sessions
	}
	return h
}

// Changes carries the services' comings and goings: Device "sessions",
// "display" or "camera".
func (b *Backend) Changes() <-chan hw.Change { return b.rep.out }

// Doctor examines every service and device, in the order a technician
// reads them.
func (b *Backend) Doctor(ctx context.Context) []hw.Check {
	var out []hw.Check
	if b.Sessions != nil {
		out = append(out, b.Sessions.Doctor(ctx)...)
	}
	if b.Screen != nil {
		out = append(out, b.Screen.Doctor(ctx)...)
	}
	if b.Monitor != nil {
		out = append(out, b.Monitor.Doctor(ctx)...)
	}
	if b.Camera != nil {
		out = append(out, b.Camera.Doctor(ctx)...)
	}
	return out
}

// Close stops every back-end, releases the idle inhibitor and closes
// Changes. Safe to call more than once.
func (b *Backend) Close() error {
	var errs []error
	if b.Sessions != nil {
		errs = append(errs, b.Sessions.Close())
	}
	if b.Screen != nil {
		errs = append(errs, b.Screen.Close())
	}
	if b.Monitor != nil {
		errs = append(errs, b.Monitor.Close())
	}
	if b.Camera != nil {
		errs = append(errs, b.Camera.Close())
	}
	b.rep.close()
	return errors.Join(errs...)
}

// display drives the panel and the external monitor together.
type display struct {
	screen  *logind.Display
	monitor *ddcutil.Monitor
}

func (d display) SetLevel(ctx context.Context, l hw.Level) error {
	var errs []error
	if d.screen != nil {
		errs = append(errs, d.screen.SetLevel(ctx, l))
	}
	if d.monitor != nil {
		errs = append(errs, d.monitor.SetLevel(ctx, l))
	}
	return errors.Join(errs...)
}
