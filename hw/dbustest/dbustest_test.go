package dbustest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
)

func connect(t *testing.T, b *Bus) *dbus.Conn {
	t.Helper()
	c, err := b.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPaths(t *testing.T) {
	if p := UnitPath("borne-call-caf-1.service"); p != "/org/freedesktop/systemd1/unit/borne_2dcall_2dcaf_2d1_2eservice" {
		t.Errorf("UnitPath = %s", p)
	}
	if p := SessionPath("2"); p != "/org/freedesktop/login1/session/_32" {
		t.Errorf("SessionPath = %s", p)
	}
	if p := SessionPath("c1"); p != "/org/freedesktop/login1/session/c1" {
		t.Errorf("SessionPath = %s", p)
	}
}

// The daemon can die and come back at the same address; connections to
// the dead one see it.
func TestBusRestart(t *testing.T) {
	b := StartBus(t, "session")
	c := connect(t, b)
	b.Kill()
	select {
	case <-c.Context().Done():
	case <-time.After(time.Second):
		t.Fatal("connection outlived its bus")
	}
	if _, err := b.Dial(); err == nil {
		t.Error("dialled a dead bus")
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	c2 := connect(t, b)
	var names []string
	if err := c2.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
		t.Fatal(err)
	}
}

func TestIntrospection(t *testing.T) {
	env := New(t)
	NewSystemd(t, env.Session)
	NewLogind(t, env.System)
	c := connect(t, env.Session)
	node, err := introspect.Call(c.Object(SystemdName, SystemdPath))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, i := range node.Interfaces {
		for _, m := range i.Methods {
			if i.Name == ManagerIface && m.Name == "StartTransientUnit" {
				var sig string
				for _, a := range m.Args {
					if a.Direction == "in" {
						sig += a.Type
					}
				}
				found = sig == "ssa(sv)a(sa(sv))"
			}
		}
	}
	if !found {
		t.Errorf("StartTransientUnit(ssa(sv)a(sa(sv))) not in %+v", node.Interfaces)
	}
}

type exec1 struct {
	Path   string
	Argv   []string
	Ignore bool
}

type prop1 struct {
	Name  string
	Value dbus.Variant
}

func start(c *dbus.Conn, name, path string) (dbus.ObjectPath, error) {
	props := []prop1{
		{"Type", dbus.MakeVariant("exec")},
		{"ExecStart", dbus.MakeVariant([]exec1{{path, []string{path}, false}})},
		{"CollectMode", dbus.MakeVariant("inactive-or-failed")},
	}
	var job dbus.ObjectPath
	err := c.Object(SystemdName, SystemdPath).Call(ManagerIface+".StartTransientUnit", 0, name, "fail", props, []struct {
		Name  string
		Props []prop1
	}{}).Store(&job)
	return job, err
}

// Signals flow only to subscribed clients' bus, and a unit's state comes
// before its job's end, as systemd sends them.
func TestSystemdSignals(t *testing.T) {
	env := New(t)
	fake := NewSystemd(t, env.Session)
	client := ClientScript(t, false)
	c := connect(t, env.Session)
	sigs := make(chan *dbus.Signal, 64)
	c.Signal(sigs)
	if err := c.AddMatchSignal(dbus.WithMatchSender(SystemdName)); err != nil {
		t.Fatal(err)
	}
	if _, err := start(c, "quiet.service", client); err != nil {
		t.Fatal(err)
	}
	// Its start job runs on after the call returns, as systemd's does: a
	// client subscribing meanwhile would rightly hear the rest of it.
	Eventually(t, 5*time.Second, "quiet.service running", func() bool {
		u, ok := fake.Lookup("quiet.service")
		return ok && u.ActiveState == "active"
	})
	if err := c.Object(SystemdName, SystemdPath).Call(ManagerIface+".Subscribe", 0).Err; err != nil {
		t.Fatal(err)
	}
	err := c.Object(SystemdName, SystemdPath).Call(ManagerIface+".Subscribe", 0).Err
	if e, ok := err.(dbus.Error); !ok || e.Name != "org.freedesktop.systemd1.AlreadySubscribed" {
		t.Errorf("second Subscribe: %v", err)
	}
	job, err := start(c, "loud.service", client)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	timeout := time.After(5 * time.Second)
	for done := false; !done; {
		select {
		case s := <-sigs:
			if strings.Contains(string(s.Path), "quiet") || (len(s.Body) > 2 && s.Body[2] == "quiet.service") {
				t.Fatalf("signal of a unit started before any subscription: %v", s)
			}
			switch s.Name {
			case "org.freedesktop.DBus.NameAcquired", "org.freedesktop.DBus.NameLost":
				// The bus itself tells every connection its names, whatever it matched.
			case "org.freedesktop.DBus.Properties.PropertiesChanged":
				if s.Body[0] == UnitIface {
					order = append(order, s.Body[1].(map[string]dbus.Variant)["ActiveState"].Value().(string))
				}
			case ManagerIface + ".JobRemoved":
				if s.Body[1] != job || s.Body[3] != "done" {
					t.Errorf("JobRemoved %v", s.Body)
				}
				order = append(order, "JobRemoved")
				done = true
			default:
				order = append(order, strings.TrimPrefix(s.Name, ManagerIface+"."))
			}
		case <-timeout:
			t.Fatalf("signals so far %v", order)
		}
	}
	if got := strings.Join(order, " "); got != "UnitNew JobNew activating active JobRemoved" {
		t.Errorf("signals %s", got)
	}
	if u, ok := fake.Lookup("loud.service"); !ok || u.ActiveState != "active" {
		t.Errorf("unit %+v", u)
	}
}

func TestSystemdErrors(t *testing.T) {
	env := New(t)
	NewSystemd(t, env.Session)
	c := connect(t, env.Session)
	client := ClientScript(t, false)
	name := func(err error) string {
		if e, ok := err.(dbus.Error); ok {
			return e.Name
		}
		return ""
	}
	if _, err := start(c, "rel.service", "visio"); name(err) != "org.freedesktop.DBus.Error.InvalidArgs" {
		t.Errorf("relative ExecStart: %v", err)
	}
	if _, err := start(c, "a.service", client); err != nil {
		t.Fatal(err)
	}
	if _, err := start(c, "a.service", client); name(err) != "org.freedesktop.systemd1.UnitExists" {
		t.Errorf("same name twice: %v", err)
	}
	err := c.Object(SystemdName, SystemdPath).Call(ManagerIface+".StopUnit", 0, "none.service", "replace").Err
	if name(err) != "org.freedesktop.systemd1.NoSuchUnit" {
		t.Errorf("StopUnit of nothing: %v", err)
	}
	props := []prop1{{"Bogus", dbus.MakeVariant("x")}}
	err = c.Object(SystemdName, SystemdPath).Call(ManagerIface+".StartTransientUnit", 0, "b.service", "fail", props, []struct {
		Name  string
		Props []prop1
	}{}).Err
	if name(err) != "org.freedesktop.DBus.Error.PropertyReadOnly" {
		t.Errorf("unknown property: %v", err)
	}
}

// The inhibitor is a real descriptor: the lock ends when it is closed.
func TestLogindInhibitor(t *testing.T) {
	env := New(t)
	fake := NewLogind(t, env.System)
	c := connect(t, env.System)
	mgr := c.Object(LogindName, LogindPath)
	var fd dbus.UnixFD
	if err := mgr.Call(LoginManager+".Inhibit", 0, "idle", "test", "testing", "block").Store(&fd); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "inhibit")
	if fake.Held() != 1 {
		t.Fatalf("%d held", fake.Held())
	}
	f.Close()
	select {
	case <-fake.Inhibitors()[0].Done():
	case <-time.After(time.Second):
		t.Fatal("lock not released when its descriptor closed")
	}
	if err := mgr.Call(LoginManager+".Inhibit", 0, "idle", "test", "testing", "later").Err; err == nil {
		t.Error("mode later accepted")
	}
	var p dbus.ObjectPath
	if err := mgr.Call(LoginManager+".GetSessionByPID", 0, uint32(1)).Store(&p); err == nil {
		t.Error("PID 1 has a session")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.Object(LogindName, SessionPath("2")).CallWithContext(ctx, LoginSessionIface+".SetBrightness", 0, "backlight", "nope", uint32(1)).Err; err == nil {
		t.Error("unknown backlight accepted")
	}
}
