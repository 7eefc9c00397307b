package cups

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/ipp"
)

// Doctor examines the printing chain for borne doctor: the scheduler, the
// queue, the notifier and cups-pk-helper. The first two are needed: the
// kiosk was set up with a printer, and a citizen who cannot print leaves
// empty-handed. The others only make the printer's state arrive faster
// and let maintenance act.
func (p *Printer) Doctor(ctx context.Context) []hw.Check {
	// One word per name, as borne doctor lines them up; what exactly was
	// checked goes in the reason.
	server := hw.Check{Name: "cups", Health: hw.OK, Needed: true, Reason: p.cfg.Server}
	queue := hw.Check{Name: "printer", Health: hw.OK, Needed: true, Reason: "queue " + p.cfg.Queue}
	st, attrs := p.fetch(ctx)
	media := attrs.Strings("media-ready")
	switch {
	case st.Reason == hw.ReasonNoService:
		server.Health, server.Reason = hw.Missing, "CUPS does not answer: "+st.Detail
		queue.Health, queue.Reason = hw.Missing, "cannot be checked without CUPS"
	case st.Reason == hw.ReasonNoPrinter:
		queue.Health, queue.Reason = hw.Missing, st.Detail
	case !st.Ready:
		queue.Health, queue.Reason = hw.Degraded, reasonText(st.Reason)+": "+st.Detail
	case len(media) > 0 && !slices.ContainsFunc(media, func(m string) bool { return strings.Contains(m, "_a4_") }):
		queue.Health, queue.Reason = hw.Degraded, "no A4 paper loaded, the kiosk prints on A4: "+st.Detail
	}
	checks := []hw.Check{server, queue}
	if server.Health == hw.Missing {
		return checks
	}
	return append(checks, p.doctorNotifier(ctx), p.doctorPkHelper(ctx))
}

func (p *Printer) doctorNotifier(ctx context.Context) hw.Check {
	c := hw.Check{Name: "notifier", Health: hw.OK}
	polled := fmt.Sprintf("job and printer state are polled every %s instead", p.cfg.Poll)
	if p.cfg.SystemBus == nil {
		c.Health, c.Reason = hw.Degraded, "no system bus configured: "+polled
		return c
	}
	conn, err := p.cfg.SystemBus()
	if err != nil {
		c.Health, c.Reason = hw.Degraded, fmt.Sprintf("no system bus (%v): %s", err, polled)
		return c
	}
	conn.Close()
	// A short subscription proves cupsd has its dbus notifier and lets
	// the kiosk's user subscribe.
	r := ipp.NewRequest(ipp.OpCreatePrinterSubscriptions, "en")
	r.Add(ipp.TagOperation, "printer-uri", ipp.URI(p.client.URI("/")))
	r.Add(ipp.TagOperation, "requesting-user-name", ipp.Name(p.cfg.User))
	r.Add(ipp.TagSubscription, "notify-recipient-uri", ipp.URI("dbus://"))
	r.Add(ipp.TagSubscription, "notify-events", ipp.Keyword("printer-state-changed"))
	r.Add(ipp.TagSubscription, "notify-lease-duration", ipp.Integer(int(time.Minute/time.Second)))
	m, err := p.client.Do(ctx, "/", r, nil)
	if err != nil {
		c.Health, c.Reason = hw.Degraded, fmt.Sprintf("CUPS refuses a dbus:// subscription (%v; is /usr/lib/cups/notifier/dbus installed?): %s", err, polled)
		return c
	}
	g, _ := m.Group(ipp.TagSubscription)
	if id, ok := g.Int("notify-subscription-id"); ok {
		r := ipp.NewRequest(ipp.OpCancelSubscription, "en")
		r.Add(ipp.TagOperation, "printer-uri", ipp.URI(p.client.URI("/")))
		r.Add(ipp.TagOperation, "notify-subscription-id", ipp.Integer(id))
		r.Add(ipp.TagOperation, "requesting-user-name", ipp.Name(p.cfg.User))
		p.client.Do(ctx, "/", r, nil)
	}
	return c
}

func (p *Printer) doctorPkHelper(ctx context.Context) hw.Check {
	c := hw.Check{Name: "pk-helper", Health: hw.OK}
	lack := "maintenance cannot enable a stopped queue nor cancel jobs the kiosk did not send"
	if p.cfg.SystemBus == nil {
		c.Health, c.Reason = hw.Degraded, "no system bus configured: "+lack
		return c
	}
	conn, err := p.cfg.SystemBus()
	if err != nil {
		c.Health, c.Reason = hw.Degraded, fmt.Sprintf("no system bus (%v): %s", err, lack)
		return c
	}
	defer conn.Close()
	var names []string
	bus := conn.BusObject()
	if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.ListActivatableNames", 0).Store(&names); err == nil && slices.Contains(names, PkHelperName) {
		return c
	}
	var has bool
	if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, PkHelperName).Store(&has); err == nil && has {
		return c
	}
	c.Health, c.Reason = hw.Degraded, "cups-pk-helper is not installed (Debian package cups-pk-helper): "+lack
	return c
}
