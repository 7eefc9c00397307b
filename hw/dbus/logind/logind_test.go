package logind_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/dbus/bus"
	"github.com/loiret/borne/hw/dbus/logind"
	"github.com/loiret/borne/hw/dbustest"
)

type state struct {
	up     bool
	reason string
}

type rig struct {
	env    *dbustest.Env
	fake   *dbustest.Logind
	states chan state
	opts   logind.Options
}

func sysfs(t testing.TB, name string, max int) string {
	t.Helper()
	root := t.TempDir()
	d := filepath.Join(root, "class", "backlight", name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, "max_brightness"), []byte(strconv.Itoa(max)+"\n"), 0o644)
	os.WriteFile(filepath.Join(d, "brightness"), []byte("500\n"), 0o644)
	return root
}

func newRig(t testing.TB) *rig {
	t.Helper()
	env := dbustest.New(t)
	r := &rig{env: env, fake: dbustest.NewLogind(t, env.System), states: make(chan state, 64)}
	r.opts = logind.Options{
		Backlight: "intel_backlight",
		Percent:   map[hw.Level]int{hw.LevelActive: 100, hw.LevelDim: 20, hw.LevelCall: 90, hw.LevelOff: 0},
		SysRoot:   sysfs(t, "intel_backlight", 1000),
		Backoff:   bus.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Timeout:   2 * time.Second,
		State:     func(up bool, reason string) { r.states <- state{up, reason} },
	}
	return r
}

func (r *rig) start(t testing.TB) *logind.Display {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := logind.New(ctx, r.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func (r *rig) waitState(t *testing.T, up bool, within time.Duration) state {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case s := <-r.states:
			if s.up == up {
				return s
			}
		case <-timeout:
			t.Fatalf("no report of up=%v within %v", up, within)
		}
	}
}

func setLevel(t *testing.T, d *logind.Display, l hw.Level) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := d.SetLevel(ctx, l); err != nil {
		t.Fatalf("SetLevel(%v): %v", l, err)
	}
}

// The levels of a day with a call: the exact calls, the inhibitor held
// during the call only.
func TestLevelsAndInhibitor(t *testing.T) {
	r := newRig(t)
	d := r.start(t)
	setLevel(t, d, hw.LevelActive)
	setLevel(t, d, hw.LevelDim)
	setLevel(t, d, hw.LevelCall)
	if r.fake.Held() != 1 || !d.Inhibiting() {
		t.Fatalf("%d inhibitors held during the call", r.fake.Held())
	}
	setLevel(t, d, hw.LevelCall) // again: still one lock
	setLevel(t, d, hw.LevelActive)
	dbustest.Eventually(t, time.Second, "idle inhibitor still held after the call", func() bool { return r.fake.Held() == 0 })

	var got [][]any
	for _, c := range r.fake.Calls("SetBrightness") {
		if c.Path != "/org/freedesktop/login1/session/_32" {
			t.Errorf("SetBrightness on %s", c.Path)
		}
		got = append(got, c.Args)
	}
	want := [][]any{
		{"backlight", "intel_backlight", uint32(1000)},
		{"backlight", "intel_backlight", uint32(200)},
		{"backlight", "intel_backlight", uint32(900)},
		{"backlight", "intel_backlight", uint32(900)},
		{"backlight", "intel_backlight", uint32(1000)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SetBrightness calls:\n got %v\nwant %v", got, want)
	}
	inh := r.fake.Calls("Inhibit")
	if len(inh) != 1 || !reflect.DeepEqual(inh[0].Args, []any{"idle", "borne", "A video call is in progress", "block"}) {
		t.Errorf("Inhibit calls: %+v", inh)
	}
	if by := r.fake.Calls("GetSessionByPID"); len(by) != 1 || by[0].Args[0] != uint32(os.Getpid()) {
		t.Errorf("GetSessionByPID calls: %+v", by)
	}
	if n := len(r.fake.Calls("GetSession")); n != 0 {
		t.Errorf("GetSession called %d times though the PID has a session", n)
	}
	if v, _ := r.fake.Brightness("backlight", "intel_backlight"); v != 1000 {
		t.Errorf("brightness left at %d", v)
	}
}

// A shell started outside the session finds the user's display session.
func TestSessionFallsBackToAuto(t *testing.T) {
	r := newRig(t)
	r.fake.SetPID(uint32(os.Getpid()), "")
	r.fake.AddSession(dbustest.LoginSession{ID: "c1", User: "kiosk", Seat: "seat0", Active: true, Type: "wayland"})
	r.fake.SetAuto("c1")
	d := r.start(t)
	setLevel(t, d, hw.LevelDim)
	if c := r.fake.Calls("GetSession"); len(c) != 1 || c[0].Args[0] != "auto" {
		t.Errorf("GetSession calls: %+v", c)
	}
	if c := r.fake.Calls("SetBrightness"); len(c) != 1 || c[0].Path != "/org/freedesktop/login1/session/c1" {
		t.Errorf("SetBrightness calls: %+v", c)
	}
}

// No session at all: unavailable with a reason, then found when it
// appears (the kiosk user logged in late).
func TestNoSessionThenOne(t *testing.T) {
	r := newRig(t)
	r.fake.SetPID(uint32(os.Getpid()), "")
	r.fake.SetAuto("")
	d := r.start(t)
	down := r.waitState(t, false, time.Second)
	if !strings.Contains(down.reason, "no logind session for borne") {
		t.Errorf("reason %q", down.reason)
	}
	if err := d.SetLevel(context.Background(), hw.LevelDim); !errors.Is(err, hw.ErrUnavailable) {
		t.Errorf("SetLevel without a session: %v", err)
	}
	r.fake.SetAuto("2")
	r.waitState(t, true, 2*time.Second)
	// The level asked for meanwhile is applied.
	dbustest.Eventually(t, time.Second, "dim level not applied on recovery", func() bool {
		v, ok := r.fake.Brightness("backlight", "intel_backlight")
		return ok && v == 200
	})
}

// logind dies mid-call and comes back: reported within a second; the
// screen fails fast meanwhile; on return the new logind gets the
// inhibitor again, and calls work.
func TestLogindRestartsMidCall(t *testing.T) {
	r := newRig(t)
	d := r.start(t)
	setLevel(t, d, hw.LevelCall)
	r.waitState(t, true, time.Second)

	t0 := time.Now()
	r.fake.Stop()
	down := r.waitState(t, false, time.Second)
	if !strings.Contains(down.reason, "org.freedesktop.login1 left the system bus") {
		t.Errorf("reason %q", down.reason)
	}
	if d.Inhibiting() {
		t.Error("inhibitor of a dead logind still held")
	}
	t.Logf("down reported after %v", time.Since(t0))
	t1 := time.Now()
	if err := d.SetLevel(context.Background(), hw.LevelCall); !errors.Is(err, hw.ErrUnavailable) || time.Since(t1) > 50*time.Millisecond {
		t.Errorf("SetLevel while away: %v after %v", err, time.Since(t1))
	}

	if err := r.fake.Start(); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, true, 2*time.Second)
	dbustest.Eventually(t, time.Second, "inhibitor not taken again", func() bool { return r.fake.Held() == 1 })
	setLevel(t, d, hw.LevelActive)
	dbustest.Eventually(t, time.Second, "inhibitor not released", func() bool { return r.fake.Held() == 0 })
	if v, _ := r.fake.Brightness("backlight", "intel_backlight"); v != 1000 {
		t.Errorf("brightness %d after the call", v)
	}
}

// A session not in the foreground: logind refuses, doctor says why.
func TestNotInForeground(t *testing.T) {
	r := newRig(t)
	r.fake.SetActive("2", false)
	d := r.start(t)
	err := d.SetLevel(context.Background(), hw.LevelActive)
	if err == nil || !strings.Contains(err.Error(), "not in foreground") {
		t.Errorf("SetLevel in a background session: %v", err)
	}
	checks := d.Doctor(context.Background())
	if checks[0].Health != hw.Degraded || !strings.Contains(checks[0].Reason, "not in the foreground of seat0") {
		t.Errorf("doctor: %+v", checks)
	}
}

func TestDoctor(t *testing.T) {
	r := newRig(t)
	d := r.start(t)
	checks := d.Doctor(context.Background())
	want := []hw.Check{
		{Name: "logind", Health: hw.OK, Reason: "session 2 (seat0, wayland, active)", Needed: true},
		{Name: "backlight", Health: hw.OK, Reason: "intel_backlight: brightness 500 of 1000", Needed: true},
	}
	if !reflect.DeepEqual(checks, want) {
		t.Errorf("doctor:\n got %+v\nwant %+v", checks, want)
	}

	r.opts.Backlight = "acpi_video9"
	d2 := r.start(t)
	checks = d2.Doctor(context.Background())
	if checks[1].Health != hw.Missing || !strings.Contains(checks[1].Reason, "one of [intel_backlight]") {
		t.Errorf("doctor with a wrong backlight: %+v", checks[1])
	}

	r.fake.Stop()
	dbustest.Eventually(t, time.Second, "logind still up", func() bool { up, _ := d.Status(); return !up })
	checks = d.Doctor(context.Background())
	if checks[0].Health != hw.Missing || !strings.Contains(checks[0].Reason, "is systemd-logind running?") {
		t.Errorf("doctor without logind: %+v", checks[0])
	}
}

// The system bus dies and comes back; nothing is left behind.
func TestSystemBusDies(t *testing.T) {
	r := newRig(t)
	before := runtime.NumGoroutine()
	d := r.start(t)
	setLevel(t, d, hw.LevelCall)
	r.waitState(t, true, time.Second)
	r.env.System.Kill()
	down := r.waitState(t, false, time.Second)
	if !strings.Contains(down.reason, "system bus") {
		t.Errorf("reason %q", down.reason)
	}
	if d.Inhibiting() {
		t.Error("inhibitor kept across a dead bus")
	}
	if err := r.env.System.Start(); err != nil {
		t.Fatal(err)
	}
	r.fake.Stop()
	if err := r.fake.Start(); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, true, 3*time.Second)
	dbustest.Eventually(t, time.Second, "inhibitor not taken again", func() bool { return r.fake.Held() == 1 })
	setLevel(t, d, hw.LevelActive)
	d.Close()
	dbustest.Eventually(t, 3*time.Second, "goroutines left behind", func() bool { return runtime.NumGoroutine() <= before })
}

// BenchmarkSetLevel is one SetBrightness round trip on a private bus.
func BenchmarkSetLevel(b *testing.B) {
	r := newRig(b)
	d := r.start(b)
	ctx := context.Background()
	levels := []hw.Level{hw.LevelActive, hw.LevelDim}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.SetLevel(ctx, levels[i%2]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallLevel is entering and leaving a call: brightness and the
// inhibitor taken and released.
func BenchmarkCallLevel(b *testing.B) {
	r := newRig(b)
	d := r.start(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.SetLevel(ctx, hw.LevelCall); err != nil {
			b.Fatal(err)
		}
		if err := d.SetLevel(ctx, hw.LevelActive); err != nil {
			b.Fatal(err)
		}
	}
}
