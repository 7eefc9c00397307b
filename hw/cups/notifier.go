package cups

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/loiret/borne/hw/ipp"
)

// The CUPS notifier's signals, as cupsd's dbus notifier emits them on the
// system bus; it owns no bus name.
const (
	NotifierPath  = dbus.ObjectPath("/org/cups/cupsd/Notifier")
	NotifierIface = "org.cups.cupsd.Notifier"
)

// cups-pk-helper, the system service that does what only an administrator
// may, for whom polkit allows.
const (
	PkHelperName  = "org.opensuse.CupsPkHelper.Mechanism"
	PkHelperPath  = dbus.ObjectPath("/")
	PkHelperIface = "org.opensuse.CupsPkHelper.Mechanism"
)

// notifyEvents are the events the subscription asks for: the printer's
// state, the life of jobs, and CUPS itself stopping and starting. A
// server-wide subscription also hears of the queue being created or
// deleted while the kiosk runs.
var notifyEvents = []string{
	"printer-state-changed", "printer-stopped", "printer-added", "printer-deleted",
	"job-created", "job-state-changed", "job-stopped", "job-completed",
	"server-started", "server-stopped", "server-restarted",
}

// subscription is the notifier subscription the kiosk holds in CUPS.
type subscription struct {
	id      int
	renewAt time.Time
	retryAt time.Time // after a failure to subscribe
}

// run follows the printer until Close: the notifier's signals as they
// come, the jobs at every tick, the printer's state every fifth, the
// system bus and the subscription when they need it.
func (p *Printer) run() {
	defer close(p.done)
	ctx := p.ctx
	p.refresh(ctx)
	p.connectBus()
	p.keepSubscription(ctx)
	tick := time.NewTicker(p.cfg.Poll)
	defer tick.Stop()
	for n := 1; ; {
		p.mu.Lock()
		signals := p.signals
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case s, ok := <-signals:
			if !ok {
				p.busLost()
				continue
			}
			p.onSignal(ctx, s)
		case <-p.wake:
			p.pollJobs(ctx)
		case <-tick.C:
			p.pollJobs(ctx)
			if n%5 == 0 {
				p.refresh(ctx)
			}
			if n%15 == 0 {
				p.connectBus()
			}
			p.keepSubscription(ctx)
			n++
		}
	}
}

func (p *Printer) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Poll+3*time.Second)
	defer cancel()
	p.setStatus(p.fetchStatus(ctx))
}

// connectBus connects to the system bus for the notifier's signals, when
// there is one and the kiosk is not connected yet.
func (p *Printer) connectBus() {
	p.mu.Lock()
	connected := p.bus != nil
	p.mu.Unlock()
	if connected || p.cfg.SystemBus == nil {
		return
	}
	conn, err := p.cfg.SystemBus()
	if err != nil {
		p.cfg.Log.Debug("no system bus for the CUPS notifier: polling only", "err", err)
		return
	}
	err = conn.AddMatchSignal(dbus.WithMatchObjectPath(NotifierPath), dbus.WithMatchInterface(NotifierIface))
	if err != nil {
		conn.Close()
		p.cfg.Log.Warn("cannot listen to the CUPS notifier", "err", err)
		return
	}
	ch := make(chan *dbus.Signal, 64)
	conn.Signal(ch)
	p.mu.Lock()
	p.bus, p.signals = conn, ch
	p.sub.retryAt = time.Time{}
	p.mu.Unlock()
}

// busLost forgets a system bus connection that closed; the next ticks
// connect again, and polling goes on meanwhile.
func (p *Printer) busLost() {
	p.mu.Lock()
	if p.bus != nil {
		p.bus.Close()
	}
	p.bus, p.signals = nil, nil
	p.mu.Unlock()
	p.cfg.Log.Warn("system bus lost: printer state polled until it returns")
}

// keepSubscription creates the notifier subscription, or renews it before
// its lease ends. CUPS keeps subscriptions across its restarts, and
// forgets one whose lease ran out: then a new one is made.
func (p *Printer) keepSubscription(ctx context.Context) {
	p.mu.Lock()
	connected, sub := p.bus != nil, p.sub
	p.mu.Unlock()
	now := time.Now()
	if !connected || now.Before(sub.retryAt) || (sub.id != 0 && now.Before(sub.renewAt)) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lease := int(p.cfg.Lease / time.Second)
	if sub.id != 0 {
		r := ipp.NewRequest(ipp.OpRenewSubscription, "en")
		r.Add(ipp.TagOperation, "printer-uri", ipp.URI(p.client.URI("/")))
		r.Add(ipp.TagOperation, "notify-subscription-id", ipp.Integer(sub.id))
		r.Add(ipp.TagOperation, "requesting-user-name", ipp.Name(p.cfg.User))
		r.Add(ipp.TagSubscription, "notify-lease-duration", ipp.Integer(lease))
		_, err := p.client.Do(ctx, "/", r, nil)
		if err == nil {
			p.setSubscription(subscription{id: sub.id, renewAt: now.Add(p.cfg.Lease / 2)})
			p.cfg.Log.Debug("notifier subscription renewed", "id", sub.id)
			return
		}
		if ipp.IsUnreachable(err) {
			p.setSubscription(subscription{id: sub.id, retryAt: now.Add(p.cfg.Poll)})
			return
		}
		p.cfg.Log.Info("notifier subscription lost, making a new one", "id", sub.id, "err", err)
	}
	r := ipp.NewRequest(ipp.OpCreatePrinterSubscriptions, "en")
	r.Add(ipp.TagOperation, "printer-uri", ipp.URI(p.client.URI("/")))
	r.Add(ipp.TagOperation, "requesting-user-name", ipp.Name(p.cfg.User))
	r.Add(ipp.TagSubscription, "notify-recipient-uri", ipp.URI("dbus://"))
	r.Add(ipp.TagSubscription, "notify-events", ipp.Keywords(notifyEvents...)...)
	r.Add(ipp.TagSubscription, "notify-lease-duration", ipp.Integer(lease))
	m, err := p.client.Do(ctx, "/", r, nil)
	if err != nil {
		p.setSubscription(subscription{retryAt: now.Add(max(p.cfg.Poll, time.Minute))})
		if !ipp.IsUnreachable(err) {
			p.cfg.Log.Warn("no CUPS notifier subscription: printer state polled", "err", err)
		}
		return
	}
	g, _ := m.Group(ipp.TagSubscription)
	id, _ := g.Int("notify-subscription-id")
	p.setSubscription(subscription{id: id, renewAt: now.Add(p.cfg.Lease / 2)})
	p.cfg.Log.Info("CUPS notifier subscription made", "id", id, "lease", p.cfg.Lease)
}

func (p *Printer) setSubscription(s subscription) {
	p.mu.Lock()
	p.sub = s
	p.mu.Unlock()
}

// Subscription is the notifier subscription's id in CUPS, 0 for none.
func (p *Printer) Subscription() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sub.id
}

// unsubscribe cancels the subscription, so that CUPS does not go on
// signalling for a kiosk that stopped listening.
func (p *Printer) unsubscribe(ctx context.Context) {
	p.mu.Lock()
	id := p.sub.id
	p.sub = subscription{}
	p.mu.Unlock()
	if id == 0 {
		return
	}
	r := ipp.NewRequest(ipp.OpCancelSubscription, "en")
	r.Add(ipp.TagOperation, "printer-uri", ipp.URI(p.client.URI("/")))
	r.Add(ipp.TagOperation, "notify-subscription-id", ipp.Integer(id))
	r.Add(ipp.TagOperation, "requesting-user-name", ipp.Name(p.cfg.User))
	if _, err := p.client.Do(ctx, "/", r, nil); err != nil {
		p.cfg.Log.Debug("canceling the notifier subscription", "id", id, "err", err)
	}
}

// printerEvent is the printer part of a notifier signal (signature
// sssusb, the first six arguments of a job signal too).
type printerEvent struct {
	text, uri, name string
	state           int
	reasons         []string
	accepting       bool
}

// jobEvent is a job signal (signature sssusbuussu).
type jobEvent struct {
	printerEvent
	jobID, jobState int
	jobReasons      string
	jobName         string
	impressions     int
}

func parsePrinter(body []any) (printerEvent, bool) {
	if len(body) < 6 {
		return printerEvent{}, false
	}
	text, ok1 := body[0].(string)
	uri, ok2 := body[1].(string)
	name, ok3 := body[2].(string)
	state, ok4 := body[3].(uint32)
	reasons, ok5 := body[4].(string)
	accepting, ok6 := body[5].(bool)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return printerEvent{}, false
	}
	var rs []string
	for _, r := range strings.Split(reasons, ",") {
		if r = strings.TrimSpace(r); r != "" {
			rs = append(rs, r)
		}
	}
	return printerEvent{text: text, uri: uri, name: name, state: int(state), reasons: rs, accepting: accepting}, true
}

func parseJob(body []any) (jobEvent, bool) {
	pe, ok := parsePrinter(body)
	if !ok || len(body) != 11 {
		return jobEvent{}, false
	}
	id, ok1 := body[6].(uint32)
	state, ok2 := body[7].(uint32)
	reasons, ok3 := body[8].(string)
	name, ok4 := body[9].(string)
	imp, ok5 := body[10].(uint32)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return jobEvent{}, false
	}
	return jobEvent{printerEvent: pe, jobID: int(id), jobState: int(state), jobReasons: reasons, jobName: name, impressions: int(imp)}, true
}

// onSignal turns one notifier signal into the printer's state or a job's.
func (p *Printer) onSignal(ctx context.Context, s *dbus.Signal) {
	if s.Path != NotifierPath {
		return
	}
	member, ok := strings.CutPrefix(s.Name, NotifierIface+".")
	if !ok {
		return
	}
	p.cfg.Log.Debug("notifier signal", "member", member, "body", s.Body)
	switch {
	case member == "ServerStopped":
		p.setStatus(noService(errors.New("CUPS stopped")))
	case strings.HasPrefix(member, "Server"):
		p.refresh(ctx)
		p.setSubscription(subscription{id: p.Subscription()})
		p.keepSubscription(ctx) // renewed now: CUPS may have lost it
	case strings.HasPrefix(member, "Printer"):
		ev, ok := parsePrinter(s.Body)
		if !ok || len(s.Body) != 6 || ev.name != p.cfg.Queue {
			return
		}
		if member == "PrinterDeleted" {
			p.setStatus(notFound(p.cfg.Server, p.cfg.Queue))
			return
		}
		p.setStatus(statusOf(ev.state, ev.reasons, ev.accepting, "", "", nil))
	case strings.HasPrefix(member, "Job"):
		ev, ok := parseJob(s.Body)
		if !ok {
			p.cfg.Log.Debug("malformed notifier signal", "name", s.Name, "signature", dbus.SignatureOf(s.Body...).String())
			return
		}
		// Without a printer URI the printer arguments mean nothing.
		if ev.uri != "" && ev.name == p.cfg.Queue {
			p.setStatus(statusOf(ev.state, ev.reasons, ev.accepting, "", "", nil))
		}
		p.jobUpdate(ev.jobID, ev.jobState, ev.impressions, ev.jobReasons)
	}
}

// pkCall calls a cups-pk-helper method, all of which answer with an
// error string, empty when it worked.
func (p *Printer) pkCall(ctx context.Context, method string, args ...any) error {
	p.mu.Lock()
	conn := p.bus
	p.mu.Unlock()
	if conn == nil {
		if p.cfg.SystemBus == nil {
			return fmt.Errorf("cups-pk-helper %s: no system bus", method)
		}
		c, err := p.cfg.SystemBus()
		if err != nil {
			return fmt.Errorf("cups-pk-helper %s: no system bus: %w", method, err)
		}
		defer c.Close()
		conn = c
	}
	var msg string
	call := conn.Object(PkHelperName, PkHelperPath).CallWithContext(ctx, PkHelperIface+"."+method, 0, args...)
	if err := call.Store(&msg); err != nil {
		return fmt.Errorf("cups-pk-helper %s: %w", method, err)
	}
	if msg != "" {
		return fmt.Errorf("cups-pk-helper %s: %s", method, msg)
	}
	return nil
}
