//go:build linux

package camera_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/dbus/bus"
	"github.com/loiret/borne/hw/dbus/camera"
	"github.com/loiret/borne/hw/dbustest"
	"github.com/loiret/borne/hw/v4l2"
)

// fakeControls is a camera's controls, recording what is set.
type fakeControls struct {
	mu    sync.Mutex
	ctrls map[uint32]v4l2.Control
	vals  map[uint32]int32
	sets  [][2]int64
	block chan struct{} // when set, Query waits on it: a stuck USB device
}

func uvc() *fakeControls {
	return &fakeControls{ctrls: map[uint32]v4l2.Control{
		v4l2.CIDPrivacy:      {ID: v4l2.CIDPrivacy, Type: v4l2.TypeBoolean, Name: "Privacy", Min: 0, Max: 1, Step: 1},
		v4l2.CIDPanAbsolute:  {ID: v4l2.CIDPanAbsolute, Name: "Pan, Absolute", Min: -36000, Max: 36000, Step: 3600},
		v4l2.CIDTiltAbsolute: {ID: v4l2.CIDTiltAbsolute, Name: "Tilt, Absolute", Min: -36000, Max: 36000, Step: 3600},
		v4l2.CIDZoomAbsolute: {ID: v4l2.CIDZoomAbsolute, Name: "Zoom, Absolute", Min: 100, Max: 500, Step: 1},
	}, vals: map[uint32]int32{}}
}

func (f *fakeControls) Query(id uint32) (v4l2.Control, error) {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.ctrls[id]
	if !ok {
		return v4l2.Control{}, v4l2.ErrNoControl
	}
	return c, nil
}

func (f *fakeControls) Set(id uint32, v int32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vals[id] = v
	f.sets = append(f.sets, [2]int64{int64(id), int64(v)})
	return nil
}

func (f *fakeControls) Close() error { return nil }

func (f *fakeControls) setCalls() [][2]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][2]int64(nil), f.sets...)
}

// machine is a fake sysfs with one UVC camera, video0, and its device
// file in a temporary /dev.
func machine(t *testing.T) (sysRoot, device string) {
	t.Helper()
	sysRoot = t.TempDir()
	d := filepath.Join(sysRoot, "class", "video4linux", "video0")
	os.MkdirAll(d, 0o755)
	os.WriteFile(filepath.Join(d, "name"), []byte("UVC Camera (046d:0825)\n"), 0o644)
	os.WriteFile(filepath.Join(d, "index"), []byte("0\n"), 0o644)
	device = filepath.Join(t.TempDir(), "video0")
	os.WriteFile(device, nil, 0o600)
	return sysRoot, device
}

type presence struct {
	present bool
	reason  string
}

func newCamera(t *testing.T, o camera.Options) (*camera.Camera, chan presence) {
	t.Helper()
	states := make(chan presence, 16)
	o.State = func(p bool, r string) { states <- presence{p, r} }
	o.Backoff = bus.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	o.Timeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := camera.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, states
}

func check(t *testing.T, c *camera.Camera) hw.CameraStatus {
	t.Helper()
	st, err := c.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestCheckWithoutPortal(t *testing.T) {
	dbustest.New(t)
	sys, dev := machine(t)
	c, _ := newCamera(t, camera.Options{Device: dev, SysRoot: sys})
	if st := check(t, c); !st.Present {
		t.Errorf("camera not found: %s", st.Reason)
	}

	c2, _ := newCamera(t, camera.Options{Device: "/dev/video2", SysRoot: sys})
	st := check(t, c2)
	if st.Present || !strings.Contains(st.Reason, "set hardware.camera.device to one of /dev/video0 (UVC Camera (046d:0825))") {
		t.Errorf("wrong device: %+v", st)
	}

	c3, _ := newCamera(t, camera.Options{Device: dev, SysRoot: t.TempDir()})
	if st := check(t, c3); st.Present || !strings.Contains(st.Reason, "no camera at all") {
		t.Errorf("no camera: %+v", st)
	}
}

func TestCheckWithPortal(t *testing.T) {
	env := dbustest.New(t)
	portal := dbustest.NewPortal(t, env.Session, true)
	sys, dev := machine(t)
	c, states := newCamera(t, camera.Options{Device: dev, SysRoot: sys})
	if st := check(t, c); !st.Present {
		t.Errorf("portal camera not found: %s", st.Reason)
	}
	// Unplugged: the portal says so, and its signal is reported.
	portal.SetCameraPresent(false)
	select {
	case p := <-states:
		if p.present || !strings.Contains(p.reason, "portal sees no camera") {
			t.Errorf("report %+v", p)
		}
	case <-time.After(time.Second):
		t.Fatal("unplugging not reported")
	}
	if st := check(t, c); st.Present {
		t.Error("portal's no-camera ignored")
	}
	portal.SetCameraPresent(true)
	if p := <-states; !p.present {
		t.Errorf("replugging reported as %+v", p)
	}
	// Without the portal, V4L2 says.
	portal.Stop()
	dbustest.Eventually(t, time.Second, "V4L2 not used without the portal", func() bool { return check(t, c).Present })
	c4, _ := newCamera(t, camera.Options{Device: "/dev/video2", SysRoot: sys})
	if st := check(t, c4); st.Present {
		t.Error("missing V4L2 device found without the portal")
	}
}

func TestPrivacyAndPreset(t *testing.T) {
	dbustest.New(t)
	sys, dev := machine(t)
	ctrls := uvc()
	var opened []string
	c, _ := newCamera(t, camera.Options{
		Device: dev, SysRoot: sys, Preset: camera.Preset{Pan: 15, Tilt: -5, Zoom: 150},
		Open: func(p string) (camera.Controls, error) { opened = append(opened, p); return ctrls, nil },
	})
	ctx := context.Background()
	if err := c.SetPrivacy(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPrivacy(ctx, true); err != nil {
		t.Fatal(err)
	}
	want := [][2]int64{
		{int64(v4l2.CIDPanAbsolute), 36000},   // 15° is past this camera's 10°: clamped
		{int64(v4l2.CIDTiltAbsolute), -18000}, // -5° in arc seconds
		{int64(v4l2.CIDZoomAbsolute), 150},
		{int64(v4l2.CIDPrivacy), 0}, // in the call, after the preset
		{int64(v4l2.CIDPrivacy), 1}, // between calls
	}
	if got := ctrls.setCalls(); !reflect.DeepEqual(got, want) {
		t.Errorf("controls set:\n got %v\nwant %v", got, want)
	}
	if len(opened) != 2 || opened[0] != dev {
		t.Errorf("opened %v", opened)
	}
}

func TestCameraWithoutControls(t *testing.T) {
	dbustest.New(t)
	sys, dev := machine(t)
	ctrls := uvc()
	delete(ctrls.ctrls, v4l2.CIDPanAbsolute)
	delete(ctrls.ctrls, v4l2.CIDTiltAbsolute)
	p := ctrls.ctrls[v4l2.CIDPrivacy]
	p.Flags = v4l2.FlagReadOnly // a shutter slid by hand
	ctrls.ctrls[v4l2.CIDPrivacy] = p
	c, _ := newCamera(t, camera.Options{Device: dev, SysRoot: sys, Preset: camera.Preset{Zoom: 100},
		Open: func(string) (camera.Controls, error) { return ctrls, nil }})
	if err := c.SetPrivacy(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPrivacy(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if got := ctrls.setCalls(); !reflect.DeepEqual(got, [][2]int64{{int64(v4l2.CIDZoomAbsolute), 100}}) {
		t.Errorf("controls set: %v", got)
	}
	checks := c.Doctor(context.Background())
	if len(checks) != 1 || checks[0].Health != hw.OK ||
		checks[0].Reason != dev+" (UVC Camera (046d:0825)), controls: privacy (manual shutter), zoom" {
		t.Errorf("doctor: %+v", checks)
	}
}

// A stuck camera does not hold the shell past its deadline.
func TestStuckCamera(t *testing.T) {
	dbustest.New(t)
	sys, dev := machine(t)
	ctrls := uvc()
	ctrls.block = make(chan struct{})
	defer close(ctrls.block)
	c, _ := newCamera(t, camera.Options{Device: dev, SysRoot: sys, Open: func(string) (camera.Controls, error) { return ctrls, nil }})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := c.SetPrivacy(ctx, true)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > time.Second {
		t.Errorf("SetPrivacy on a stuck camera: %v after %v", err, time.Since(t0))
	}
}

func TestDoctor(t *testing.T) {
	env := dbustest.New(t)
	sys, dev := machine(t)
	open := func(string) (camera.Controls, error) { return uvc(), nil }
	c, _ := newCamera(t, camera.Options{Device: dev, SysRoot: sys, Open: open})
	checks := c.Doctor(context.Background())
	want := []hw.Check{{Name: "camera", Health: hw.OK, Needed: true,
		Reason: dev + " (UVC Camera (046d:0825)), controls: privacy, pan, tilt, zoom"}}
	if !reflect.DeepEqual(checks, want) {
		t.Errorf("doctor:\n got %+v\nwant %+v", checks, want)
	}
	dbustest.NewPortal(t, env.Session, false)
	dbustest.Eventually(t, time.Second, "portal not seen", func() bool { return len(c.Doctor(context.Background())) == 2 })
	if p := c.Doctor(context.Background())[1]; p.Name != "portal" || p.Health != hw.Degraded || p.Needed {
		t.Errorf("portal line: %+v", p)
	}
	c2, _ := newCamera(t, camera.Options{Device: "/dev/video5", SysRoot: sys, Open: open})
	if ch := c2.Doctor(context.Background())[0]; ch.Health != hw.Missing || !strings.Contains(ch.Reason, "/dev/video5") {
		t.Errorf("doctor of a missing camera: %+v", ch)
	}
}
