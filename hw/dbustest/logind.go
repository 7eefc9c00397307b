package dbustest

import (
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
)

// logind's names, as on the box.
const (
	LogindName        = "org.freedesktop.login1"
	LogindPath        = dbus.ObjectPath("/org/freedesktop/login1")
	LoginManager      = "org.freedesktop.login1.Manager"
	LoginSessionIface = "org.freedesktop.login1.Session"
	sessionPrefix     = "/org/freedesktop/login1/session/"
	sessionRoot       = dbus.ObjectPath("/org/freedesktop/login1/session")
)

// Logind is a fake systemd-logind with one seat and its sessions. It
// checks SetBrightness as logind does (subsystem, a known device, the
// session in the foreground of its seat) and hands out real inhibitor
// pipes, noticing when the holder closes its end.
type Logind struct {
	*service

	mu         sync.Mutex
	sessions   map[string]*LoginSession
	pids       map[uint32]string
	auto       string
	devices    map[string]uint32 // "backlight/intel_backlight" → max_brightness
	brightness map[string]uint32
	inhibitors []*Inhibitor
}

// LoginSession is one of the fake's sessions.
type LoginSession struct {
	ID     string
	User   string
	UID    uint32
	Seat   string
	Active bool
	Type   string // "wayland", "tty"…
}

// Inhibitor is one lock taken through Inhibit.
type Inhibitor struct {
	What, Who, Why, Mode string
	Sender               string
	released             chan struct{}
}

// Released tells whether every copy of the inhibitor's descriptor was
// closed (the lock is gone).
func (i *Inhibitor) Released() bool {
	select {
	case <-i.released:
		return true
	default:
		return false
	}
}

// Done is closed when the lock is released.
func (i *Inhibitor) Done() <-chan struct{} { return i.released }

// NewLogind starts a fake logind on bus (the system bus on a real kiosk)
// with session "2" of user "kiosk" active on seat0, a backlight
// "intel_backlight" with max_brightness 1000, and the test process in
// that session.
func NewLogind(t testing.TB, bus *Bus) *Logind {
	t.Helper()
	l := &Logind{
		service:    newService(t, bus, LogindName, "Inhibit"),
		sessions:   map[string]*LoginSession{},
		pids:       map[uint32]string{},
		devices:    map[string]uint32{"backlight/intel_backlight": 1000},
		brightness: map[string]uint32{},
	}
	l.setup = l.export
	l.AddSession(LoginSession{ID: "2", User: "kiosk", UID: uint32(os.Getuid()), Seat: "seat0", Active: true, Type: "wayland"})
	l.SetPID(uint32(os.Getpid()), "2")
	l.SetAuto("2")
	t.Cleanup(l.closeInhibitors)
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	return l
}

// Start brings logind (back) onto the bus. A restarted logind has lost
// its inhibitors, as the real one does.
func (l *Logind) Start() error {
	l.closeInhibitors()
	return l.start()
}

func (l *Logind) closeInhibitors() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, in := range l.inhibitors {
		if !in.Released() {
			close(in.released)
		}
	}
	l.inhibitors = nil
}

// AddSession adds (or replaces) a session.
func (l *Logind) AddSession(s LoginSession) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := s
	l.sessions[s.ID] = &c
}

// SetActive puts a session in or out of its seat's foreground.
func (l *Logind) SetActive(id string, active bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.sessions[id]; s != nil {
		s.Active = active
	}
}

// SetPID places a process in a session ("" takes it out of any).
func (l *Logind) SetPID(pid uint32, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id == "" {
		delete(l.pids, pid)
		return
	}
	l.pids[pid] = id
}

// SetAuto sets the session GetSession("auto") finds ("" for none).
func (l *Logind) SetAuto(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.auto = id
}

// AddDevice declares a brightness device ("backlight", "acpi_video0").
func (l *Logind) AddDevice(subsystem, name string, max uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.devices[subsystem+"/"+name] = max
}

// Brightness is the value last set on a device, and whether one was.
func (l *Logind) Brightness(subsystem, name string) (uint32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.brightness[subsystem+"/"+name]
	return v, ok
}

// Inhibitors is every lock taken since the fake (re)started.
func (l *Logind) Inhibitors() []*Inhibitor {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.inhibitors)
}

// Held counts the locks still held.
func (l *Logind) Held() int {
	n := 0
	for _, in := range l.Inhibitors() {
		if !in.Released() {
			n++
		}
	}
	return n
}

// SessionPath is a session's object path: systemd's bus escaping of its
// id ("2" → "_32").
func SessionPath(id string) dbus.ObjectPath {
	p := string(UnitPath(id))
	return dbus.ObjectPath(sessionPrefix + p[strings.LastIndex(p, "/")+1:])
}

const logindXML = `<node>
 <interface name="org.freedesktop.login1.Manager">
  <method name="GetSession"><arg type="s" direction="in"/><arg type="o" direction="out"/></method>
  <method name="GetSessionByPID"><arg type="u" direction="in"/><arg type="o" direction="out"/></method>
  <method name="ListSessions"><arg type="a(susso)" direction="out"/></method>
  <method name="Inhibit"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="h" direction="out"/></method>
  <method name="ListInhibitors"><arg type="a(ssssuu)" direction="out"/></method>
 </interface>` + introspect.IntrospectDeclarationString + `</node>`

const loginSessionXML = `<node>
 <interface name="org.freedesktop.login1.Session">
  <method name="SetBrightness"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="u" direction="in"/></method>
  <method name="SetIdleHint"><arg type="b" direction="in"/></method>
  <property name="Id" type="s" access="read"/>
  <property name="Active" type="b" access="read"/>
  <property name="Seat" type="(so)" access="read"/>
  <property name="State" type="s" access="read"/>
  <property name="Type" type="s" access="read"/>
  <property name="Name" type="s" access="read"/>
 </interface>` + introspect.IntrospectDeclarationString + `</node>`

func (l *Logind) export(conn *dbus.Conn) error {
	if err := conn.Export(loginManager{l}, LogindPath, LoginManager); err != nil {
		return err
	}
	if err := conn.Export(introspect.Introspectable(logindXML), LogindPath, "org.freedesktop.DBus.Introspectable"); err != nil {
		return err
	}
	// Sessions are found by path: one handler for the whole subtree.
	if err := conn.ExportSubtree(loginSessionObj{l}, sessionRoot, LoginSessionIface); err != nil {
		return err
	}
	if err := conn.ExportSubtree(sessionProps{l}, sessionRoot, propsIface); err != nil {
		return err
	}
	return conn.ExportSubtree(introspect.Introspectable(loginSessionXML), sessionRoot, "org.freedesktop.DBus.Introspectable")
}

func (l *Logind) sessionAt(p dbus.ObjectPath) *LoginSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, s := range l.sessions {
		if SessionPath(id) == p {
			c := *s
			return &c
		}
	}
	return nil
}

type loginManager struct{ l *Logind }

func (m loginManager) callerPID(sender dbus.Sender) uint32 {
	conn := m.l.current()
	if conn == nil {
		return 0
	}
	var pid uint32
	conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, string(sender)).Store(&pid)
	return pid
}

func (m loginManager) GetSession(msg dbus.Message, sender dbus.Sender, id string) (dbus.ObjectPath, *dbus.Error) {
	l := m.l
	l.record(msg, id)
	switch id {
	case "auto", "self", "":
		pid := m.callerPID(sender)
		l.mu.Lock()
		found, ok := l.pids[pid]
		if !ok && id == "auto" {
			found, ok = l.auto, l.auto != ""
		}
		l.mu.Unlock()
		if !ok {
			return "", dbusErr("org.freedesktop.login1.NoSessionForPID", "Caller does not belong to any known session and doesn't own any suitable session.")
		}
		id = found
	}
	l.mu.Lock()
	_, ok := l.sessions[id]
	l.mu.Unlock()
	if !ok {
		return "", dbusErr("org.freedesktop.login1.NoSuchSession", "No session '%s' known", id)
	}
	return SessionPath(id), nil
}

func (m loginManager) GetSessionByPID(msg dbus.Message, sender dbus.Sender, pid uint32) (dbus.ObjectPath, *dbus.Error) {
	l := m.l
	l.record(msg, pid)
	if pid == 0 {
		pid = m.callerPID(sender)
	}
	l.mu.Lock()
	id, ok := l.pids[pid]
	l.mu.Unlock()
	if !ok {
		return "", dbusErr("org.freedesktop.login1.NoSessionForPID", "PID %d does not belong to any known session", pid)
	}
	return SessionPath(id), nil
}

type sessionEntry struct {
	ID   string
	UID  uint32
	User string
	Seat string
	Path dbus.ObjectPath
}

func (m loginManager) ListSessions(msg dbus.Message) ([]sessionEntry, *dbus.Error) {
	l := m.l
	l.record(msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []sessionEntry{}
	for _, s := range l.sessions {
		out = append(out, sessionEntry{s.ID, s.UID, s.User, s.Seat, SessionPath(s.ID)})
	}
	slices.SortFunc(out, func(a, b sessionEntry) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

var inhibitWhat = []string{"shutdown", "sleep", "idle", "handle-power-key", "handle-suspend-key", "handle-hibernate-key", "handle-lid-switch", "handle-reboot-key"}

func (m loginManager) Inhibit(msg dbus.Message, sender dbus.Sender, what, who, why, mode string) *dbus.Error {
	l := m.l
	l.record(msg, what, who, why, mode)
	for _, w := range strings.Split(what, ":") {
		if !slices.Contains(inhibitWhat, w) {
			return invalidArgs("Invalid what specification %s", what)
		}
	}
	if mode != "block" && mode != "delay" {
		return invalidArgs("Unknown mode %s", mode)
	}
	if mode == "delay" && what != "sleep" && what != "shutdown" {
		return invalidArgs("Delay inhibitors only supported for shutdown and sleep")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return dbusErr("org.freedesktop.DBus.Error.Failed", "pipe: %v", err)
	}
	in := &Inhibitor{What: what, Who: who, Why: why, Mode: mode, Sender: string(sender), released: make(chan struct{})}
	l.mu.Lock()
	l.inhibitors = append(l.inhibitors, in)
	l.mu.Unlock()
	// The lock lasts until every copy of the write end is closed: the
	// read end then sees end of file.
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
		r.Close()
		l.mu.Lock()
		if !in.Released() {
			close(in.released)
		}
		l.mu.Unlock()
	}()
	l.reply(msg, dbus.UnixFD(w.Fd()))
	w.Close() // sent: only the caller's copy is left
	return nil
}

type inhibitorEntry struct {
	What, Who, Why, Mode string
	UID, PID             uint32
}

func (m loginManager) ListInhibitors(msg dbus.Message) ([]inhibitorEntry, *dbus.Error) {
	l := m.l
	l.record(msg)
	out := []inhibitorEntry{}
	for _, in := range l.Inhibitors() {
		if !in.Released() {
			out = append(out, inhibitorEntry{in.What, in.Who, in.Why, in.Mode, uint32(os.Getuid()), uint32(os.Getpid())})
		}
	}
	return out, nil
}

type loginSessionObj struct{ l *Logind }

func (o loginSessionObj) SetBrightness(msg dbus.Message, sender dbus.Sender, subsystem, name string, value uint32) *dbus.Error {
	l := o.l
	l.record(msg, subsystem, name, value)
	p, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	s := l.sessionAt(p)
	if s == nil {
		return dbusErr("org.freedesktop.DBus.Error.UnknownObject", "Unknown object '%s'.", p)
	}
	if subsystem != "backlight" && subsystem != "leds" {
		return invalidArgs("Subsystem type %s not supported, refusing.", subsystem)
	}
	if name == "" || strings.Contains(name, "/") {
		return invalidArgs("Not a valid device name %s, refusing.", name)
	}
	if s.Seat == "" {
		return dbusErr("org.freedesktop.login1.NotYourDevice", "Your session has no seat, refusing.")
	}
	if !s.Active {
		return dbusErr("org.freedesktop.login1.NotInControl", "Session is not in foreground, refusing.")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	max, ok := l.devices[subsystem+"/"+name]
	if !ok {
		return dbusErr("System.Error.ENODEV", "Failed to open device %s:%s: No such device", subsystem, name)
	}
	if value > max {
		return dbusErr("System.Error.EINVAL", "Failed to write brightness: Invalid argument")
	}
	l.brightness[subsystem+"/"+name] = value
	return nil
}

func (o loginSessionObj) SetIdleHint(msg dbus.Message, idle bool) *dbus.Error {
	o.l.record(msg, idle)
	return nil
}

type sessionProps struct{ l *Logind }

type seatRef struct {
	ID   string
	Path dbus.ObjectPath
}

func (p sessionProps) all(msg dbus.Message, iface string) (map[string]dbus.Variant, *dbus.Error) {
	path, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	s := p.l.sessionAt(path)
	if s == nil {
		return nil, dbusErr("org.freedesktop.DBus.Error.UnknownObject", "Unknown object '%s'.", path)
	}
	if iface != LoginSessionIface {
		return nil, dbusErr("org.freedesktop.DBus.Error.UnknownInterface", "Unknown interface %s.", iface)
	}
	state := "online"
	if s.Active {
		state = "active"
	}
	seat := seatRef{ID: s.Seat, Path: "/"}
	if s.Seat != "" {
		seat.Path = dbus.ObjectPath("/org/freedesktop/login1/seat/" + s.Seat)
	}
	return map[string]dbus.Variant{
		"Id":     dbus.MakeVariant(s.ID),
		"Name":   dbus.MakeVariant(s.User),
		"Active": dbus.MakeVariant(s.Active),
		"State":  dbus.MakeVariant(state),
		"Type":   dbus.MakeVariant(s.Type),
		"Seat":   dbus.MakeVariant(seat),
	}, nil
}

func (p sessionProps) Get(msg dbus.Message, iface, name string) (dbus.Variant, *dbus.Error) {
	all, err := p.all(msg, iface)
	if err != nil {
		return dbus.Variant{}, err
	}
	v, ok := all[name]
	if !ok {
		return dbus.Variant{}, dbusErr("org.freedesktop.DBus.Error.UnknownProperty", "Unknown property %s.", name)
	}
	return v, nil
}

func (p sessionProps) GetAll(msg dbus.Message, iface string) (map[string]dbus.Variant, *dbus.Error) {
	return p.all(msg, iface)
}

func (p sessionProps) Set(iface, name string, v dbus.Variant) *dbus.Error {
	return dbusErr("org.freedesktop.DBus.Error.PropertyReadOnly", "Property %s is read-only.", name)
}
