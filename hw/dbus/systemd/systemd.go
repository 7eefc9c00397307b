// Package systemd runs the kiosk's video sessions as transient services
// of the kiosk user's systemd manager (org.freedesktop.systemd1 on the
// session bus): the operator's launch command starts with the graphical
// environment passed explicitly, is followed through its job and its
// ActiveState, is ended with StopUnit (then KillUnit if it lingers), and
// is ended by systemd itself once it outlives max_session.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/dbus/bus"
	"github.com/loiret/borne/operators"
)

const (
	name        = "org.freedesktop.systemd1"
	path        = dbus.ObjectPath("/org/freedesktop/systemd1")
	managerI    = "org.freedesktop.systemd1.Manager"
	unitI       = "org.freedesktop.systemd1.Unit"
	serviceI    = "org.freedesktop.systemd1.Service"
	unitPrefix  = "/org/freedesktop/systemd1/unit/"
	unitPattern = "borne-call-*.service"

	// service names the manager in errors and states.
	service = "the systemd user manager"

	errNoSuchUnit        = "org.freedesktop.systemd1.NoSuchUnit"
	errUnitExists        = "org.freedesktop.systemd1.UnitExists"
	errAlreadySubscribed = "org.freedesktop.systemd1.AlreadySubscribed"
)

// Options configure the sessions back-end.
type Options struct {
	// MaxSession is kiosk.max_session. systemd ends a unit that outlives
	// MaxSession+Slack (RuntimeMaxUSec): the shell ends the call itself
	// at MaxSession, and systemd only steps in when the shell could not.
	MaxSession time.Duration
	Slack      time.Duration
	// Environment is hardware.session.environment: the names of the
	// variables passed to the video client, when set in LookupEnv.
	Environment []string
	LookupEnv   func(string) (string, bool)  // nil: os.LookupEnv
	LookPath    func(string) (string, error) // nil: exec.LookPath
	Getenv      func(string) string          // bus addresses; nil: os.Getenv

	// StopGrace is how long a stopped client has to exit before
	// KillUnit(all, SIGKILL); KillGrace how long after that before the
	// session is given up as ended.
	StopGrace time.Duration
	KillGrace time.Duration

	// Passive back-ends stop nothing (borne doctor, beside a running
	// kiosk).
	Passive bool

	Backoff bus.Backoff
	Timeout time.Duration // of housekeeping calls; zero: 5s
	Log     *slog.Logger
	// State receives the service's availability as it changes.
	State func(up bool, reason string)
}

// ErrMaxSession is in the end of a session that systemd ended because it
// outlived max_session.
var ErrMaxSession = hw.ErrSessionTimeout

// Manager starts and follows video sessions.
type Manager struct {
	o    Options
	link *bus.Link

	mu       sync.Mutex
	conn     *sd.Conn // for the current bus connection
	sessions map[string]*Session
	seq      int
	timers   map[*time.Timer]bool
	closed   bool
	bg       sync.WaitGroup // stops of units whose start was given up
}

var _ hw.Sessions = (*Manager)(nil)
var _ hw.Doctor = (*Manager)(nil)

// New starts following the systemd user manager. It waits, within ctx,
// for the first finding and the stop of any borne-call unit left over
// from a previous run; a manager that is not there is no error: the
// sessions are unavailable until it comes.
func New(ctx context.Context, o Options) (*Manager, error) {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 5 * time.Second
	}
	if o.KillGrace <= 0 {
		o.KillGrace = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{o: o, sessions: map[string]*Session{}, timers: map[*time.Timer]bool{}}
	m.link = bus.NewLink(bus.LinkOptions{
		Kind:    bus.Session,
		Getenv:  o.Getenv,
		Name:    name,
		Service: service,
		Missing: "is systemd --user running for the kiosk user, and DBUS_SESSION_BUS_ADDRESS its bus?",
		Matches: [][]dbus.MatchOption{
			{dbus.WithMatchInterface(managerI), dbus.WithMatchMember("JobRemoved")},
			{dbus.WithMatchInterface("org.freedesktop.DBus.Properties"), dbus.WithMatchMember("PropertiesChanged"),
				dbus.WithMatchPathNamespace(dbus.ObjectPath(strings.TrimSuffix(unitPrefix, "/")))},
		},
		Connected:    m.connected,
		Disconnected: m.disconnected,
		Up:           m.up,
		Signal:       m.signal,
		State:        o.State,
		Backoff:      o.Backoff,
		Timeout:      o.Timeout,
		Log:          o.Log.With("service", "systemd"),
	})
	m.link.Start()
	if err := m.link.WaitReady(ctx); err != nil {
		m.Close()
		return nil, fmt.Errorf("systemd user manager: %w", err)
	}
	return m, nil
}

// Close stops following the manager. Running sessions are left to
// systemd (and to RuntimeMaxUSec); a new shell stops them at start-up.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	for t := range m.timers {
		t.Stop()
	}
	m.timers = map[*time.Timer]bool{}
	m.mu.Unlock()
	err := m.link.Close()
	m.bg.Wait()
	return err
}

// Status is the manager's availability.
func (m *Manager) Status() (up bool, reason string) { return m.link.Status() }

// connected makes the go-systemd connection of a new bus connection: the
// link's own connection for calls, and a second one go-systemd wants for
// its signals.
func (m *Manager) connected(conn *dbus.Conn) error {
	first := true
	c, err := sd.NewConnection(func() (*dbus.Conn, error) {
		if first {
			first = false
			return conn, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return m.link.Dial(ctx)
	})
	if err != nil {
		return fmt.Errorf("cannot open a second connection to the session bus: %w", err)
	}
	m.mu.Lock()
	m.conn = c
	m.mu.Unlock()
	return nil
}

func (m *Manager) disconnected() {
	m.mu.Lock()
	c := m.conn
	m.conn = nil
	m.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// sd is the go-systemd connection while the manager is up.
func (m *Manager) sd() (*sd.Conn, error) {
	if _, err := m.link.Conn(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn == nil {
		return nil, &bus.Unavailable{Service: service, Reason: "not connected"}
	}
	return m.conn, nil
}

// Reset stops every borne-call unit the user manager runs, as a leftover
// is stopped at start-up: a client that hangs is gone, and the next call
// starts a fresh one.
func (m *Manager) Reset(ctx context.Context) error {
	c, err := m.sd()
	if err != nil {
		return err
	}
	units, err := c.ListUnitsByPatternsContext(ctx, nil, []string{unitPattern})
	if err != nil {
		return fmt.Errorf("the systemd user manager cannot list units: %w", bus.Away(service, err))
	}
	for _, u := range units {
		switch u.ActiveState {
		case "inactive":
		case "failed":
			if err := c.ResetFailedUnitContext(ctx, u.Name); err != nil {
				return fmt.Errorf("video client %s not cleared: %w", u.Name, bus.Away(service, err))
			}
		default:
			if _, err := c.StopUnitContext(ctx, u.Name, "replace", nil); err != nil {
				return fmt.Errorf("video client %s not stopped: %w", u.Name, bus.Away(service, err))
			}
			m.killLater(u.Name)
		}
	}
	return nil
}

// up runs each time the manager is (again) on the bus: subscribe, so it
// sends JobRemoved and PropertiesChanged; take stock of the borne-call
// units it runs.
func (m *Manager) up(ctx context.Context, conn *dbus.Conn) error {
	err := conn.Object(name, path).CallWithContext(ctx, managerI+".Subscribe", 0).Err
	if err != nil && bus.ErrorName(err) != errAlreadySubscribed {
		return fmt.Errorf("the systemd user manager refused Subscribe: %w", err)
	}
	m.mu.Lock()
	c := m.conn
	m.mu.Unlock()
	if c == nil {
		return errors.New("no connection to the systemd user manager")
	}
	units, err := c.ListUnitsByPatternsContext(ctx, nil, []string{unitPattern})
	if err != nil {
		return fmt.Errorf("the systemd user manager cannot list units: %w", err)
	}
	m.reconcile(ctx, c, units)
	return nil
}

// reconcile ends the sessions whose unit vanished while the manager or the
// bus was away, and stops units no session owns: a shell that crashed
// left them, or a call ended while the manager could not be told.
func (m *Manager) reconcile(ctx context.Context, c *sd.Conn, units []sd.UnitStatus) {
	running := map[string]sd.UnitStatus{}
	for _, u := range units {
		running[u.Name] = u
	}
	m.mu.Lock()
	var lost []*Session
	for n, s := range m.sessions {
		u, ok := running[n]
		if !ok || u.ActiveState == "inactive" || u.ActiveState == "failed" {
			if s.startedOK() {
				lost = append(lost, s)
			}
		}
		delete(running, n)
	}
	m.mu.Unlock()
	for _, s := range lost {
		s.finish(fmt.Errorf("the video client %s is gone: it ended while the systemd user manager could not be followed", s.unit))
	}
	if m.o.Passive {
		return
	}
	for n, u := range running {
		if u.ActiveState == "failed" {
			if err := c.ResetFailedUnitContext(ctx, n); err != nil {
				m.o.Log.Warn("leftover video session not cleared", "unit", n, "err", err)
			}
			continue
		}
		if u.ActiveState == "inactive" {
			continue
		}
		m.o.Log.Warn("stopping a leftover video session", "unit", n, "state", u.ActiveState)
		if _, err := c.StopUnitContext(ctx, n, "replace", nil); err != nil {
			m.o.Log.Warn("leftover video session not stopped", "unit", n, "err", err)
			continue
		}
		m.killLater(n)
	}
}

// killLater kills a stopped leftover unit that has not gone after
// StopGrace.
func (m *Manager) killLater(unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(m.o.StopGrace, func() {
		m.mu.Lock()
		delete(m.timers, t)
		m.mu.Unlock()
		c, err := m.sd()
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := c.ListUnitsByNamesContext(ctx, []string{unit})
		if err != nil || len(st) == 0 || st[0].LoadState != "loaded" || st[0].ActiveState == "inactive" || st[0].ActiveState == "failed" {
			return
		}
		m.o.Log.Warn("killing a leftover video session", "unit", unit)
		c.KillUnitWithTarget(ctx, unit, sd.All, int32(syscall.SIGKILL))
	})
	m.timers[t] = true
}

// signal routes the manager's signals to the sessions they concern; it
// runs on the link's goroutine, in bus order.
func (m *Manager) signal(sig *dbus.Signal) {
	switch sig.Name {
	case managerI + ".JobRemoved":
		var id uint32
		var job dbus.ObjectPath
		var unit, result string
		if dbus.Store(sig.Body, &id, &job, &unit, &result) != nil {
			return
		}
		if s := m.session(unit); s != nil {
			s.jobRemoved(job, result)
		}
	case "org.freedesktop.DBus.Properties.PropertiesChanged":
		var iface string
		var changed map[string]dbus.Variant
		var invalidated []string
		if dbus.Store(sig.Body, &iface, &changed, &invalidated) != nil {
			return
		}
		if s := m.session(unitName(sig.Path)); s != nil {
			s.changed(iface, changed)
		}
	}
}

func (m *Manager) session(unit string) *Session {
	if unit == "" {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[unit]
}

func (m *Manager) forget(s *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions[s.unit] == s {
		delete(m.sessions, s.unit)
	}
}

// unitName is the unit a unit object path stands for: systemd's bus
// escaping undone.
func unitName(p dbus.ObjectPath) string {
	s, ok := strings.CutPrefix(string(p), unitPrefix)
	if !ok || strings.Contains(s, "/") {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && i+2 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+3], "%02x", &c); err == nil {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// command is the operator's launch command with an absolute path, as
// systemd requires.
func (m *Manager) command(op operators.Operator) ([]string, error) {
	if len(op.Launch) == 0 {
		return nil, fmt.Errorf("operator %s has no video client to launch", op.ID)
	}
	p := op.Launch[0]
	if !filepath.IsAbs(p) {
		abs, err := m.o.LookPath(p)
		if err != nil {
			return nil, fmt.Errorf("operator %s: video client %q not found on this kiosk: %w", op.ID, p, err)
		}
		if p, err = filepath.Abs(abs); err != nil {
			return nil, err
		}
	}
	return append([]string{p}, op.Launch[1:]...), nil
}

func (m *Manager) environment() []string {
	env := []string{}
	for _, k := range m.o.Environment {
		if v, ok := m.o.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// properties are the transient service's: Type=exec so a client that
// cannot be run fails the start job; CollectMode so the unit goes away
// even when it failed, and the next call finds no leftover.
func (m *Manager) properties(op operators.Operator, argv []string) []sd.Property {
	props := []sd.Property{
		sd.PropDescription("borne video session with " + op.ID),
		sd.PropType("exec"),
		sd.PropExecStart(argv, false),
		{Name: "Environment", Value: dbus.MakeVariant(m.environment())},
	}
	if m.o.MaxSession > 0 {
		max := m.o.MaxSession + m.o.Slack
		props = append(props, sd.Property{Name: "RuntimeMaxUSec", Value: dbus.MakeVariant(uint64(max.Microseconds()))})
	}
	return append(props, sd.Property{Name: "CollectMode", Value: dbus.MakeVariant("inactive-or-failed")})
}

// Start runs the operator's video client and returns once systemd says
// its start job is done and the unit is active.
func (m *Manager) Start(ctx context.Context, op operators.Operator) (hw.Session, error) {
	if m.o.Passive {
		return nil, errors.New("this back-end only looks (borne doctor)")
	}
	argv, err := m.command(op)
	if err != nil {
		return nil, err
	}
	c, err := m.sd()
	if err != nil {
		return nil, fmt.Errorf("video session: %w", err)
	}
	props := m.properties(op, argv)
	for attempt := 0; ; attempt++ {
		m.mu.Lock()
		m.seq++
		s := newSession(m, fmt.Sprintf("borne-call-%s-%d.service", op.ID, m.seq))
		// Known before the call: its signals may come before the reply.
		m.sessions[s.unit] = s
		m.mu.Unlock()
		_, err := c.StartTransientUnitContext(ctx, s.unit, "fail", props, nil)
		if err != nil {
			m.forget(s)
			if bus.ErrorName(err) == errUnitExists && attempt < 5 {
				continue // a unit of an earlier shell still has this name
			}
			return nil, fmt.Errorf("video session: StartTransientUnit %s: %w", s.unit, bus.Away(service, err))
		}
		return s.waitStarted(ctx, c)
	}
}

// Doctor examines the user manager.
func (m *Manager) Doctor(ctx context.Context) []hw.Check {
	ch := hw.Check{Name: "systemd", Needed: true}
	if err := m.link.WaitReady(ctx); err != nil {
		ch.Health, ch.Reason = hw.Missing, "no answer about the systemd user manager: "+err.Error()
		return []hw.Check{ch}
	}
	conn, err := m.link.Conn()
	if err != nil {
		_, reason := m.link.Status()
		ch.Health, ch.Reason = hw.Missing, reason
		return []hw.Check{ch}
	}
	var v dbus.Variant
	if err := conn.Object(name, path).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, managerI, "Version").Store(&v); err != nil {
		ch.Health, ch.Reason = hw.Degraded, "the systemd user manager does not answer: "+err.Error()
		return []hw.Check{ch}
	}
	version, _ := v.Value().(string)
	ch.Health, ch.Reason = hw.OK, "user manager, systemd "+version
	if c, err := m.sd(); err == nil {
		if units, err := c.ListUnitsByPatternsContext(ctx, []string{"active", "activating", "deactivating"}, []string{unitPattern}); err == nil && len(units) > 0 {
			ch.Reason += fmt.Sprintf(", %d video session(s) running (%s)", len(units), units[0].Name)
		}
	}
	return []hw.Check{ch}
}
