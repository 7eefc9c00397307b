package dbus

import (
	"log/slog"
	"sync"

	"github.com/loiret/borne/hw"
)

// reporter turns the services' states into the shell's device changes.
// A device may rest on several services (the screen on logind and
// ddcutil-service): it is OK when all of them are, and its reason is the
// first one's that is not. Changes queue without bound, so a back-end
// never waits on a shell busy elsewhere; they are few.
type reporter struct {
	log *slog.Logger
	out chan hw.Change

	mu      sync.Mutex
	order   []string          // components, in declaration order
	device  map[string]string // component → device
	up      map[string]bool
	reason  map[string]string
	lastOK  map[string]bool // device → last reported
	lastWhy map[string]string
	queue   []hw.Change
	wake    chan struct{}
	closing chan struct{}
	done    chan struct{}
	started bool
	closed  bool
}

func newReporter(log *slog.Logger) *reporter {
	return &reporter{
		log: log, out: make(chan hw.Change),
		device: map[string]string{}, up: map[string]bool{}, reason: map[string]string{},
		lastOK: map[string]bool{}, lastWhy: map[string]string{},
		wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{}),
	}
}

// declare names a component and its device; until it reports, a
// component counts as up (the shell assumes its hardware works until
// told otherwise).
func (r *reporter) declare(component, device string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.order = append(r.order, component)
	r.device[component] = device
	r.up[component] = true
	if _, ok := r.lastOK[device]; !ok {
		r.lastOK[device] = true
	}
}

func (r *reporter) set(component string, up bool, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dev, ok := r.device[component]
	if !ok || r.closed {
		return
	}
	r.up[component], r.reason[component] = up, reason
	devOK, why := true, ""
	for _, c := range r.order {
		if r.device[c] == dev && !r.up[c] {
			devOK, why = false, r.reason[c]
			break
		}
	}
	if devOK == r.lastOK[dev] && why == r.lastWhy[dev] {
		return
	}
	r.lastOK[dev], r.lastWhy[dev] = devOK, why
	r.queue = append(r.queue, hw.Change{Device: dev, OK: devOK, Reason: why})
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *reporter) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return
	}
	r.started = true
	go r.pump()
}

func (r *reporter) pump() {
	defer close(r.done)
	for {
		r.mu.Lock()
		var next *hw.Change
		if len(r.queue) > 0 {
			c := r.queue[0]
			r.queue = r.queue[1:]
			next = &c
		}
		r.mu.Unlock()
		if next == nil {
			select {
			case <-r.wake:
				continue
			case <-r.closing:
				return
			}
		}
		select {
		case r.out <- *next:
		case <-r.closing:
			return
		}
	}
}

// close stops the reports and closes the channel, so the shell's reader
// ends.
func (r *reporter) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	started := r.started
	r.mu.Unlock()
	close(r.closing)
	if started {
		<-r.done
	}
	close(r.out)
}
