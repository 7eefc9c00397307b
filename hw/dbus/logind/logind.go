// Package logind drives the kiosk's built-in screen through systemd-logind
// (org.freedesktop.login1 on the system bus): brightness with the
// session's SetBrightness, and an "idle" block inhibitor held during a
// call so the screen never blanks on a citizen mid-sentence.
package logind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/dbus/bus"
)

const (
	name     = "org.freedesktop.login1"
	path     = dbus.ObjectPath("/org/freedesktop/login1")
	managerI = "org.freedesktop.login1.Manager"
	sessionI = "org.freedesktop.login1.Session"
)

// Options configure the screen back-end.
type Options struct {
	// Backlight is hardware.display.backlight ("" for none: the inhibitor
	// alone is used).
	Backlight string
	// Percent maps each level to a brightness in percent.
	Percent map[hw.Level]int
	// SysRoot is where sysfs is mounted ("/sys"), for max_brightness.
	SysRoot string
	// PID is the process whose session is the kiosk's (os.Getpid()).
	PID int
	// Passive back-ends change nothing (borne doctor).
	Passive bool

	Getenv  func(string) string
	Backoff bus.Backoff
	Timeout time.Duration
	Log     *slog.Logger
	State   func(up bool, reason string)
}

// Display is the screen as logind drives it.
type Display struct {
	o    Options
	link *bus.Link

	// apply serialises level changes, from the shell and from recovery.
	apply sync.Mutex

	mu       sync.Mutex
	session  dbus.ObjectPath
	id       string
	want     hw.Level
	wantSet  bool
	applied  bool
	inhibit  *os.File
	maxCache int
}

var _ hw.Display = (*Display)(nil)
var _ hw.Doctor = (*Display)(nil)

// New starts following logind and waits, within ctx, for the first
// finding. logind being away is no error: the screen is unavailable until
// it comes.
func New(ctx context.Context, o Options) (*Display, error) {
	if o.SysRoot == "" {
		o.SysRoot = "/sys"
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	d := &Display{o: o}
	d.link = bus.NewLink(bus.LinkOptions{
		Kind:    bus.System,
		Getenv:  o.Getenv,
		Name:    name,
		Service: "logind",
		Missing: "is systemd-logind running?",
		Up:      d.up,
		Down:    d.down,
		State:   o.State,
		Backoff: o.Backoff,
		Timeout: o.Timeout,
		Log:     o.Log.With("service", "logind"),
	})
	d.link.Start()
	if err := d.link.WaitReady(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("logind: %w", err)
	}
	return d, nil
}

// Close releases the inhibitor and stops following logind.
func (d *Display) Close() error {
	err := d.link.Close()
	d.mu.Lock()
	if d.inhibit != nil {
		d.inhibit.Close()
		d.inhibit = nil
	}
	d.mu.Unlock()
	return err
}

// Status is logind's availability.
func (d *Display) Status() (up bool, reason string) { return d.link.Status() }

// up finds the kiosk's session (again: a restarted logind may number it
// anew) and puts the screen back as the shell last asked: a level set
// while logind was away, the inhibitor a restarted logind forgot.
func (d *Display) up(ctx context.Context, conn *dbus.Conn) error {
	p, id, err := findSession(ctx, conn, d.o.PID)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.session, d.id = p, id
	want, set, applied, held := d.want, d.wantSet, d.applied, d.inhibit != nil
	d.mu.Unlock()
	if d.o.Passive || !set || (applied && (want != hw.LevelCall || held)) {
		return nil
	}
	d.apply.Lock()
	defer d.apply.Unlock()
	if err := d.set(ctx, conn, p, want); err != nil {
		d.o.Log.Warn("screen level not restored", "level", want.String(), "err", err)
		return nil // logind is there; the next SetLevel tries again
	}
	d.mu.Lock()
	d.applied = d.want == want
	d.mu.Unlock()
	return nil
}

// down drops the inhibitor: its logind is gone, and the lock with it.
func (d *Display) down() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inhibit != nil {
		d.inhibit.Close()
		d.inhibit = nil
	}
	d.applied = false
	d.session, d.id = "", ""
}

// findSession asks logind for the kiosk's session: the one its process
// belongs to, or else the display session of its user ("auto"), for a
// shell started by a user unit outside the session.
func findSession(ctx context.Context, conn *dbus.Conn, pid int) (dbus.ObjectPath, string, error) {
	mgr := conn.Object(name, path)
	var p dbus.ObjectPath
	err := mgr.CallWithContext(ctx, managerI+".GetSessionByPID", 0, uint32(pid)).Store(&p)
	if err != nil {
		if bus.IsGone(err) || ctx.Err() != nil {
			return "", "", fmt.Errorf("logind did not answer GetSessionByPID: %w", bus.Away("logind", err))
		}
		if err2 := mgr.CallWithContext(ctx, managerI+".GetSession", 0, "auto").Store(&p); err2 != nil {
			return "", "", fmt.Errorf("no logind session for borne (pid %d: %v; auto: %v): run it in the kiosk user's session on the seat", pid, dbusMessage(err), dbusMessage(err2))
		}
	}
	var id dbus.Variant
	if err := conn.Object(name, p).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, sessionI, "Id").Store(&id); err != nil {
		return p, "", nil // the path is what matters
	}
	s, _ := id.Value().(string)
	return p, s, nil
}

func dbusMessage(err error) string {
	var de dbus.Error
	if errors.As(err, &de) && len(de.Body) > 0 {
		if s, ok := de.Body[0].(string); ok {
			return s
		}
	}
	return err.Error()
}

// SetLevel sets the backlight to the level's brightness and holds the
// idle inhibitor during LevelCall only. While logind is away it fails at
// once, and the level is applied when logind returns.
func (d *Display) SetLevel(ctx context.Context, l hw.Level) error {
	if d.o.Passive {
		return errors.New("this back-end only looks (borne doctor)")
	}
	d.apply.Lock()
	defer d.apply.Unlock()
	d.mu.Lock()
	d.want, d.wantSet, d.applied = l, true, false
	sess := d.session
	d.mu.Unlock()
	conn, err := d.link.Conn()
	if err != nil {
		if l != hw.LevelCall {
			d.release() // a lock to a dead logind means nothing
		}
		return fmt.Errorf("screen: %w", err)
	}
	if err := d.set(ctx, conn, sess, l); err != nil {
		return err
	}
	d.mu.Lock()
	d.applied = true
	d.mu.Unlock()
	return nil
}

func (d *Display) set(ctx context.Context, conn *dbus.Conn, sess dbus.ObjectPath, l hw.Level) error {
	var errs []error
	if d.o.Backlight != "" {
		if err := d.brightness(ctx, conn, sess, d.o.Percent[l]); err != nil {
			errs = append(errs, err)
		}
	}
	if l == hw.LevelCall {
		if err := d.hold(ctx, conn); err != nil {
			errs = append(errs, err)
		}
	} else {
		d.release()
	}
	return errors.Join(errs...)
}

func (d *Display) brightness(ctx context.Context, conn *dbus.Conn, sess dbus.ObjectPath, percent int) error {
	max, err := d.max()
	if err != nil {
		return err
	}
	v := uint32((max*percent + 50) / 100)
	if err := conn.Object(name, sess).CallWithContext(ctx, sessionI+".SetBrightness", 0, "backlight", d.o.Backlight, v).Err; err != nil {
		return fmt.Errorf("screen: SetBrightness %s %d/%d: %w", d.o.Backlight, v, max, err)
	}
	return nil
}

// max reads max_brightness once: it does not change while the kiosk runs.
func (d *Display) max() (int, error) {
	d.mu.Lock()
	m := d.maxCache
	d.mu.Unlock()
	if m > 0 {
		return m, nil
	}
	m, err := readInt(filepath.Join(d.o.SysRoot, "class", "backlight", d.o.Backlight, "max_brightness"))
	if err != nil {
		return 0, fmt.Errorf("screen: backlight %s: %w", d.o.Backlight, err)
	}
	if m <= 0 {
		return 0, fmt.Errorf("screen: backlight %s has max_brightness %d", d.o.Backlight, m)
	}
	d.mu.Lock()
	d.maxCache = m
	d.mu.Unlock()
	return m, nil
}

func readInt(p string) (int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// hold takes the idle inhibitor unless it is held. logind keeps the lock
// while the returned descriptor is open.
func (d *Display) hold(ctx context.Context, conn *dbus.Conn) error {
	d.mu.Lock()
	held := d.inhibit != nil
	d.mu.Unlock()
	if held {
		return nil
	}
	var fd dbus.UnixFD
	err := conn.Object(name, path).CallWithContext(ctx, managerI+".Inhibit", 0,
		"idle", "borne", "A video call is in progress", "block").Store(&fd)
	if err != nil {
		return fmt.Errorf("screen: Inhibit idle: %w", err)
	}
	f := os.NewFile(uintptr(fd), "logind-idle-inhibitor")
	d.mu.Lock()
	if d.inhibit != nil {
		f.Close()
	} else {
		d.inhibit = f
	}
	d.mu.Unlock()
	return nil
}

func (d *Display) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inhibit != nil {
		d.inhibit.Close()
		d.inhibit = nil
	}
}

// Inhibiting tells whether the idle inhibitor is held.
func (d *Display) Inhibiting() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inhibit != nil
}

// Doctor examines logind, the kiosk's session and the backlight.
func (d *Display) Doctor(ctx context.Context) []hw.Check {
	out := []hw.Check{d.doctorSession(ctx)}
	if d.o.Backlight != "" {
		out = append(out, d.doctorBacklight())
	}
	return out
}

func (d *Display) doctorSession(ctx context.Context) hw.Check {
	ch := hw.Check{Name: "logind", Needed: true}
	if err := d.link.WaitReady(ctx); err != nil {
		ch.Health, ch.Reason = hw.Missing, "no answer about logind: "+err.Error()
		return ch
	}
	conn, err := d.link.Conn()
	if err != nil {
		_, reason := d.link.Status()
		ch.Health, ch.Reason = hw.Missing, reason
		if strings.Contains(reason, "no logind session") {
			ch.Health = hw.Degraded
		}
		return ch
	}
	d.mu.Lock()
	sess, id := d.session, d.id
	d.mu.Unlock()
	var props map[string]dbus.Variant
	if err := conn.Object(name, sess).CallWithContext(ctx, "org.freedesktop.DBus.Properties.GetAll", 0, sessionI).Store(&props); err != nil {
		ch.Health, ch.Reason = hw.Degraded, fmt.Sprintf("session %s does not answer: %v", id, err)
		return ch
	}
	active, _ := props["Active"].Value().(bool)
	typ, _ := props["Type"].Value().(string)
	var seat string
	if v, ok := props["Seat"].Value().([]any); ok && len(v) > 0 {
		seat, _ = v[0].(string)
	}
	switch {
	case seat == "":
		ch.Health, ch.Reason = hw.Degraded, fmt.Sprintf("session %s has no seat: logind refuses SetBrightness; start borne in the seat's graphical session", id)
	case !active:
		ch.Health, ch.Reason = hw.Degraded, fmt.Sprintf("session %s is not in the foreground of %s: logind refuses SetBrightness; switch to it or check autologin", id, seat)
	default:
		ch.Health, ch.Reason = hw.OK, fmt.Sprintf("session %s (%s, %s, active)", id, seat, typ)
	}
	return ch
}

func (d *Display) doctorBacklight() hw.Check {
	ch := hw.Check{Name: "backlight", Needed: true}
	dir := filepath.Join(d.o.SysRoot, "class", "backlight")
	max, err := readInt(filepath.Join(dir, d.o.Backlight, "max_brightness"))
	if err != nil {
		ch.Health = hw.Missing
		var names []string
		if es, err := os.ReadDir(dir); err == nil {
			for _, e := range es {
				names = append(names, e.Name())
			}
		}
		if len(names) == 0 {
			ch.Reason = fmt.Sprintf("no %s, and no backlight at all under %s: for an external monitor set hardware.display.backlight to \"\"",
				d.o.Backlight, dir)
		} else {
			ch.Reason = fmt.Sprintf("no %s under %s: set hardware.display.backlight to one of [%s], or to \"\" for an external monitor",
				d.o.Backlight, dir, strings.Join(names, " "))
		}
		return ch
	}
	now, _ := readInt(filepath.Join(dir, d.o.Backlight, "brightness"))
	ch.Health, ch.Reason = hw.OK, fmt.Sprintf("%s: brightness %d of %d", d.o.Backlight, now, max)
	return ch
}
