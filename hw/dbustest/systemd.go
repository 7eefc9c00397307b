package dbustest

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
)

// The systemd manager's names, as on the box.
const (
	SystemdName   = "org.freedesktop.systemd1"
	SystemdPath   = dbus.ObjectPath("/org/freedesktop/systemd1")
	ManagerIface  = "org.freedesktop.systemd1.Manager"
	UnitIface     = "org.freedesktop.systemd1.Unit"
	ServiceIface  = "org.freedesktop.systemd1.Service"
	propsIface    = "org.freedesktop.DBus.Properties"
	propsChanged  = propsIface + ".PropertiesChanged"
	errNoSuchUnit = "org.freedesktop.systemd1.NoSuchUnit"
)

// Systemd is a fake systemd user manager. It runs the commands of the
// transient services it is asked to start, as real processes, and follows
// them as systemd does: jobs, ActiveState and SubState, Result, exit
// status, RuntimeMaxUSec, StopUnit's SIGTERM and KillUnit's signals,
// CollectMode. It emits JobNew, JobRemoved, UnitNew, UnitRemoved and
// PropertiesChanged, only while a client is subscribed, and sends a
// unit's pending changes before the JobRemoved of its job, as systemd
// does.
type Systemd struct {
	*service
	// StopTimeout is how long a stopping unit's processes have after
	// SIGTERM before SIGKILL (TimeoutStopSec, 90 s on a real box), and
	// Version the Manager's Version property: set them before any call.
	StopTimeout time.Duration
	Version     string

	mu         sync.Mutex
	units      map[string]*Unit
	jobs       uint32
	subs       map[string]bool
	startDelay time.Duration
	leave      bool // leave the bus at the next StartTransientUnit
}

// LeaveOnNextStart makes the manager leave the bus on the next
// StartTransientUnit without answering it, as a manager that crashes
// under a call: the caller gets the bus's NoReply.
func (s *Systemd) LeaveOnNextStart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leave = true
}

// SetStartDelay holds each start job this long before the command runs,
// as a slow ExecStartPre would.
func (s *Systemd) SetStartDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startDelay = d
}

// Unit is a unit as the fake holds it.
type Unit struct {
	Name      string
	Path      dbus.ObjectPath
	Transient TransientUnit

	ActiveState, SubState, Result string
	MainPID                       uint32
	ExecMainCode, ExecMainStatus  int32

	cmd       *exec.Cmd
	exited    chan struct{}
	runtime   *time.Timer
	killAfter *time.Timer
	stopJob   *job
	timedOut  bool
	starting  bool // start job pending
	canceled  bool // stopped while starting
}

type job struct {
	id   uint32
	path dbus.ObjectPath
	unit string
}

// TransientUnit is a StartTransientUnit request, decoded.
type TransientUnit struct {
	Name, Mode  string
	Properties  []Property // as sent, in order
	Description string
	Type        string
	CollectMode string
	ExecStart   []ExecCommand
	Environment []string
	// RuntimeMaxUSec is 0 when not set.
	RuntimeMaxUSec uint64
}

// Property is one property of a transient unit, with its D-Bus signature.
type Property struct {
	Name      string
	Signature string
	Value     any
}

// ExecCommand is one entry of ExecStart (a(sasb)).
type ExecCommand struct {
	Path          string
	Argv          []string
	IgnoreFailure bool
}

// NewSystemd starts a fake systemd user manager on bus (the session bus
// on a real kiosk).
func NewSystemd(t testing.TB, bus *Bus) *Systemd {
	t.Helper()
	s := &Systemd{
		service:     newService(t, bus, SystemdName, "StartTransientUnit", "StopUnit"),
		StopTimeout: 90 * time.Second,
		Version:     "252.38-1~deb12u1",
		units:       map[string]*Unit{},
		subs:        map[string]bool{},
	}
	s.setup = s.export
	t.Cleanup(s.killAll)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Start brings the manager (back) onto the bus. Units live on, as
// processes do when systemd is re-executed; subscriptions are lost.
func (s *Systemd) Start() error {
	s.mu.Lock()
	s.subs = map[string]bool{}
	s.mu.Unlock()
	return s.start()
}

const systemdXML = `<node>
 <interface name="org.freedesktop.systemd1.Manager">
  <method name="StartTransientUnit"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="a(sv)" direction="in"/><arg type="a(sa(sv))" direction="in"/><arg type="o" direction="out"/></method>
  <method name="StopUnit"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="o" direction="out"/></method>
  <method name="KillUnit"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="i" direction="in"/></method>
  <method name="ResetFailedUnit"><arg type="s" direction="in"/></method>
  <method name="GetUnit"><arg type="s" direction="in"/><arg type="o" direction="out"/></method>
  <method name="ListUnits"><arg type="a(ssssssouso)" direction="out"/></method>
  <method name="ListUnitsByPatterns"><arg type="as" direction="in"/><arg type="as" direction="in"/><arg type="a(ssssssouso)" direction="out"/></method>
  <method name="ListUnitsByNames"><arg type="as" direction="in"/><arg type="a(ssssssouso)" direction="out"/></method>
  <method name="Subscribe"></method>
  <method name="Unsubscribe"></method>
  <property name="Version" type="s" access="read"/>
  <signal name="UnitNew"><arg type="s"/><arg type="o"/></signal>
  <signal name="UnitRemoved"><arg type="s"/><arg type="o"/></signal>
  <signal name="JobNew"><arg type="u"/><arg type="o"/><arg type="s"/></signal>
  <signal name="JobRemoved"><arg type="u"/><arg type="o"/><arg type="s"/><arg type="s"/></signal>
 </interface>` + introspect.IntrospectDeclarationString + `</node>`

func (s *Systemd) export(conn *dbus.Conn) error {
	if err := conn.Export(manager{s}, SystemdPath, ManagerIface); err != nil {
		return err
	}
	props := propsHandler{get: func(iface string) (map[string]dbus.Variant, bool) {
		if iface != ManagerIface {
			return nil, false
		}
		return map[string]dbus.Variant{"Version": dbus.MakeVariant(s.Version)}, true
	}}
	if err := conn.Export(props, SystemdPath, propsIface); err != nil {
		return err
	}
	if err := conn.Export(introspect.Introspectable(systemdXML), SystemdPath, "org.freedesktop.DBus.Introspectable"); err != nil {
		return err
	}
	// Units survive a restart of the manager: export them again.
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.units {
		if err := s.exportUnit(conn, u); err != nil {
			return err
		}
	}
	// Subscriptions end with their client, as sd_bus_track does.
	if err := conn.AddMatchSignal(dbus.WithMatchSender("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged")); err != nil {
		return err
	}
	ch := make(chan *dbus.Signal, 64)
	conn.Signal(ch)
	go func() {
		for sig := range ch {
			var name, old, now string
			if dbus.Store(sig.Body, &name, &old, &now) == nil && now == "" {
				s.mu.Lock()
				delete(s.subs, name)
				s.mu.Unlock()
			}
		}
	}()
	return nil
}

func (s *Systemd) exportUnit(conn *dbus.Conn, u *Unit) error {
	props := propsHandler{get: func(iface string) (map[string]dbus.Variant, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch iface {
		case UnitIface:
			return u.unitProps(), true
		case ServiceIface:
			return u.serviceProps(), true
		}
		return nil, false
	}}
	return conn.Export(props, u.Path, propsIface)
}

func (u *Unit) unitProps() map[string]dbus.Variant {
	return map[string]dbus.Variant{
		"Id":          dbus.MakeVariant(u.Name),
		"Description": dbus.MakeVariant(u.Transient.Description),
		"LoadState":   dbus.MakeVariant("loaded"),
		"ActiveState": dbus.MakeVariant(u.ActiveState),
		"SubState":    dbus.MakeVariant(u.SubState),
	}
}

func (u *Unit) serviceProps() map[string]dbus.Variant {
	return map[string]dbus.Variant{
		"Result":         dbus.MakeVariant(u.Result),
		"MainPID":        dbus.MakeVariant(u.MainPID),
		"ExecMainCode":   dbus.MakeVariant(u.ExecMainCode),
		"ExecMainStatus": dbus.MakeVariant(u.ExecMainStatus),
		"RuntimeMaxUSec": dbus.MakeVariant(u.Transient.RuntimeMaxUSec),
	}
}

// UnitPath is the object path of a unit: systemd's bus escaping.
func UnitPath(name string) dbus.ObjectPath {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum && !(i == 0 && c >= '0' && c <= '9') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	return dbus.ObjectPath(string(SystemdPath) + "/unit/" + b.String())
}

// Units is a snapshot of the loaded units.
func (s *Systemd) Units() []Unit {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Unit
	for _, u := range s.units {
		c := *u
		c.cmd, c.exited, c.runtime, c.killAfter, c.stopJob = nil, nil, nil, nil, nil
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Unit) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Lookup is a snapshot of one loaded unit.
func (s *Systemd) Lookup(name string) (Unit, bool) {
	for _, u := range s.Units() {
		if u.Name == name {
			return u, true
		}
	}
	return Unit{}, false
}

// Subscribers counts the clients subscribed to signals.
func (s *Systemd) Subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// Exit makes the client of a running unit end by itself, as when the
// adviser hangs up: for a ClientScript, with status 0 when status is 0 and
// 3 otherwise. It returns false when the unit has no process.
func (s *Systemd) Exit(name string, status int) bool {
	s.mu.Lock()
	u := s.units[name]
	var pid int
	var dir string
	if u != nil && u.cmd != nil && u.cmd.Process != nil {
		pid, dir = u.cmd.Process.Pid, filepath.Dir(u.Transient.ExecStart[0].Path)
	}
	s.mu.Unlock()
	if pid == 0 {
		return false
	}
	// A signal before the script set its traps would kill it instead:
	// wait for the mark it leaves beside itself once they are set.
	mark := filepath.Join(dir, fmt.Sprintf("ready-%d", pid))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(mark); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	os.Remove(mark)
	sig := syscall.SIGUSR1
	if status != 0 {
		sig = syscall.SIGUSR2
	}
	return syscall.Kill(pid, sig) == nil
}

// ClientScript is a video client for tests: it runs until stopped, exits
// 0 on SIGUSR1 (Exit with status 0) and 3 on SIGUSR2 (any other status).
// With ignoreTerm it ignores SIGTERM, as a hung client does.
func ClientScript(t testing.TB, ignoreTerm bool) string {
	t.Helper()
	term := ""
	if ignoreTerm {
		term = "trap '' TERM\n"
	}
	body := "#!/bin/sh\n" + term + "trap 'exit 0' USR1\ntrap 'exit 3' USR2\n" +
		": > \"$(dirname \"$0\")/ready-$$\"\n" +
		"while :; do sleep 0.05; done\n"
	p := filepath.Join(t.TempDir(), "client")
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	// A client started just before the test ends can still be writing
	// its ready file when the folder is removed: cleanups run last in,
	// first out, so this one runs before the folder's removal.
	t.Cleanup(func() { killScript(p) })
	return p
}

// killScript kills every process running the script at p and waits
// until none can write any more.
func killScript(p string) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		pids := scriptPIDs(p)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scriptPIDs lists the live (not zombie) processes whose command line
// names p.
func scriptPIDs(p string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !slices.Contains(strings.Split(string(cmdline), "\x00"), p) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join(dir, "stat")); err == nil && zombie(stat) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// zombie reads the state field of /proc/PID/stat, after the command's
// closing parenthesis.
func zombie(stat []byte) bool {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// AddUnit loads and starts a unit as if a previous run had left it, with
// command argv (argv[0] absolute).
func (s *Systemd) AddUnit(name string, argv ...string) error {
	tu := TransientUnit{Name: name, Mode: "fail", Type: "exec", CollectMode: "inactive-or-failed",
		ExecStart: []ExecCommand{{Path: argv[0], Argv: argv}}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.units[name]; ok {
		return fmt.Errorf("unit %s exists", name)
	}
	u := &Unit{Name: name, Path: UnitPath(name), Transient: tu, ActiveState: "inactive", SubState: "dead"}
	s.units[name] = u
	if conn := s.current(); conn != nil {
		if err := s.exportUnit(conn, u); err != nil {
			return err
		}
	}
	if err := s.spawn(u); err != nil {
		delete(s.units, name)
		return err
	}
	u.ActiveState, u.SubState = "active", "running"
	return nil
}

func (s *Systemd) killAll() {
	s.mu.Lock()
	var waits []chan struct{}
	for _, u := range s.units {
		if u.cmd != nil && u.cmd.Process != nil {
			syscall.Kill(-u.cmd.Process.Pid, syscall.SIGKILL)
			waits = append(waits, u.exited)
		}
	}
	s.mu.Unlock()
	for _, w := range waits {
		<-w
	}
}

// emitLocked sends a signal to subscribers; systemd keeps quiet when
// nobody subscribed.
func (s *Systemd) emitLocked(p dbus.ObjectPath, name string, args ...any) {
	if len(s.subs) == 0 {
		return
	}
	s.emit(p, name, args...)
}

// changedLocked sends a unit's new state: the service interface first,
// then the unit's, as systemd does.
func (s *Systemd) changedLocked(u *Unit) {
	s.emitLocked(u.Path, propsChanged, ServiceIface, u.serviceProps(), []string{})
	s.emitLocked(u.Path, propsChanged, UnitIface, u.unitProps(), []string{})
}

func (s *Systemd) newJobLocked(unit string) *job {
	s.jobs++
	return &job{id: s.jobs, path: dbus.ObjectPath(fmt.Sprintf("%s/job/%d", SystemdPath, s.jobs)), unit: unit}
}

func (s *Systemd) jobRemovedLocked(j *job, result string) {
	s.emitLocked(SystemdPath, ManagerIface+".JobRemoved", j.id, j.path, j.unit, result)
}

// unloadLocked drops a unit that ended, as CollectMode says.
func (s *Systemd) unloadLocked(u *Unit) {
	mode := u.Transient.CollectMode
	if u.ActiveState == "failed" && mode != "inactive-or-failed" {
		return
	}
	delete(s.units, u.Name)
	if conn := s.current(); conn != nil {
		conn.Export(nil, u.Path, propsIface)
	}
	s.emitLocked(SystemdPath, ManagerIface+".UnitRemoved", u.Name, u.Path)
}

// spawn starts the unit's command in its own process group (its cgroup,
// for the fake).
func (s *Systemd) spawn(u *Unit) error {
	ex := u.Transient.ExecStart[0]
	cmd := exec.Command(ex.Path)
	cmd.Args = ex.Argv
	cmd.Env = u.Transient.Environment
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	u.cmd, u.exited, u.MainPID = cmd, make(chan struct{}), uint32(cmd.Process.Pid)
	go s.wait(u, cmd)
	return nil
}

func (s *Systemd) wait(u *Unit, cmd *exec.Cmd) {
	cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(u.exited)
	u.cmd, u.MainPID = nil, 0
	for _, t := range []*time.Timer{u.runtime, u.killAfter} {
		if t != nil {
			t.Stop()
		}
	}
	clean := false
	switch {
	case ws.Exited():
		u.ExecMainCode, u.ExecMainStatus = 1, int32(ws.ExitStatus()) // CLD_EXITED
		clean = ws.ExitStatus() == 0
	case ws.Signaled():
		u.ExecMainCode, u.ExecMainStatus = 2, int32(ws.Signal()) // CLD_KILLED
		if ws.CoreDump() {
			u.ExecMainCode = 3 // CLD_DUMPED
		}
		// Signals systemd counts as a clean exit of a service.
		switch ws.Signal() {
		case syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE:
			clean = true
		}
	}
	switch {
	case u.timedOut:
		u.Result = "timeout"
	case clean:
		u.Result = "success"
	case ws.Signaled() && ws.CoreDump():
		u.Result = "core-dump"
	case ws.Signaled():
		u.Result = "signal"
	default:
		u.Result = "exit-code"
	}
	if u.Result == "success" {
		u.ActiveState, u.SubState = "inactive", "dead"
	} else {
		u.ActiveState, u.SubState = "failed", "failed"
	}
	s.changedLocked(u)
	if j := u.stopJob; j != nil {
		u.stopJob = nil
		s.jobRemovedLocked(j, "done")
	}
	if s.units[u.Name] == u {
		s.unloadLocked(u)
	}
}

// stopLocked sends SIGTERM to the unit's processes, then SIGKILL after
// StopTimeout.
func (s *Systemd) stopLocked(u *Unit) {
	u.ActiveState, u.SubState = "deactivating", "stop-sigterm"
	s.changedLocked(u)
	if u.cmd == nil {
		return
	}
	pid := u.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM)
	syscall.Kill(-pid, syscall.SIGCONT)
	if u.killAfter == nil {
		u.killAfter = time.AfterFunc(s.StopTimeout, func() {
			syscall.Kill(-pid, syscall.SIGKILL)
		})
	}
}

type manager struct{ s *Systemd }

type dbusProp struct {
	Name  string
	Value dbus.Variant
}

type auxUnit struct {
	Name  string
	Props []dbusProp
}

func (m manager) StartTransientUnit(msg dbus.Message, name, mode string, props []dbusProp, aux []auxUnit) *dbus.Error {
	s := m.s
	raw := make([]Property, len(props))
	for i, p := range props {
		raw[i] = Property{Name: p.Name, Signature: p.Value.Signature().String(), Value: p.Value.Value()}
	}
	s.record(msg, name, mode, raw, aux)
	s.mu.Lock()
	leave := s.leave
	s.leave = false
	s.mu.Unlock()
	if leave {
		go s.Stop()
		return nil // no reply: the call is answered by the bus
	}
	tu, derr := decodeTransient(name, mode, raw)
	if derr != nil {
		return derr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.units[name]; ok {
		return dbusErr("org.freedesktop.systemd1.UnitExists", "Unit %s was already loaded or has a fragment file.", name)
	}
	u := &Unit{Name: name, Path: UnitPath(name), Transient: tu, ActiveState: "inactive", SubState: "dead"}
	s.units[name] = u
	if conn := s.current(); conn != nil {
		s.exportUnit(conn, u)
	}
	j := s.newJobLocked(name)
	s.reply(msg, j.path)
	s.emitLocked(SystemdPath, ManagerIface+".UnitNew", name, u.Path)
	s.emitLocked(SystemdPath, ManagerIface+".JobNew", j.id, j.path, name)
	go s.runStart(u, j)
	return nil
}

// runStart runs the start job after its path went back to the caller.
func (s *Systemd) runStart(u *Unit, j *job) {
	s.mu.Lock()
	u.ActiveState, u.SubState, u.starting = "activating", "start", true
	s.changedLocked(u)
	delay := s.startDelay
	s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u.starting = false
	if u.canceled {
		u.ActiveState, u.SubState = "inactive", "dead"
		s.changedLocked(u)
		s.jobRemovedLocked(j, "canceled")
		if s.units[u.Name] == u {
			s.unloadLocked(u)
		}
		return
	}
	err := s.spawn(u)
	if err != nil {
		// 203/EXEC: what systemd reports when the command cannot be run.
		u.ExecMainCode, u.ExecMainStatus, u.Result = 1, 203, "exit-code"
		u.ActiveState, u.SubState = "failed", "failed"
		s.changedLocked(u)
		result := "failed"
		if u.Transient.Type != "exec" {
			result = "done" // Type=simple: the job ends at fork
		}
		s.jobRemovedLocked(j, result)
		s.unloadLocked(u)
		return
	}
	u.ActiveState, u.SubState = "active", "running"
	if d := u.Transient.RuntimeMaxUSec; d > 0 {
		u.runtime = time.AfterFunc(time.Duration(d)*time.Microsecond, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if u.cmd != nil {
				u.timedOut = true
				s.stopLocked(u)
			}
		})
	}
	s.changedLocked(u)
	s.jobRemovedLocked(j, "done")
}

var knownProps = map[string]string{
	"Description": "s", "Type": "s", "CollectMode": "s", "ExecStart": "a(sasb)", "Environment": "as",
	"RuntimeMaxUSec": "t", "KillMode": "s", "SendSIGHUP": "b", "TimeoutStopUSec": "t", "Slice": "s",
	"WorkingDirectory": "s", "Restart": "s", "RemainAfterExit": "b",
}

func decodeTransient(name, mode string, props []Property) (TransientUnit, *dbus.Error) {
	tu := TransientUnit{Name: name, Mode: mode, Properties: props}
	if !slices.Contains([]string{"replace", "fail", "isolate", "ignore-dependencies", "ignore-requirements"}, mode) {
		return tu, invalidArgs("Job mode %s invalid.", mode)
	}
	if !strings.HasSuffix(name, ".service") {
		return tu, invalidArgs("Unit %s is not a service: this fake runs services only.", name)
	}
	for _, p := range props {
		sig, ok := knownProps[p.Name]
		if !ok {
			return tu, dbusErr("org.freedesktop.DBus.Error.PropertyReadOnly", "Cannot set property %s, or unknown property.", p.Name)
		}
		if p.Signature != sig {
			return tu, invalidArgs("Invalid type %s for property %s, expected %s.", p.Signature, p.Name, sig)
		}
		switch p.Name {
		case "Description":
			tu.Description = p.Value.(string)
		case "Type":
			tu.Type = p.Value.(string)
			if !slices.Contains([]string{"simple", "exec", "forking", "oneshot", "dbus", "notify", "idle"}, tu.Type) {
				return tu, invalidArgs("Invalid service type %s", tu.Type)
			}
		case "CollectMode":
			tu.CollectMode = p.Value.(string)
			if tu.CollectMode != "inactive" && tu.CollectMode != "inactive-or-failed" {
				return tu, invalidArgs("Invalid collect mode: %s", tu.CollectMode)
			}
		case "Environment":
			tu.Environment = p.Value.([]string)
			for _, e := range tu.Environment {
				if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
					return tu, invalidArgs("Invalid environment assignment: %s", e)
				}
			}
		case "RuntimeMaxUSec":
			tu.RuntimeMaxUSec = p.Value.(uint64)
		case "ExecStart":
			var execs []struct {
				Path   string
				Argv   []string
				Ignore bool
			}
			if err := dbus.Store([]any{p.Value}, &execs); err != nil {
				return tu, invalidArgs("Invalid ExecStart: %v", err)
			}
			for _, e := range execs {
				if !path.IsAbs(e.Path) {
					return tu, invalidArgs("Path %s is not absolute.", e.Path)
				}
				if len(e.Argv) == 0 {
					return tu, invalidArgs("Invalid argv[] for %s.", e.Path)
				}
				tu.ExecStart = append(tu.ExecStart, ExecCommand{Path: e.Path, Argv: e.Argv, IgnoreFailure: e.Ignore})
			}
		}
	}
	if len(tu.ExecStart) == 0 {
		return tu, invalidArgs("Service has no ExecStart= setting, which is only allowed for RemainAfterExit=yes services.")
	}
	return tu, nil
}

func (m manager) StopUnit(msg dbus.Message, name, mode string) *dbus.Error {
	s := m.s
	s.record(msg, name, mode)
	if mode == "isolate" {
		return invalidArgs("Job mode %s invalid.", mode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[name]
	if !ok {
		return dbusErr(errNoSuchUnit, "Unit %s not loaded.", name)
	}
	j := s.newJobLocked(name)
	s.reply(msg, j.path)
	s.emitLocked(SystemdPath, ManagerIface+".JobNew", j.id, j.path, name)
	if u.cmd == nil {
		u.canceled = u.starting
		s.jobRemovedLocked(j, "done")
		return nil
	}
	if u.stopJob != nil {
		s.jobRemovedLocked(u.stopJob, "canceled") // replaced
	}
	u.stopJob = j
	s.stopLocked(u)
	return nil
}

func (m manager) KillUnit(msg dbus.Message, name, whom string, signal int32) *dbus.Error {
	s := m.s
	s.record(msg, name, whom, signal)
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[name]
	if !ok {
		return dbusErr(errNoSuchUnit, "Unit %s not loaded.", name)
	}
	if u.cmd == nil {
		return dbusErr("org.freedesktop.systemd1.NoSuchProcess", "No matching processes to kill")
	}
	pid := u.cmd.Process.Pid
	switch whom {
	case "all", "":
		pid = -pid
	case "main":
	default:
		return invalidArgs("Invalid who argument %s", whom)
	}
	if err := syscall.Kill(pid, syscall.Signal(signal)); err != nil {
		return dbusErr("org.freedesktop.DBus.Error.Failed", "kill: %v", err)
	}
	return nil
}

func (m manager) ResetFailedUnit(msg dbus.Message, name string) *dbus.Error {
	s := m.s
	s.record(msg, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[name]
	if !ok {
		return dbusErr(errNoSuchUnit, "Unit %s not loaded.", name)
	}
	if u.ActiveState == "failed" {
		u.ActiveState, u.SubState, u.Result = "inactive", "dead", "success"
		s.changedLocked(u)
		delete(s.units, name)
		if conn := s.current(); conn != nil {
			conn.Export(nil, u.Path, propsIface)
		}
		s.emitLocked(SystemdPath, ManagerIface+".UnitRemoved", u.Name, u.Path)
	}
	return nil
}

func (m manager) GetUnit(msg dbus.Message, name string) (dbus.ObjectPath, *dbus.Error) {
	s := m.s
	s.record(msg, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[name]
	if !ok {
		return "", dbusErr(errNoSuchUnit, "Unit %s not loaded.", name)
	}
	return u.Path, nil
}

// unitStatus is one entry of ListUnits: a(ssssssouso).
type unitStatus struct {
	Name, Description, LoadState, ActiveState, SubState, Followed string
	Path                                                          dbus.ObjectPath
	JobID                                                         uint32
	JobType                                                       string
	JobPath                                                       dbus.ObjectPath
}

func (s *Systemd) listLocked(keep func(u *Unit) bool) []unitStatus {
	out := []unitStatus{}
	for _, u := range s.units {
		if keep(u) {
			out = append(out, unitStatus{u.Name, u.Transient.Description, "loaded", u.ActiveState, u.SubState, "", u.Path, 0, "", "/"})
		}
	}
	slices.SortFunc(out, func(a, b unitStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (m manager) ListUnits(msg dbus.Message) ([]unitStatus, *dbus.Error) {
	m.s.record(msg)
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	return m.s.listLocked(func(*Unit) bool { return true }), nil
}

func (m manager) ListUnitsByPatterns(msg dbus.Message, states, patterns []string) ([]unitStatus, *dbus.Error) {
	m.s.record(msg, states, patterns)
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	return m.s.listLocked(func(u *Unit) bool {
		if len(states) > 0 && !slices.Contains(states, u.ActiveState) && !slices.Contains(states, u.SubState) {
			return false
		}
		if len(patterns) == 0 {
			return true
		}
		for _, p := range patterns {
			if ok, _ := path.Match(p, u.Name); ok {
				return true
			}
		}
		return false
	}), nil
}

func (m manager) ListUnitsByNames(msg dbus.Message, names []string) ([]unitStatus, *dbus.Error) {
	m.s.record(msg, names)
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	out := []unitStatus{}
	for _, n := range names {
		if u, ok := m.s.units[n]; ok {
			out = append(out, m.s.listLocked(func(x *Unit) bool { return x == u })...)
		} else {
			out = append(out, unitStatus{n, "", "not-found", "inactive", "dead", "", UnitPath(n), 0, "", "/"})
		}
	}
	return out, nil
}

func (m manager) Subscribe(msg dbus.Message, sender dbus.Sender) *dbus.Error {
	m.s.record(msg)
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.s.subs[string(sender)] {
		return dbusErr("org.freedesktop.systemd1.AlreadySubscribed", "Client is already subscribed.")
	}
	m.s.subs[string(sender)] = true
	return nil
}

func (m manager) Unsubscribe(msg dbus.Message, sender dbus.Sender) *dbus.Error {
	m.s.record(msg)
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if !m.s.subs[string(sender)] {
		return dbusErr("org.freedesktop.systemd1.NotSubscribed", "Client is not subscribed.")
	}
	delete(m.s.subs, string(sender))
	return nil
}
