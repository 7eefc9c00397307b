package systemd_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/dbus/bus"
	"github.com/loiret/borne/hw/dbus/systemd"
	"github.com/loiret/borne/hw/dbustest"
	"github.com/loiret/borne/operators"
)

type state struct {
	up     bool
	reason string
}

type rig struct {
	env    *dbustest.Env
	fake   *dbustest.Systemd
	client string
	states chan state
	opts   systemd.Options
}

func newRig(t *testing.T, ignoreTerm bool) *rig {
	t.Helper()
	env := dbustest.New(t)
	r := &rig{env: env, fake: dbustest.NewSystemd(t, env.Session), client: dbustest.ClientScript(t, ignoreTerm), states: make(chan state, 64)}
	shellEnv := map[string]string{"WAYLAND_DISPLAY": "wayland-1", "XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/kiosk"}
	r.opts = systemd.Options{
		MaxSession:  45 * time.Minute,
		Slack:       30 * time.Second,
		Environment: []string{"WAYLAND_DISPLAY", "DISPLAY", "XDG_RUNTIME_DIR", "PULSE_SERVER"},
		LookupEnv:   func(k string) (string, bool) { v, ok := shellEnv[k]; return v, ok },
		StopGrace:   300 * time.Millisecond,
		KillGrace:   2 * time.Second,
		Backoff:     bus.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Timeout:     2 * time.Second,
		State:       func(up bool, reason string) { r.states <- state{up, reason} },
	}
	return r
}

func (r *rig) start(t *testing.T) *systemd.Manager {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := systemd.New(ctx, r.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if up, reason := m.Status(); !up {
		t.Fatalf("manager not up after New: %s", reason)
	}
	return m
}

func (r *rig) op(id string, args ...string) operators.Operator {
	return operators.Operator{ID: id, Launch: append([]string{r.client}, args...)}
}

// waitState waits for the next availability report, which must be up.
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

func startCall(t *testing.T, m *systemd.Manager, op operators.Operator) *systemd.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := m.Start(ctx, op)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s.(*systemd.Session)
}

func waitDone(t *testing.T, s hw.Session, within time.Duration) hw.SessionEnd {
	t.Helper()
	select {
	case end := <-s.Done():
		select {
		case again := <-s.Done():
			t.Fatalf("Done delivered twice: %+v then %+v", end, again)
		default:
		}
		return end
	case <-time.After(within):
		t.Fatalf("session not done within %v", within)
	}
	return hw.SessionEnd{}
}

func end(t *testing.T, s hw.Session) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.End(ctx); err != nil {
		t.Fatalf("End: %v", err)
	}
}

// A whole call, as on the box: the exact StartTransientUnit, the unit
// followed to active, stopped on End, and gone.
func TestWholeCall(t *testing.T) {
	r := newRig(t, false)
	m := r.start(t)
	if n := len(r.fake.Calls("Subscribe")); n != 1 {
		t.Fatalf("Subscribe called %d times, want 1", n)
	}
	s := startCall(t, m, r.op("caf", "--kiosk", "https://visio.example/caf"))

	calls := r.fake.Calls("StartTransientUnit")
	if len(calls) != 1 {
		t.Fatalf("StartTransientUnit called %d times", len(calls))
	}
	c := calls[0]
	if c.Args[0] != "borne-call-caf-1.service" || c.Args[1] != "fail" {
		t.Errorf("name, mode = %v, %v", c.Args[0], c.Args[1])
	}
	argv := []string{r.client, "--kiosk", "https://visio.example/caf"}
	want := []dbustest.Property{
		{Name: "Description", Signature: "s", Value: "borne video session with caf"},
		{Name: "Type", Signature: "s", Value: "exec"},
		{Name: "ExecStart", Signature: "a(sasb)", Value: [][]any{{r.client, argv, false}}},
		{Name: "Environment", Signature: "as", Value: []string{"WAYLAND_DISPLAY=wayland-1", "XDG_RUNTIME_DIR=/run/user/1000"}},
		{Name: "RuntimeMaxUSec", Signature: "t", Value: uint64((45*time.Minute + 30*time.Second).Microseconds())},
		{Name: "CollectMode", Signature: "s", Value: "inactive-or-failed"},
	}
	got := c.Args[2].([]dbustest.Property)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("properties:\n got %#v\nwant %#v", got, want)
	}
	if aux := reflect.ValueOf(c.Args[3]); aux.Len() != 0 {
		t.Errorf("aux = %v, want empty", c.Args[3])
	}
	u, ok := r.fake.Lookup("borne-call-caf-1.service")
	if !ok || u.ActiveState != "active" || u.MainPID == 0 {
		t.Fatalf("unit after Start: %+v (loaded %v)", u, ok)
	}
	if !reflect.DeepEqual(u.Transient.ExecStart, []dbustest.ExecCommand{{Path: r.client, Argv: argv}}) {
		t.Errorf("ExecStart decoded as %+v", u.Transient.ExecStart)
	}

	end(t, s)
	if e := waitDone(t, s, 5*time.Second); e.Err != nil {
		t.Errorf("end of a call the citizen ended: %v", e.Err)
	}
	stops := r.fake.Calls("StopUnit")
	if len(stops) != 1 || stops[0].Args[0] != "borne-call-caf-1.service" || stops[0].Args[1] != "replace" {
		t.Errorf("StopUnit calls: %+v", stops)
	}
	if n := len(r.fake.Calls("KillUnit")); n != 0 {
		t.Errorf("KillUnit called %d times for a client that stopped", n)
	}
	dbustest.Eventually(t, 2*time.Second, "unit still loaded after the call", func() bool {
		_, ok := r.fake.Lookup("borne-call-caf-1.service")
		return !ok
	})
	// The next call gets a new name.
	s2 := startCall(t, m, r.op("caf"))
	if s2.Unit() != "borne-call-caf-2.service" {
		t.Errorf("second unit %s", s2.Unit())
	}
	end(t, s2)
}

// The adviser hangs up: the client exits by itself.
func TestClientExits(t *testing.T) {
	r := newRig(t, false)
	m := r.start(t)

	s := startCall(t, m, r.op("cpam"))
	if !r.fake.Exit(s.Unit(), 0) {
		t.Fatal("no process to exit")
	}
	if e := waitDone(t, s, 5*time.Second); e.Err != nil {
		t.Errorf("clean exit reported as %v", e.Err)
	}

	s = startCall(t, m, r.op("cpam"))
	r.fake.Exit(s.Unit(), 3)
	e := waitDone(t, s, 5*time.Second)
	if e.Err == nil || !strings.Contains(e.Err.Error(), "status 3") {
		t.Errorf("crash reported as %v, want exit status 3", e.Err)
	}
	if err := s.End(context.Background()); err != nil {
		t.Errorf("End after the end: %v", err)
	}
	if n := len(r.fake.Calls("StopUnit")); n != 0 {
		t.Errorf("StopUnit called %d times for clients that had exited", n)
	}
}

// A client that exits right after it started: the session ends with an
// error, and nothing is left behind.
func TestClientExitsEarly(t *testing.T) {
	r := newRig(t, false)
	m := r.start(t)
	op := operators.Operator{ID: "adil", Launch: []string{"/bin/sh", "-c", "exit 4"}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := m.Start(ctx, op)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	e := waitDone(t, s, 5*time.Second)
	if e.Err == nil || !strings.Contains(e.Err.Error(), "status 4") {
		t.Errorf("early exit reported as %v", e.Err)
	}
	if us := r.fake.Units(); len(us) != 0 {
		t.Errorf("units left: %+v", us)
	}
}

// A client that cannot be run fails Start, with nothing left behind.
func TestClientNeverStarts(t *testing.T) {
	r := newRig(t, false)
	m := r.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := m.Start(ctx, operators.Operator{ID: "carsat", Launch: []string{"/nonexistent/visio", "--kiosk"}})
	if err == nil || !strings.Contains(err.Error(), "could not be executed") {
		t.Fatalf("Start of a missing client: %v", err)
	}
	if us := r.fake.Units(); len(us) != 0 {
		t.Errorf("units left: %+v", us)
	}
	// A client not on PATH is refused before any D-Bus call.
	before := len(r.fake.Calls("StartTransientUnit"))
	_, err = m.Start(ctx, operators.Operator{ID: "carsat", Launch: []string{"no-such-visio-client"}})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Start of a client not on PATH: %v", err)
	}
	if len(r.fake.Calls("StartTransientUnit")) != before {
		t.Error("StartTransientUnit called for a client not on PATH")
	}
}

// A call that outlives max_session is ended by systemd.
func TestMaxSession(t *testing.T) {
	r := newRig(t, false)
	r.opts.MaxSession, r.opts.Slack = 300*time.Millisecond, 100*time.Millisecond
	m := r.start(t)
	s := startCall(t, m, r.op("cdad"))
	props := r.fake.Calls("StartTransientUnit")[0].Args[2].([]dbustest.Property)
	if props[4].Name != "RuntimeMaxUSec" || props[4].Value != uint64(400000) {
		t.Errorf("RuntimeMaxUSec property %+v", props[4])
	}
	e := waitDone(t, s, 5*time.Second)
	if !errors.Is(e.Err, systemd.ErrMaxSession) {
		t.Errorf("end after max_session: %v, want ErrMaxSession", e.Err)
	}
	if _, ok := r.fake.Lookup(s.Unit()); ok {
		t.Error("unit still loaded")
	}
}

// A client that ignores SIGTERM is killed.
func TestEndKillsLingeringClient(t *testing.T) {
	r := newRig(t, true)
	m := r.start(t)
	s := startCall(t, m, r.op("caf"))
	// The client must have set its trap before SIGTERM comes, or the
	// shell it runs in dies of it.
	dbustest.Eventually(t, 3*time.Second, "client ready", func() bool {
		ready, _ := filepath.Glob(filepath.Join(filepath.Dir(r.client), "ready-*"))
		return len(ready) > 0
	})
	start := time.Now()
	end(t, s)
	if e := waitDone(t, s, time.Second); e.Err != nil {
		t.Errorf("end: %v", e.Err)
	}
	kills := r.fake.Calls("KillUnit")
	if len(kills) != 1 || !reflect.DeepEqual(kills[0].Args, []any{s.Unit(), "all", int32(9)}) {
		t.Errorf("KillUnit calls %+v", kills)
	}
	if d := time.Since(start); d < r.opts.StopGrace {
		t.Errorf("killed after %v, before the grace of %v", d, r.opts.StopGrace)
	}
}

// A unit left by a crashed shell is stopped at start-up; others are not
// touched.
func TestLeftoverStopped(t *testing.T) {
	r := newRig(t, false)
	if err := r.fake.AddUnit("borne-call-caf-7.service", r.client); err != nil {
		t.Fatal(err)
	}
	if err := r.fake.AddUnit("foot-server.service", r.client); err != nil {
		t.Fatal(err)
	}
	r.start(t)
	stops := r.fake.Calls("StopUnit")
	if len(stops) != 1 || stops[0].Args[0] != "borne-call-caf-7.service" {
		t.Fatalf("StopUnit calls at start-up: %+v", stops)
	}
	dbustest.Eventually(t, 3*time.Second, "leftover unit still there", func() bool {
		_, ok := r.fake.Lookup("borne-call-caf-7.service")
		return !ok
	})
	if _, ok := r.fake.Lookup("foot-server.service"); !ok {
		t.Error("an unrelated unit was stopped")
	}
}

// borne doctor, beside a kiosk in a call, stops nothing.
func TestPassiveStopsNothing(t *testing.T) {
	r := newRig(t, false)
	r.fake.AddUnit("borne-call-caf-3.service", r.client)
	r.opts.Passive = true
	m := r.start(t)
	checks := m.Doctor(context.Background())
	if len(checks) != 1 || checks[0].Health != hw.OK || !strings.Contains(checks[0].Reason, "252") ||
		!strings.Contains(checks[0].Reason, "borne-call-caf-3.service") {
		t.Errorf("doctor: %+v", checks)
	}
	if n := len(r.fake.Calls("StopUnit")); n != 0 {
		t.Errorf("passive back-end called StopUnit %d times", n)
	}
	if _, err := m.Start(context.Background(), r.op("caf")); err == nil {
		t.Error("passive back-end started a session")
	}
}

// The user manager leaves and comes back: reported within a second,
// calls fail at once meanwhile, and it is subscribed to again.
func TestManagerRestarts(t *testing.T) {
	r := newRig(t, false)
	m := r.start(t)
	r.waitState(t, true, time.Second)
	s := startCall(t, m, r.op("caf"))

	r.fake.Stop()
	down := r.waitState(t, false, time.Second)
	if !strings.Contains(down.reason, "org.freedesktop.systemd1 left the session bus") {
		t.Errorf("reason: %q", down.reason)
	}
	t0 := time.Now()
	_, err := m.Start(context.Background(), r.op("caf"))
	if !errors.Is(err, hw.ErrUnavailable) || time.Since(t0) > 100*time.Millisecond {
		t.Errorf("Start while away: %v after %v", err, time.Since(t0))
	}
	if ch := m.Doctor(context.Background()); ch[0].Health != hw.Missing {
		t.Errorf("doctor while away: %+v", ch)
	}

	if err := r.fake.Start(); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, true, 2*time.Second)
	if r.fake.Subscribers() != 1 {
		t.Errorf("%d subscribers after the restart", r.fake.Subscribers())
	}
	// The call under way is still followed: its end is seen.
	r.fake.Exit(s.Unit(), 3)
	if e := waitDone(t, s, 5*time.Second); e.Err == nil {
		t.Error("crash after the restart not seen")
	}
	s2 := startCall(t, m, r.op("caf"))
	end(t, s2)
	waitDone(t, s2, 5*time.Second)
}

// A call whose client died while the manager was away ends with an error
// when the manager returns.
func TestCallLostWhileAway(t *testing.T) {
	r := newRig(t, false)
	m := r.start(t)
	s := startCall(t, m, r.op("caf"))
	r.fake.Stop()
	r.waitState(t, false, time.Second)
	r.fake.Exit(s.Unit(), 0) // unseen: nobody is on the bus to say it
	dbustest.Eventually(t, 2*time.Second, "unit not gone", func() bool {
		_, ok := r.fake.Lookup(s.Unit())
		return !ok
	})
	r.fake.Start()
	e := waitDone(t, s, 3*time.Second)
	if e.Err == nil || !strings.Contains(e.Err.Error(), "is gone") {
		t.Errorf("lost call ended with %v", e.Err)
	}
}

// Start gives up at its deadline and stops the unit that was coming.
func TestStartDeadline(t *testing.T) {
	r := newRig(t, false)
	r.fake.SetStartDelay(2 * time.Second)
	m := r.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := m.Start(ctx, r.op("caf"))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > time.Second {
		t.Fatalf("Start past its deadline: %v after %v", err, time.Since(t0))
	}
	r.fake.WaitCalls(t, "StopUnit", 1, 3*time.Second)
	dbustest.Eventually(t, 5*time.Second, "abandoned unit still loaded", func() bool { return len(r.fake.Units()) == 0 })
}

// The session bus dies and comes back: reported, no panic, calls work
// again, and no goroutine is left behind.
func TestBusDies(t *testing.T) {
	r := newRig(t, false)
	before := runtime.NumGoroutine()
	m := r.start(t)
	r.waitState(t, true, time.Second)

	r.env.Session.Kill()
	down := r.waitState(t, false, time.Second)
	if !strings.Contains(down.reason, "session bus") {
		t.Errorf("reason: %q", down.reason)
	}
	if _, err := m.Start(context.Background(), r.op("caf")); !errors.Is(err, hw.ErrUnavailable) {
		t.Errorf("Start without a bus: %v", err)
	}
	// At least one reconnection attempt fails before the bus is back.
	if again := r.waitState(t, false, time.Second); !strings.Contains(again.reason, "cannot reach the session bus") {
		t.Errorf("reason while the bus is away: %q", again.reason)
	}
	if err := r.env.Session.Start(); err != nil {
		t.Fatal(err)
	}
	r.fake.Stop()
	if err := r.fake.Start(); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, true, 3*time.Second)
	s := startCall(t, m, r.op("caf"))
	end(t, s)
	waitDone(t, s, 5*time.Second)

	m.Close()
	dbustest.Eventually(t, 3*time.Second, "goroutines left behind", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

// BenchmarkSession is a whole session's life on a private bus: the
// transient unit started and followed to active, then stopped and seen
// gone (a real process each time).
func BenchmarkSession(b *testing.B) {
	env := dbustest.New(b)
	dbustest.NewSystemd(b, env.Session)
	client := dbustest.ClientScript(b, false)
	ctx := context.Background()
	m, err := systemd.New(ctx, systemd.Options{MaxSession: time.Hour, Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	op := operators.Operator{ID: "caf", Launch: []string{client}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := m.Start(ctx, op)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.End(ctx); err != nil {
			b.Fatal(err)
		}
		<-s.Done()
	}
}

// Maintenance's "restart the video client" stops every borne-call unit and
// nothing else.
func TestReset(t *testing.T) {
	r := newRig(t, false)
	m := r.start(t)
	if err := r.fake.AddUnit("borne-call-caf-9.service", r.client); err != nil {
		t.Fatal(err)
	}
	if err := r.fake.AddUnit("foot-server.service", r.client); err != nil {
		t.Fatal(err)
	}
	if err := m.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	dbustest.Eventually(t, 3*time.Second, "hung client still there", func() bool {
		_, ok := r.fake.Lookup("borne-call-caf-9.service")
		return !ok
	})
	if _, ok := r.fake.Lookup("foot-server.service"); !ok {
		t.Error("an unrelated unit was stopped")
	}
}

// A manager that leaves the bus under a call: the error says the manager
// is unavailable (errors.Is hw.ErrUnavailable, as while it is away) and
// still carries the bus's own answer; a client not found keeps
// exec.ErrNotFound.
func TestErrorsKeepTheirCause(t *testing.T) {
	r := newRig(t, false)
	m := r.start(t)
	r.waitState(t, true, time.Second)
	r.fake.LeaveOnNextStart()
	_, err := m.Start(context.Background(), r.op("caf"))
	if !errors.Is(err, hw.ErrUnavailable) || bus.ErrorName(err) != bus.ErrNoReply {
		t.Errorf("Start as the manager leaves: %v (D-Bus error %q)", err, bus.ErrorName(err))
	}
	r.waitState(t, false, time.Second)
	if err := r.fake.Start(); err != nil {
		t.Fatal(err)
	}

	r.opts.LookPath = func(string) (string, error) { return "", exec.ErrNotFound }
	m2 := r.start(t)
	_, err = m2.Start(context.Background(), operators.Operator{ID: "mairie", Launch: []string{"partner-client"}})
	if !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("Start of a client not found: %v", err)
	}
}
