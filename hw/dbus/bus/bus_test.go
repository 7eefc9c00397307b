package bus_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/dbus/bus"
	"github.com/loiret/borne/hw/dbustest"
)

func TestAddress(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		kind bus.Kind
		env  map[string]string
		want string
		err  bool
	}{
		{bus.System, nil, "unix:path=/run/dbus/system_bus_socket", false},
		{bus.System, map[string]string{"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/x"}, "unix:path=/x", false},
		{bus.Session, map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/s"}, "unix:path=/s", false},
		{bus.Session, map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000/"}, "unix:path=/run/user/1000/bus", false},
		{bus.Session, map[string]string{"DBUS_SESSION_BUS_ADDRESS": "autolaunch:", "XDG_RUNTIME_DIR": "/run/user/7"}, "unix:path=/run/user/7/bus", false},
		{bus.Session, nil, "", true},
	} {
		got, err := bus.Address(c.kind, env(c.env))
		if got != c.want || (err != nil) != c.err {
			t.Errorf("Address(%v, %v) = %q, %v", c.kind, c.env, got, err)
		}
	}
}

type states chan [2]string

func (s states) wait(t *testing.T, up bool, within time.Duration) string {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case st := <-s:
			if (st[0] == "up") == up {
				return st[1]
			}
		case <-timeout:
			t.Fatalf("no up=%v within %v", up, within)
		}
	}
}

func link(t *testing.T, env *dbustest.Env, o bus.LinkOptions) (*bus.Link, states) {
	t.Helper()
	st := make(states, 32)
	o.Kind, o.Getenv = bus.Session, env.Getenv
	o.State = func(up bool, reason string) {
		s := "down"
		if up {
			s = "up"
		}
		st <- [2]string{s, reason}
	}
	o.Backoff = bus.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	o.Timeout = time.Second
	l := bus.NewLink(o)
	l.Start()
	t.Cleanup(func() { l.Close() })
	return l, st
}

// own takes a name on the bus, as a service starting.
func own(t *testing.T, b *dbustest.Bus, name string) *dbus.Conn {
	t.Helper()
	c, err := b.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if r, err := c.RequestName(name, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName: %v %v", r, err)
	}
	return c
}

// No bus at start: reported, retried, and up once bus and service come.
func TestNoBusThenBus(t *testing.T) {
	env := dbustest.New(t)
	env.Session.Kill()
	l, st := link(t, env, bus.LinkOptions{Name: "org.example.Svc", Service: "the example"})
	if r := st.wait(t, false, time.Second); !strings.Contains(r, "cannot reach the session bus") {
		t.Errorf("reason %q", r)
	}
	_, err := l.Conn()
	var u *bus.Unavailable
	if !errors.As(err, &u) || !errors.Is(err, hw.ErrUnavailable) {
		t.Errorf("Conn without a bus: %v", err)
	}
	if err := env.Session.Start(); err != nil {
		t.Fatal(err)
	}
	// Reports of the attempts before the bus came may still be queued.
	timeout := time.After(2 * time.Second)
	for r := ""; !strings.Contains(r, "org.example.Svc is not on the session bus"); {
		select {
		case s := <-st:
			r = s[1]
		case <-timeout:
			t.Fatal("the missing service not reported once the bus is back")
		}
	}
	own(t, env.Session, "org.example.Svc")
	st.wait(t, true, time.Second)
	if _, err := l.Conn(); err != nil {
		t.Errorf("Conn: %v", err)
	}
}

// A failing Up keeps the service down with its error, and is retried.
func TestUpRetried(t *testing.T) {
	env := dbustest.New(t)
	own(t, env.Session, "org.example.Svc")
	var tries atomic.Int32
	_, st := link(t, env, bus.LinkOptions{Name: "org.example.Svc", Up: func(ctx context.Context, c *dbus.Conn) error {
		if tries.Add(1) < 3 {
			return errors.New("not ready yet")
		}
		return nil
	}})
	if r := st.wait(t, false, time.Second); r != "not ready yet" {
		t.Errorf("reason %q", r)
	}
	st.wait(t, true, time.Second)
	if n := tries.Load(); n != 3 {
		t.Errorf("Up tried %d times", n)
	}
}

// Only the owner's signals get through, in order, while it is up.
func TestSignalsFromOwnerOnly(t *testing.T) {
	env := dbustest.New(t)
	owner := own(t, env.Session, "org.example.Svc")
	got := make(chan string, 16)
	_, st := link(t, env, bus.LinkOptions{
		Name:    "org.example.Svc",
		Matches: [][]dbus.MatchOption{{dbus.WithMatchInterface("org.example.Svc"), dbus.WithMatchMember("Ping")}},
		Signal:  func(s *dbus.Signal) { got <- s.Body[0].(string) },
	})
	st.wait(t, true, time.Second)
	impostor, err := env.Session.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer impostor.Close()
	impostor.Emit("/", "org.example.Svc.Ping", "impostor")
	for i := 0; i < 3; i++ {
		owner.Emit("/", "org.example.Svc.Ping", string(rune('a'+i)))
	}
	var seq string
	for len(seq) < 3 {
		select {
		case s := <-got:
			seq += s
		case <-time.After(time.Second):
			t.Fatalf("signals so far %q", seq)
		}
	}
	if seq != "abc" {
		t.Errorf("signals %q", seq)
	}
}

// Closing a link never started, or twice, returns.
func TestCloseUnstarted(t *testing.T) {
	l := bus.NewLink(bus.LinkOptions{Name: "org.example.Svc"})
	l.Close()
	l.Close()
	select {
	case <-l.Ready():
	default:
		t.Error("Ready not closed by Close")
	}
}

func TestIsGone(t *testing.T) {
	if !bus.IsGone(dbus.Error{Name: bus.ErrServiceUnknown}) || !bus.IsGone(&bus.Unavailable{}) || !bus.IsGone(dbus.ErrClosed) {
		t.Error("gone errors not recognised")
	}
	if bus.IsGone(dbus.Error{Name: "org.freedesktop.login1.NoSuchSession"}) || bus.IsGone(nil) {
		t.Error("refusals taken for absence")
	}
}

// Away marks the errors that say the service went away, and only those,
// keeping the call's own error.
func TestAway(t *testing.T) {
	gone := dbus.Error{Name: bus.ErrServiceUnknown, Body: []any{"The name is not activatable"}}
	err := bus.Away("logind", gone)
	var u *bus.Unavailable
	if !errors.As(err, &u) || !errors.Is(err, hw.ErrUnavailable) || bus.ErrorName(err) != bus.ErrServiceUnknown || u.Service != "logind" {
		t.Errorf("a service gone: %v", err)
	}
	if again := bus.Away("logind", err); again != err {
		t.Errorf("marked twice: %v", again)
	}
	refused := dbus.Error{Name: "org.freedesktop.DBus.Error.AccessDenied", Body: []any{"no"}}
	if err := bus.Away("logind", refused); errors.Is(err, hw.ErrUnavailable) {
		t.Errorf("a refusal is not an absence: %v", err)
	}
	if err := bus.Away("logind", nil); err != nil {
		t.Errorf("no error: %v", err)
	}
}
