package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// Backoff is the wait between attempts to reach a bus or a service:
// doubling from Min up to Max.
type Backoff struct {
	Min, Max time.Duration
}

// DefaultBackoff suits a kiosk: quick to recover from a restarted service,
// and no busier than a call every few seconds while one stays away.
var DefaultBackoff = Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}

func (b Backoff) next(d time.Duration) time.Duration {
	if d < b.Min {
		return b.Min
	}
	d *= 2
	if d > b.Max {
		d = b.Max
	}
	return d
}

// jitter spreads retries so back-ends that lost the same bus do not knock
// on it in step.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// LinkOptions describe one service and what its back-end does when it
// comes and goes. The hooks run on the link's own goroutine, one at a
// time, so a back-end sees its service's events in bus order.
type LinkOptions struct {
	Kind   Kind
	Getenv func(string) string // nil: os.Getenv
	Name   string              // the service's well-known name
	// Service names the service in reasons: "the systemd user manager".
	Service string
	// Missing is what a technician should check when the name has no
	// owner: "is systemd --user running for the kiosk user?"
	Missing string
	// Optional services (a desktop portal) are logged quietly when away.
	Optional bool
	// Matches are the service's signals the back-end wants, each a match
	// rule; the sender is added so only the name's owner is heard.
	Matches [][]dbus.MatchOption

	// Connected runs when a new connection is made, before the service
	// is looked for; Disconnected when it is lost.
	Connected    func(conn *dbus.Conn) error
	Disconnected func()
	// Up runs each time the service is (again) on the bus: re-subscribe,
	// find the session, put things back as they should be. An error keeps
	// the service unavailable with that error as the reason, and Up is
	// tried again after a back-off.
	Up func(ctx context.Context, conn *dbus.Conn) error
	// Down runs when the service leaves the bus or the connection is lost.
	Down func()
	// Signal receives the matched signals while the service is up.
	Signal func(*dbus.Signal)
	// State receives every change of availability, and the first finding.
	State func(up bool, reason string)

	Backoff Backoff       // zero: DefaultBackoff
	Timeout time.Duration // of each housekeeping call; zero: 5s
	Log     *slog.Logger
}

// Link follows one service on one bus: it keeps a connection, reconnects
// with a capped back-off when the bus goes, and tells up from down by
// NameOwnerChanged.
type Link struct {
	o         LinkOptions
	life      context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	ready     chan struct{}
	readyMu   sync.Once
	startOnce sync.Once

	mu       sync.Mutex
	conn     *dbus.Conn // nil while no connection
	up       bool
	reported bool
	reason   string
	owner    string
}

// NewLink prepares to follow a service; Start starts.
func NewLink(o LinkOptions) *Link {
	if o.Backoff.Min <= 0 || o.Backoff.Max < o.Backoff.Min {
		o.Backoff = DefaultBackoff
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Service == "" {
		o.Service = o.Name
	}
	life, cancel := context.WithCancel(context.Background())
	return &Link{o: o, life: life, cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})}
}

// Start starts following the service, once; it returns at once, and Ready
// is closed when the first finding is made.
func (l *Link) Start() {
	l.startOnce.Do(func() { go l.run() })
}

// Ready is closed once the link knows whether its service is there.
func (l *Link) Ready() <-chan struct{} { return l.ready }

// WaitReady waits for the first finding, or ctx.
func (l *Link) WaitReady(ctx context.Context) error {
	select {
	case <-l.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Conn is the connection to use for calls, while the service is up. Down,
// it returns an *Unavailable error at once: no call waits for a service
// that is not there.
func (l *Link) Conn() (*dbus.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.up || l.conn == nil {
		return nil, &Unavailable{Service: l.o.Service, Reason: l.reasonLocked()}
	}
	return l.conn, nil
}

// Status is the service's availability and, when down, why.
func (l *Link) Status() (up bool, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up, l.reasonLocked()
}

func (l *Link) reasonLocked() string {
	if l.up {
		return ""
	}
	if l.reason == "" {
		return "not yet reached"
	}
	return l.reason
}

// Dial opens another connection to the link's bus that closes with the
// link, for libraries that want their own.
func (l *Link) Dial(ctx context.Context) (*dbus.Conn, error) {
	addr, err := Address(l.o.Kind, l.o.Getenv)
	if err != nil {
		return nil, err
	}
	return Dial(ctx, l.life, addr)
}

// Close stops following the service and closes every connection. Safe to
// call more than once.
func (l *Link) Close() error {
	l.cancel()
	// Once closed, Start must not run the loop, and done must close.
	l.startOnce.Do(func() { close(l.done) })
	<-l.done
	l.markReady()
	return nil
}

func (l *Link) markReady() { l.readyMu.Do(func() { close(l.ready) }) }

func (l *Link) setState(up bool, reason string) {
	l.mu.Lock()
	changed := !l.reported || l.up != up || (!up && l.reason != reason)
	l.up, l.reason, l.reported = up, reason, true
	l.mu.Unlock()
	if changed {
		if up {
			l.o.Log.Info("service available", "service", l.o.Service)
		} else if l.o.Optional {
			l.o.Log.Info("optional service unavailable", "service", l.o.Service, "reason", reason)
		} else {
			l.o.Log.Warn("service unavailable", "service", l.o.Service, "reason", reason)
		}
		if l.o.State != nil {
			l.o.State(up, reason)
		}
	}
	l.markReady()
}

// sleep waits d unless the link closes; false means it closed.
func (l *Link) sleep(d time.Duration) bool {
	t := time.NewTimer(jitter(d))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.life.Done():
		return false
	}
}

func (l *Link) run() {
	defer close(l.done)
	defer l.markReady()
	wait := time.Duration(0)
	for l.life.Err() == nil {
		conn, sigs, err := l.connect()
		if err != nil {
			if l.life.Err() != nil {
				return
			}
			l.setState(false, err.Error())
			wait = l.o.Backoff.next(wait)
			if !l.sleep(wait) {
				return
			}
			continue
		}
		wait = 0
		l.serve(conn, sigs)
		l.mu.Lock()
		l.conn, l.owner = nil, ""
		l.mu.Unlock()
		conn.Close()
		if l.o.Disconnected != nil {
			l.o.Disconnected()
		}
		if l.life.Err() != nil {
			return
		}
		l.setState(false, "lost the connection to the "+l.o.Kind.String())
		wait = l.o.Backoff.next(wait)
		if !l.sleep(wait) {
			return
		}
	}
}

// connect dials, subscribes to the service's signals and its name's
// owner changes. The signal channel is large because godbus delivers out
// of order once a channel is full, and order matters (a unit's state
// comes before its job's end).
func (l *Link) connect() (*dbus.Conn, chan *dbus.Signal, error) {
	addr, err := Address(l.o.Kind, l.o.Getenv)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(l.life, l.o.Timeout)
	defer cancel()
	conn, err := Dial(ctx, l.life, addr)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach the %s at %s: %w", l.o.Kind, addr, err)
	}
	sigs := make(chan *dbus.Signal, 256)
	conn.Signal(sigs)
	rules := [][]dbus.MatchOption{{
		dbus.WithMatchSender("org.freedesktop.DBus"),
		dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, l.o.Name),
	}}
	for _, r := range l.o.Matches {
		rules = append(rules, append([]dbus.MatchOption{dbus.WithMatchSender(l.o.Name)}, r...))
	}
	for _, r := range rules {
		if err := conn.AddMatchSignalContext(ctx, r...); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("the %s refused a match rule: %w", l.o.Kind, err)
		}
	}
	if l.o.Connected != nil {
		if err := l.o.Connected(conn); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	l.mu.Lock()
	l.conn = conn
	l.mu.Unlock()
	return conn, sigs, nil
}

func (l *Link) missing() string {
	r := l.o.Name + " is not on the " + l.o.Kind.String()
	if l.o.Missing != "" {
		r += ": " + l.o.Missing
	}
	return r
}

// serve follows the service on one connection until the connection dies
// or the link closes.
func (l *Link) serve(conn *dbus.Conn, sigs chan *dbus.Signal) {
	up := false
	var retry *time.Timer
	var retryC <-chan time.Time
	wait := time.Duration(0)
	stopRetry := func() {
		if retry != nil {
			retry.Stop()
			retry, retryC = nil, nil
		}
	}
	defer stopRetry()
	down := func(reason string) {
		stopRetry()
		if up && l.o.Down != nil {
			l.o.Down()
		}
		up = false
		l.setState(false, reason)
	}
	tryUp := func() {
		stopRetry()
		err := error(nil)
		if l.o.Up != nil {
			ctx, cancel := context.WithTimeout(l.life, l.o.Timeout)
			err = l.o.Up(ctx, conn)
			cancel()
		}
		if err != nil {
			if l.life.Err() != nil || !conn.Connected() {
				return
			}
			wait = l.o.Backoff.next(wait)
			retry = time.NewTimer(jitter(wait))
			retryC = retry.C
			l.setState(false, err.Error())
			return
		}
		wait = 0
		up = true
		l.setState(true, "")
	}

	ctx, cancel := context.WithTimeout(l.life, l.o.Timeout)
	var owner string
	err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, l.o.Name).Store(&owner)
	cancel()
	switch {
	case err == nil:
		l.setOwner(owner)
		tryUp()
	case ErrorName(err) == ErrNameHasNoOwner:
		l.setState(false, l.missing())
	default:
		return // the connection died under us: reconnect
	}

	for {
		select {
		case <-l.life.Done():
			if up && l.o.Down != nil {
				l.o.Down()
			}
			return
		case <-retryC:
			retry, retryC = nil, nil
			tryUp()
		case sig, ok := <-sigs:
			if !ok {
				if up && l.o.Down != nil {
					l.o.Down()
				}
				return
			}
			if sig.Name == "org.freedesktop.DBus.NameOwnerChanged" {
				var name, old, now string
				if dbus.Store(sig.Body, &name, &old, &now) != nil || name != l.o.Name {
					continue
				}
				if now == "" {
					l.setOwner("")
					r := l.o.Name + " left the " + l.o.Kind.String() + " (" + l.o.Service + " stopped or crashed)"
					if l.o.Missing != "" {
						r += ": " + l.o.Missing
					}
					down(r)
					continue
				}
				if now == l.currentOwner() && (up || retryC != nil) {
					continue // the change GetNameOwner already saw
				}
				if up {
					down(l.o.Service + " restarted")
				}
				l.setOwner(now)
				tryUp()
				continue
			}
			// Unicast signals (NameAcquired) pass any match rule: only
			// the owner's are the service's.
			if up && l.o.Signal != nil && sig.Sender == l.currentOwner() {
				l.o.Signal(sig)
			}
		}
	}
}

func (l *Link) setOwner(o string) {
	l.mu.Lock()
	l.owner = o
	l.mu.Unlock()
}

func (l *Link) currentOwner() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.owner
}

// Call makes one method call on the service with ctx's deadline, failing
// at once while the service is away.
func (l *Link) Call(ctx context.Context, path dbus.ObjectPath, method string, args ...any) *dbus.Call {
	conn, err := l.Conn()
	if err != nil {
		return &dbus.Call{Err: err}
	}
	return conn.Object(l.o.Name, path).CallWithContext(ctx, method, 0, args...)
}

// IsGone tells whether err says the service or the bus went away during
// the call, rather than the service refusing it.
func IsGone(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, dbus.ErrClosed) {
		return true
	}
	var u *Unavailable
	if errors.As(err, &u) {
		return true
	}
	switch ErrorName(err) {
	case ErrServiceUnknown, ErrNameHasNoOwner, ErrNoReply:
		return true
	}
	return false
}
