//go:build linux

// Package camera checks the kiosk's camera and drives its controls:
// presence from the Camera desktop portal where one runs
// (org.freedesktop.portal.Desktop on the session bus), else from V4L2 in
// sysfs; the privacy control and the pan/tilt/zoom preset through V4L2
// ioctls, where the camera has them.
package camera

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/dbus/bus"
	"github.com/loiret/borne/hw/v4l2"
)

const (
	portalName  = "org.freedesktop.portal.Desktop"
	portalPath  = dbus.ObjectPath("/org/freedesktop/portal/desktop")
	cameraI     = "org.freedesktop.portal.Camera"
	propertiesI = "org.freedesktop.DBus.Properties"
)

// Preset is where the camera looks at the start of a call: pan and tilt
// in degrees, zoom in the camera's units (100 is no zoom on UVC cameras).
type Preset struct {
	Pan, Tilt, Zoom int
}

// Controls are a camera's V4L2 controls (a *v4l2.Device).
type Controls interface {
	Query(id uint32) (v4l2.Control, error)
	Set(id uint32, v int32) error
	Close() error
}

// Options configure the camera back-end.
type Options struct {
	Device  string // hardware.camera.device
	Preset  Preset
	SysRoot string                                // "/sys"
	Open    func(device string) (Controls, error) // nil: v4l2.Open
	Passive bool

	Getenv  func(string) string
	Backoff bus.Backoff
	Timeout time.Duration
	Log     *slog.Logger
	// State receives the camera's presence when the portal says it
	// changed (plugged, unplugged).
	State func(present bool, reason string)
}

// Camera is the kiosk's camera.
type Camera struct {
	o      Options
	portal *bus.Link
}

var _ hw.Camera = (*Camera)(nil)
var _ hw.Doctor = (*Camera)(nil)

// New starts following the desktop portal, if any, and waits within ctx
// for the first finding. The portal is optional: without it V4L2 says.
func New(ctx context.Context, o Options) (*Camera, error) {
	if o.SysRoot == "" {
		o.SysRoot = "/sys"
	}
	if o.Open == nil {
		o.Open = func(p string) (Controls, error) { return v4l2.Open(p) }
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	c := &Camera{o: o}
	c.portal = bus.NewLink(bus.LinkOptions{
		Kind:     bus.Session,
		Getenv:   o.Getenv,
		Name:     portalName,
		Service:  "the desktop portal",
		Optional: true,
		Matches: [][]dbus.MatchOption{{
			dbus.WithMatchObjectPath(portalPath),
			dbus.WithMatchInterface(propertiesI),
			dbus.WithMatchMember("PropertiesChanged"),
			dbus.WithMatchArg(0, cameraI),
		}},
		Signal:  c.signal,
		Backoff: o.Backoff,
		Timeout: o.Timeout,
		Log:     o.Log.With("service", "portal"),
	})
	c.portal.Start()
	if err := c.portal.WaitReady(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("camera: %w", err)
	}
	return c, nil
}

// Close stops following the portal.
func (c *Camera) Close() error { return c.portal.Close() }

func (c *Camera) signal(sig *dbus.Signal) {
	var iface string
	var changed map[string]dbus.Variant
	var invalidated []string
	if dbus.Store(sig.Body, &iface, &changed, &invalidated) != nil || iface != cameraI {
		return
	}
	present, ok := changed["IsCameraPresent"].Value().(bool)
	if !ok || c.o.State == nil {
		return
	}
	if present {
		c.o.State(true, "")
	} else {
		c.o.State(false, noCameraPortal)
	}
}

const noCameraPortal = "the camera portal sees no camera: is it plugged in?"

// Check says whether the camera is there: the portal's word where it
// runs, else sysfs and the device node.
func (c *Camera) Check(ctx context.Context) (hw.CameraStatus, error) {
	if present, err := c.portalPresent(ctx); err == nil {
		if present {
			return hw.CameraStatus{Present: true}, nil
		}
		return hw.CameraStatus{Reason: noCameraPortal}, nil
	}
	st, _ := c.v4l2Status()
	return st, nil
}

// portalPresent asks the portal, without starting one that is not
// running (activation could take seconds).
func (c *Camera) portalPresent(ctx context.Context) (bool, error) {
	conn, err := c.portal.Conn()
	if err != nil {
		return false, err
	}
	var v dbus.Variant
	err = conn.Object(portalName, portalPath).CallWithContext(ctx, propertiesI+".Get", dbus.FlagNoAutoStart, cameraI, "IsCameraPresent").Store(&v)
	if err != nil {
		return false, err
	}
	present, ok := v.Value().(bool)
	if !ok {
		return false, fmt.Errorf("IsCameraPresent is %s, not a boolean", v.Signature())
	}
	return present, nil
}

// v4l2Status finds the configured node in sysfs and checks the kiosk may
// open it.
func (c *Camera) v4l2Status() (hw.CameraStatus, v4l2.Node) {
	n, err := v4l2.Find(c.o.SysRoot, c.o.Device)
	if err != nil {
		return hw.CameraStatus{Reason: c.missing()}, n
	}
	if _, err := os.Stat(c.o.Device); err != nil {
		return hw.CameraStatus{Reason: fmt.Sprintf("%s is in sysfs but has no device file: is udev running?", c.o.Device)}, n
	}
	if err := unix.Access(c.o.Device, unix.R_OK|unix.W_OK); err != nil {
		return hw.CameraStatus{Reason: fmt.Sprintf("%s: %v: add the kiosk user to the video group", c.o.Device, err)}, n
	}
	return hw.CameraStatus{Present: true}, n
}

func (c *Camera) missing() string {
	nodes, _ := v4l2.List(c.o.SysRoot)
	if len(nodes) == 0 {
		return fmt.Sprintf("no %s and no camera at all under %s/class/video4linux: is it plugged in?", c.o.Device, c.o.SysRoot)
	}
	var seen []string
	for _, n := range nodes {
		seen = append(seen, fmt.Sprintf("%s (%s)", n.Device, n.Card))
	}
	return fmt.Sprintf("no %s: set hardware.camera.device to one of %s", c.o.Device, strings.Join(seen, ", "))
}

// run keeps a stuck USB control request from holding the shell past its
// deadline; the ioctl finishes on its own.
func run(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("camera: %w", ctx.Err())
	}
}

// SetPrivacy turns the camera's privacy control on (between calls) or
// off (in a call). Before turning it off the preset is applied, so the
// citizen appears framed. A camera without a writable privacy control
// has nothing to do.
func (c *Camera) SetPrivacy(ctx context.Context, on bool) error {
	if c.o.Passive {
		return errors.New("this back-end only looks (borne doctor)")
	}
	return run(ctx, func() error {
		dev, err := c.o.Open(c.o.Device)
		if err != nil {
			return fmt.Errorf("camera: %w", err)
		}
		defer dev.Close()
		var errs []error
		if !on {
			errs = append(errs, applyPreset(dev, c.o.Preset))
		}
		q, err := dev.Query(v4l2.CIDPrivacy)
		switch {
		case errors.Is(err, v4l2.ErrNoControl):
		case err != nil:
			errs = append(errs, fmt.Errorf("camera: %w", err))
		case !q.Writable(): // a shutter the citizen slides by hand
		default:
			v := int32(0)
			if on {
				v = 1
			}
			if err := dev.Set(v4l2.CIDPrivacy, v); err != nil {
				errs = append(errs, fmt.Errorf("camera: privacy: %w", err))
			}
		}
		return errors.Join(errs...)
	})
}

// ApplyPreset points the camera at its preset.
func (c *Camera) ApplyPreset(ctx context.Context) error {
	return run(ctx, func() error {
		dev, err := c.o.Open(c.o.Device)
		if err != nil {
			return fmt.Errorf("camera: %w", err)
		}
		defer dev.Close()
		return applyPreset(dev, c.o.Preset)
	})
}

// applyPreset sets pan and tilt (V4L2 counts arc seconds) and zoom, each
// clamped to what the camera allows; controls it lacks are skipped.
func applyPreset(dev Controls, p Preset) error {
	var errs []error
	for _, s := range []struct {
		id   uint32
		name string
		v    int64
	}{
		{v4l2.CIDPanAbsolute, "pan", int64(p.Pan) * 3600},
		{v4l2.CIDTiltAbsolute, "tilt", int64(p.Tilt) * 3600},
		{v4l2.CIDZoomAbsolute, "zoom", int64(p.Zoom)},
	} {
		q, err := dev.Query(s.id)
		if errors.Is(err, v4l2.ErrNoControl) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("camera: %s: %w", s.name, err))
			continue
		}
		if !q.Writable() {
			continue
		}
		if err := dev.Set(s.id, q.Clamp(s.v)); err != nil {
			errs = append(errs, fmt.Errorf("camera: %s: %w", s.name, err))
		}
	}
	return errors.Join(errs...)
}

// Doctor examines the camera, and the portal when one runs.
func (c *Camera) Doctor(ctx context.Context) []hw.Check {
	var out []hw.Check
	ch := hw.Check{Name: "camera", Needed: true}
	st, n := c.v4l2Status()
	if !st.Present {
		ch.Health, ch.Reason = hw.Missing, st.Reason
	} else {
		ch.Health = hw.OK
		ch.Reason = c.o.Device
		if n.Card != "" {
			ch.Reason += " (" + n.Card + ")"
		}
		if extra := c.controls(ctx); extra != "" {
			ch.Reason += ", " + extra
		}
	}
	_ = c.portal.WaitReady(ctx)
	if up, _ := c.portal.Status(); up {
		p := hw.Check{Name: "portal"}
		present, err := c.portalPresent(ctx)
		switch {
		case err != nil:
			p.Health, p.Reason = hw.Degraded, "the desktop portal does not answer IsCameraPresent: "+err.Error()
		case !present:
			p.Health, p.Reason = hw.Degraded, noCameraPortal
		default:
			p.Health, p.Reason = hw.OK, "the camera portal sees a camera"
		}
		out = append(out, p)
	}
	return append([]hw.Check{ch}, out...)
}

// controls says which of the controls the kiosk uses the camera has.
func (c *Camera) controls(ctx context.Context) string {
	var have []string
	err := run(ctx, func() error {
		dev, err := c.o.Open(c.o.Device)
		if err != nil {
			return err
		}
		defer dev.Close()
		for _, x := range []struct {
			id   uint32
			name string
		}{{v4l2.CIDPrivacy, "privacy"}, {v4l2.CIDPanAbsolute, "pan"}, {v4l2.CIDTiltAbsolute, "tilt"}, {v4l2.CIDZoomAbsolute, "zoom"}} {
			q, err := dev.Query(x.id)
			if err != nil {
				continue
			}
			if x.id == v4l2.CIDPrivacy && !q.Writable() {
				have = append(have, "privacy (manual shutter)")
				continue
			}
			have = append(have, x.name)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return "cannot be opened: add the kiosk user to the video group"
		}
		return "controls unknown: " + err.Error()
	}
	if len(have) == 0 {
		return "no privacy or pan/tilt/zoom controls"
	}
	return "controls: " + strings.Join(have, ", ")
}
