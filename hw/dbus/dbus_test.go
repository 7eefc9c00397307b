//go:build linux

package dbus_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	hwdbus "github.com/loiret/borne/hw/dbus"
	"github.com/loiret/borne/hw/dbus/bus"
	"github.com/loiret/borne/hw/dbus/camera"
	"github.com/loiret/borne/hw/dbustest"
	"github.com/loiret/borne/hw/v4l2"
	"github.com/loiret/borne/operators"
)

// privacyCam is a camera with a privacy control, remembering its state.
type privacyCam struct {
	mu      sync.Mutex
	privacy int32
	sets    int
}

func (c *privacyCam) Query(id uint32) (v4l2.Control, error) {
	if id != v4l2.CIDPrivacy {
		return v4l2.Control{}, v4l2.ErrNoControl
	}
	return v4l2.Control{ID: id, Type: v4l2.TypeBoolean, Max: 1, Step: 1}, nil
}

func (c *privacyCam) Set(id uint32, v int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.privacy, c.sets = v, c.sets+1
	return nil
}

func (c *privacyCam) Close() error { return nil }

func (c *privacyCam) state() (int32, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.privacy, c.sets
}

type kiosk struct {
	env     *dbustest.Env
	systemd *dbustest.Systemd
	logind  *dbustest.Logind
	ddc     *dbustest.Ddcutil
	cam     *privacyCam
	client  string
	b       *hwdbus.Backend
	hw      hw.Hardware
}

func newKiosk(t *testing.T) *kiosk {
	t.Helper()
	env := dbustest.New(t)
	k := &kiosk{
		env:     env,
		systemd: dbustest.NewSystemd(t, env.Session),
		logind:  dbustest.NewLogind(t, env.System),
		ddc:     dbustest.NewDdcutil(t, env.Session),
		cam:     &privacyCam{privacy: 1},
		client:  dbustest.ClientScript(t, false),
	}
	sys := t.TempDir()
	bl := filepath.Join(sys, "class", "backlight", "intel_backlight")
	os.MkdirAll(bl, 0o755)
	os.WriteFile(filepath.Join(bl, "max_brightness"), []byte("1000\n"), 0o644)
	os.WriteFile(filepath.Join(bl, "brightness"), []byte("1000\n"), 0o644)
	v := filepath.Join(sys, "class", "video4linux", "video0")
	os.MkdirAll(v, 0o755)
	os.WriteFile(filepath.Join(v, "name"), []byte("UVC Camera\n"), 0o644)
	dev := filepath.Join(t.TempDir(), "video0")
	os.WriteFile(dev, nil, 0o600)

	c := hwdbus.Config{
		Hardware: config.Hardware{
			Backend: "dbus",
			Display: config.DisplayConfig{Backlight: "intel_backlight", Active: 100, Dim: 20, Call: 100, DDCDisplay: 1},
			Camera:  config.CameraConfig{Device: dev, Preset: config.Preset{Zoom: 100}},
			Session: config.SessionConfig{Environment: []string{"WAYLAND_DISPLAY"}},
		},
		MaxSession: 45 * time.Minute,
		Slack:      30 * time.Second,
		LookupEnv: func(k string) (string, bool) {
			return map[string]string{"WAYLAND_DISPLAY": "wayland-1"}[k], k == "WAYLAND_DISPLAY"
		},
		SysRoot:    sys,
		Backoff:    bus.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Timeout:    2 * time.Second,
		StopGrace:  500 * time.Millisecond,
		OpenCamera: func(string) (camera.Controls, error) { return k.cam, nil },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := hwdbus.New(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	k.b, k.hw = b, b.Hardware()
	return k
}

func call(t *testing.T, timeout time.Duration, f func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := f(ctx); err != nil {
		t.Fatal(err)
	}
}

func nextChange(t *testing.T, ch <-chan hw.Change, within time.Duration) hw.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("Changes closed")
		}
		return c
	case <-time.After(within):
		t.Fatalf("no change within %v", within)
	}
	return hw.Change{}
}

// A whole call as the shell makes it, then the privacy sweep: the unit
// gone, the idle lock released, the camera back to privacy, the screen at
// its idle level.
func TestWholeCallAndSweep(t *testing.T) {
	k := newKiosk(t)
	h := k.hw
	if h.Printer != nil {
		t.Error("the D-Bus back-end has no printer")
	}
	op := operators.Operator{ID: "caf", Launch: []string{k.client, "https://visio.example/caf"}}

	// Readiness, start, then the call's screen and camera.
	st, err := h.Camera.Check(context.Background())
	if err != nil || !st.Present {
		t.Fatalf("camera check: %+v, %v", st, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	s, err := h.Sessions.Start(ctx, op)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	call(t, 2*time.Second, func(ctx context.Context) error { return h.Display.SetLevel(ctx, hw.LevelCall) })
	call(t, 2*time.Second, func(ctx context.Context) error { return h.Camera.SetPrivacy(ctx, false) })
	if k.logind.Held() != 1 {
		t.Errorf("%d idle inhibitors during the call", k.logind.Held())
	}
	if p, _ := k.cam.state(); p != 0 {
		t.Error("camera still private during the call")
	}
	unit := s.(interface{ Unit() string }).Unit()
	if u, ok := k.systemd.Lookup(unit); !ok || u.ActiveState != "active" {
		t.Fatalf("unit during the call: %+v", u)
	}

	// The adviser hangs up.
	k.systemd.Exit(unit, 0)
	select {
	case e := <-s.Done():
		if e.Err != nil {
			t.Errorf("call ended with %v", e.Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("end of the call not seen")
	}
	call(t, 2*time.Second, func(ctx context.Context) error { return h.Display.SetLevel(ctx, hw.LevelActive) })
	call(t, 2*time.Second, func(ctx context.Context) error { return h.Camera.SetPrivacy(ctx, true) })

	dbustest.Eventually(t, time.Second, "unit still loaded after the call", func() bool { _, ok := k.systemd.Lookup(unit); return !ok })
	dbustest.Eventually(t, time.Second, "idle lock still held after the call", func() bool { return k.logind.Held() == 0 })
	if p, _ := k.cam.state(); p != 1 {
		t.Error("camera not back to privacy")
	}
	if v, _ := k.logind.Brightness("backlight", "intel_backlight"); v != 1000 {
		t.Errorf("backlight at %d after the call", v)
	}
	if v, _ := k.ddc.VCP(1, 0x10); v != 100 {
		t.Errorf("monitor brightness %d after the call", v)
	}

	// The whole conversation with each service.
	member := func(cs []dbustest.Call) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Member)
		}
		return out
	}
	if got, want := member(k.systemd.Calls()), []string{"Subscribe", "ListUnitsByPatterns", "StartTransientUnit"}; !reflect.DeepEqual(got, want) {
		t.Errorf("systemd calls %v, want %v", got, want)
	}
	if got, want := member(k.logind.Calls()), []string{"GetSessionByPID", "SetBrightness", "Inhibit", "SetBrightness"}; !reflect.DeepEqual(got, want) {
		t.Errorf("logind calls %v, want %v", got, want)
	}
	if got, want := member(k.ddc.Calls()), []string{"GetVcp", "SetVcp", "SetVcp"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ddcutil calls %v, want %v", got, want)
	}
}

// Services killed and restarted: the shell is told within a second, in
// device terms, and told again when they are back.
func TestChanges(t *testing.T) {
	k := newKiosk(t)
	ch := k.hw.Changes

	k.logind.Stop()
	c := nextChange(t, ch, time.Second)
	if c.Device != "display" || c.OK || !strings.Contains(c.Reason, "org.freedesktop.login1 left the system bus") {
		t.Errorf("change %+v", c)
	}
	k.logind.Start()
	if c := nextChange(t, ch, 2*time.Second); c.Device != "display" || !c.OK {
		t.Errorf("change %+v", c)
	}

	k.ddc.Stop()
	if c := nextChange(t, ch, time.Second); c.Device != "display" || c.OK || !strings.Contains(c.Reason, "ddcutil") {
		t.Errorf("change %+v", c)
	}
	k.ddc.Start()
	if c := nextChange(t, ch, 2*time.Second); c.Device != "display" || !c.OK {
		t.Errorf("change %+v", c)
	}

	k.systemd.Stop()
	if c := nextChange(t, ch, time.Second); c.Device != "sessions" || c.OK {
		t.Errorf("change %+v", c)
	}
	k.systemd.Start()
	if c := nextChange(t, ch, 2*time.Second); c.Device != "sessions" || !c.OK {
		t.Errorf("change %+v", c)
	}

	k.b.Close()
	for range ch { // closed: the shell's reader ends
	}
}

// The session bus dies under a running kiosk: no panic, the sessions and
// the external monitor say so, and everything comes back with the bus;
// no goroutine is left once closed.
func TestSessionBusDies(t *testing.T) {
	before := runtime.NumGoroutine()
	k := newKiosk(t)
	ch := k.hw.Changes
	k.env.Session.Kill()
	seen := map[string]bool{}
	for len(seen) < 2 {
		c := nextChange(t, ch, time.Second)
		if !c.OK {
			seen[c.Device] = true
		}
	}
	if !seen["sessions"] || !seen["display"] {
		t.Errorf("down: %v", seen)
	}
	if err := k.env.Session.Start(); err != nil {
		t.Fatal(err)
	}
	k.systemd.Stop()
	k.ddc.Stop()
	k.systemd.Start()
	k.ddc.Start()
	back := map[string]bool{}
	for len(back) < 2 {
		if c := nextChange(t, ch, 3*time.Second); c.OK {
			back[c.Device] = true
		}
	}
	s, err := k.hw.Sessions.Start(context.Background(), operators.Operator{ID: "caf", Launch: []string{k.client}})
	if err != nil {
		t.Fatal(err)
	}
	call(t, 5*time.Second, s.End)
	k.b.Close()
	k.systemd.Stop()
	k.logind.Stop()
	k.ddc.Stop()
	k.env.System.Kill()
	k.env.Session.Kill()
	dbustest.Eventually(t, 3*time.Second, "goroutines left behind", func() bool { return runtime.NumGoroutine() <= before })
}

func TestDoctor(t *testing.T) {
	k := newKiosk(t)
	var names []string
	for _, c := range k.b.Doctor(context.Background()) {
		names = append(names, c.Name)
		if c.Health != hw.OK || !c.Needed {
			t.Errorf("%+v", c)
		}
	}
	if want := []string{"systemd", "logind", "backlight", "ddcutil", "camera"}; !reflect.DeepEqual(names, want) {
		t.Errorf("doctor lines %v, want %v", names, want)
	}
}
