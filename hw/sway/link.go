package sway

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Backoff is the wait between attempts to reach sway: doubling from Min up
// to Max, as the D-Bus links do (hw/dbus/bus).
type Backoff struct {
	Min, Max time.Duration
}

// DefaultBackoff gets back to a restarted sway quickly.
var DefaultBackoff = Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}

func (b Backoff) next(d time.Duration) time.Duration {
	if d < b.Min {
		return b.Min
	}
	return min(2*d, b.Max)
}

func jitter(d time.Duration) time.Duration {
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// LinkOptions say where sway is and what to do as it comes and goes. The
// hooks run on the link's goroutine, one at a time, in sway's order.
type LinkOptions struct {
	// Path gives the socket's path at each attempt ($SWAYSOCK).
	Path func() string
	// Up runs on each (re)connection, before events are read: look at the
	// tree and put the windows where they belong. An error drops the
	// connection and the link tries again after a back-off.
	Up func(ctx context.Context, c *Conn) error
	// Event receives each window event while connected.
	Event func(ev WindowEvent)
	// State receives every change of availability, and the first finding.
	State func(up bool, reason string)

	Backoff Backoff       // zero: DefaultBackoff
	Timeout time.Duration // of each call; zero: 2s
	Log     *slog.Logger
}

// Link keeps a connection for calls and a subscribed one for events, and
// makes both again when sway goes away and comes back.
type Link struct {
	o      LinkOptions
	life   context.Context
	cancel context.CancelFunc
	done   chan struct{}
	ready  chan struct{}
	once   sync.Once

	mu       sync.Mutex
	calls    *Conn
	events   *Conn
	up       bool
	reason   string
	reported bool
}

// NewLink starts following sway at once.
func NewLink(o LinkOptions) *Link {
	if o.Backoff.Min <= 0 || o.Backoff.Max < o.Backoff.Min {
		o.Backoff = DefaultBackoff
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	life, cancel := context.WithCancel(context.Background())
	l := &Link{o: o, life: life, cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})}
	go l.run()
	return l
}

// Ready is closed once the first attempt to reach sway is over.
func (l *Link) Ready() <-chan struct{} { return l.ready }

// ErrUnavailable is returned by calls while sway is not reached.
var ErrUnavailable = errors.New("sway is not reached")

// Conn is the connection for calls while sway is up.
func (l *Link) Conn() (*Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.up || l.calls == nil {
		return nil, errors.Join(ErrUnavailable, errors.New(l.reason))
	}
	return l.calls, nil
}

// Command runs sway commands with the link's deadline.
func (l *Link) Command(ctx context.Context, cmd string) error {
	c, err := l.Conn()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, l.o.Timeout)
	defer cancel()
	return c.Command(ctx, cmd)
}

// Status is sway's availability and, when down, why.
func (l *Link) Status() (bool, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up, l.reason
}

// Close stops following sway and closes both connections.
func (l *Link) Close() error {
	l.cancel()
	l.mu.Lock()
	l.calls.Close()
	l.events.Close()
	l.mu.Unlock()
	<-l.done
	return nil
}

func (l *Link) setState(up bool, reason string) {
	l.mu.Lock()
	changed := !l.reported || l.up != up || l.reason != reason
	l.up, l.reason, l.reported = up, reason, true
	l.mu.Unlock()
	if changed {
		if up {
			l.o.Log.Info("sway reached")
		} else {
			l.o.Log.Warn("sway unavailable", "reason", reason)
		}
		if l.o.State != nil {
			l.o.State(up, reason)
		}
	}
	l.once.Do(func() { close(l.ready) })
}

func (l *Link) run() {
	defer close(l.done)
	defer l.once.Do(func() { close(l.ready) })
	wait := time.Duration(0)
	for l.life.Err() == nil {
		err := l.session()
		if l.life.Err() != nil {
			return
		}
		l.setState(false, err.Error())
		if err != nil && !errors.Is(err, ErrShutdown) {
			wait = l.o.Backoff.next(wait)
		} else {
			wait = l.o.Backoff.Min
		}
		t := time.NewTimer(jitter(wait))
		select {
		case <-t.C:
		case <-l.life.Done():
			t.Stop()
			return
		}
	}
}

// session connects, subscribes, runs Up and reads events until sway goes.
func (l *Link) session() error {
	ctx, cancel := context.WithTimeout(l.life, l.o.Timeout)
	defer cancel()
	path := l.o.Path()
	calls, err := Dial(ctx, path)
	if err != nil {
		return err
	}
	events, err := Dial(ctx, path)
	if err != nil {
		calls.Close()
		return err
	}
	l.mu.Lock()
	l.calls, l.events = calls, events
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.calls, l.events = nil, nil
		l.mu.Unlock()
		calls.Close()
		events.Close()
	}()
	if l.life.Err() != nil {
		return l.life.Err()
	}
	// Subscribe before Up: a window that opens while Up looks at the tree
	// is then in the events.
	if err := events.Subscribe(ctx); err != nil {
		return err
	}
	if l.o.Up != nil {
		if err := l.o.Up(ctx, calls); err != nil {
			return err
		}
	}
	l.setState(true, "")
	for {
		ev, err := events.Next()
		if err != nil {
			return err
		}
		if l.o.Event != nil {
			l.o.Event(ev)
		}
	}
}
