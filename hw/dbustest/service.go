package dbustest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Call is one method call a fake received, as the bus delivered it.
type Call struct {
	Member string // "SetBrightness"
	Path   dbus.ObjectPath
	Sender string
	Args   []any
	At     time.Time
}

// service is what every fake shares: a connection owning a well-known
// name, the record of calls, and replies sent by hand for the methods
// whose real service acts after answering (a job runs after its path is
// returned; an inhibitor's pipe is closed after it is sent).
type service struct {
	t      testing.TB
	bus    *Bus
	name   string
	manual map[string]bool // members answered by reply()
	setup  func(conn *dbus.Conn) error

	startMu sync.Mutex
	mu      sync.Mutex
	conn    *dbus.Conn
	calls   []Call
	replies map[string]bool // sender/serial of manual calls wanting a reply
}

func newService(t testing.TB, bus *Bus, name string, manual ...string) *service {
	s := &service{t: t, bus: bus, name: name, manual: map[string]bool{}, replies: map[string]bool{}}
	for _, m := range manual {
		s.manual[m] = true
	}
	t.Cleanup(s.Stop)
	return s
}

func replyKey(sender string, serial uint32) string { return fmt.Sprintf("%s/%d", sender, serial) }

// start connects, exports the service and takes its name.
func (s *service) start() error {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.current() != nil {
		return fmt.Errorf("%s already running", s.name)
	}
	intercept := func(msg *dbus.Message) {
		if msg.Type != dbus.TypeMethodCall {
			return
		}
		member, _ := msg.Headers[dbus.FieldMember].Value().(string)
		if !s.manual[member] {
			return
		}
		sender, _ := msg.Headers[dbus.FieldSender].Value().(string)
		s.mu.Lock()
		s.replies[replyKey(sender, msg.Serial())] = msg.Flags&dbus.FlagNoReplyExpected == 0
		s.mu.Unlock()
		// godbus answers after the method returns; these methods answer
		// themselves, earlier, so the automatic reply is turned off.
		msg.Flags |= dbus.FlagNoReplyExpected
	}
	conn, err := dial(s.bus.Addr, dbus.WithIncomingInterceptor(intercept))
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	if err := s.setup(conn); err != nil {
		conn.Close()
		return fmt.Errorf("%s: %w", s.name, err)
	}
	// Set before the name is taken: the first caller may be quick.
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	reply, err := conn.RequestName(s.name, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		s.Stop()
		return fmt.Errorf("%s: name not acquired (%v, %v)", s.name, reply, err)
	}
	return nil
}

// Stop closes the service's connection, as when its process dies: the
// name leaves the bus. Its state is kept for Start.
func (s *service) Stop() {
	s.mu.Lock()
	conn := s.conn
	s.conn = nil
	s.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// Running tells whether the fake owns its name.
func (s *service) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil && s.conn.Connected()
}

func (s *service) current() *dbus.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

func (s *service) record(msg dbus.Message, args ...any) {
	c := Call{Sender: msg.Headers[dbus.FieldSender].Value().(string), Args: args, At: time.Now()}
	c.Member, _ = msg.Headers[dbus.FieldMember].Value().(string)
	c.Path, _ = msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

// reply answers a manual method call.
func (s *service) reply(msg dbus.Message, values ...any) {
	sender, _ := msg.Headers[dbus.FieldSender].Value().(string)
	s.mu.Lock()
	want := s.replies[replyKey(sender, msg.Serial())]
	delete(s.replies, replyKey(sender, msg.Serial()))
	conn := s.conn
	s.mu.Unlock()
	if !want || conn == nil {
		return
	}
	r := &dbus.Message{Type: dbus.TypeMethodReply, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldDestination: dbus.MakeVariant(sender),
		dbus.FieldReplySerial: dbus.MakeVariant(msg.Serial()),
	}, Body: values}
	if len(values) > 0 {
		r.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(values...))
	}
	conn.Send(r, nil)
}

func (s *service) emit(path dbus.ObjectPath, name string, args ...any) {
	if conn := s.current(); conn != nil {
		conn.Emit(path, name, args...)
	}
}

// Calls is every call received so far, or only those to the members
// named.
func (s *service) Calls(members ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(members) == 0 || slices.Contains(members, c.Member) {
			out = append(out, c)
		}
	}
	return out
}

// ClearCalls forgets the calls received so far.
func (s *service) ClearCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// WaitCalls waits until n calls to member have been received, and returns
// them.
func (s *service) WaitCalls(t testing.TB, member string, n int, timeout time.Duration) []Call {
	t.Helper()
	Eventually(t, timeout, fmt.Sprintf("%s: waiting for %d %s call(s), got %d", s.name, n, member, len(s.Calls(member))),
		func() bool { return len(s.Calls(member)) >= n })
	return s.Calls(member)
}

func dbusErr(name, format string, a ...any) *dbus.Error {
	return dbus.NewError(name, []any{fmt.Sprintf(format, a...)})
}

func invalidArgs(format string, a ...any) *dbus.Error {
	return dbusErr("org.freedesktop.DBus.Error.InvalidArgs", format, a...)
}

// propsHandler serves org.freedesktop.DBus.Properties for objects whose
// properties are computed on demand.
type propsHandler struct {
	get func(iface string) (map[string]dbus.Variant, bool)
}

func (p propsHandler) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	all, ok := p.get(iface)
	if !ok {
		return dbus.Variant{}, dbusErr("org.freedesktop.DBus.Error.UnknownInterface", "Unknown interface %s.", iface)
	}
	v, ok := all[name]
	if !ok {
		return dbus.Variant{}, dbusErr("org.freedesktop.DBus.Error.UnknownProperty", "Unknown property %s.", name)
	}
	return v, nil
}

func (p propsHandler) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	all, ok := p.get(iface)
	if !ok {
		return nil, dbusErr("org.freedesktop.DBus.Error.UnknownInterface", "Unknown interface %s.", iface)
	}
	return all, nil
}

func (p propsHandler) Set(iface, name string, v dbus.Variant) *dbus.Error {
	return dbusErr("org.freedesktop.DBus.Error.PropertyReadOnly", "Property %s is read-only.", name)
}
