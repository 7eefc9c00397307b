package cups

import (
	"fmt"
	"slices"
	"strings"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/ipp"
)

// reasonFor maps an IPP printer-state-reasons keyword, without its
// severity suffix, to the plain reason a citizen is told. Keywords not
// here are shown to technicians only.
var reasonFor = map[string]string{
	"media-empty":          hw.ReasonNoPaper,
	"media-needed":         hw.ReasonNoPaper,
	"input-tray-missing":   hw.ReasonNoPaper,
	"media-jam":            hw.ReasonJammed,
	"input-tray-jam":       hw.ReasonJammed,
	"output-tray-jam":      hw.ReasonJammed,
	"door-open":            hw.ReasonDoorOpen,
	"cover-open":           hw.ReasonDoorOpen,
	"interlock-open":       hw.ReasonDoorOpen,
	"toner-empty":          hw.ReasonNoToner,
	"marker-supply-empty":  hw.ReasonNoToner,
	"ink-empty":            hw.ReasonNoToner,
	"offline":              hw.ReasonOffline,
	"shutdown":             hw.ReasonOffline,
	"timed-out":            hw.ReasonOffline,
	"paused":               hw.ReasonPaused,
	"moving-to-paused":     hw.ReasonPaused,
	"stopped":              hw.ReasonPaused,
	"cups-missing-filter":  hw.ReasonMisconfigured,
	"cups-insecure-filter": hw.ReasonMisconfigured,
	"cups-ppd-error":       hw.ReasonMisconfigured,
}

// priority orders reasons when several hold: the one a person can do
// something about first (paper, a jam, a cover), the vague ones last.
var priority = []string{
	hw.ReasonNoPaper, hw.ReasonJammed, hw.ReasonDoorOpen, hw.ReasonNoToner,
	hw.ReasonOffline, hw.ReasonMisconfigured, hw.ReasonPaused, hw.ReasonUnknown,
}

// blocks tells whether a printer-state-reasons keyword stops printing,
// and which plain reason it gives. Warnings never block; reports only
// when the printer cannot be reached ("offline-report" is what CUPS's
// network backends say then, while jobs pile up). A keyword without a
// suffix is an error for the standard ones and an informational note for
// the many CUPS adds ("connecting-to-device", "cups-waiting-for-job-completed").
func blocks(keyword string) (string, bool) {
	base, sev := keyword, ""
	for _, s := range []string{"-error", "-warning", "-report"} {
		if b, ok := strings.CutSuffix(keyword, s); ok {
			base, sev = b, s
			break
		}
	}
	r, known := reasonFor[base]
	switch sev {
	case "-warning":
		return "", false
	case "-report":
		return r, known && r == hw.ReasonOffline
	case "-error":
		if !known {
			return hw.ReasonUnknown, true
		}
		return r, true
	}
	return r, known
}

// attrs is what the kiosk asks of the printer.
var statusAttrs = []string{
	"printer-state", "printer-state-reasons", "printer-state-message",
	"printer-is-accepting-jobs", "marker-names", "marker-levels", "marker-types",
	"media-ready", "queued-job-count",
}

// statusFrom turns a printer's attributes into its state for the kiosk:
// ready unless a blocking reason holds, the queue is stopped or it
// refuses jobs. Detail keeps everything a technician wants to read.
func statusFrom(g ipp.Group) hw.PrinterStatus {
	state, _ := g.Int("printer-state")
	accepting, known := g.Bool("printer-is-accepting-jobs")
	reasons := g.Strings("printer-state-reasons")
	return statusOf(state, reasons, accepting || !known, g.Text("printer-state-message"), markers(g), g.Strings("media-ready"))
}

func statusOf(state int, reasons []string, accepting bool, message, markers string, media []string) hw.PrinterStatus {
	var found []string
	for _, k := range reasons {
		r, ok := blocks(k)
		// "paused" outlives the pause: cupsd's notifier announces a
		// resumed queue as idle while still listing it. The state is
		// what counts.
		if ok && r == hw.ReasonPaused && state != ipp.PrinterStopped {
			continue
		}
		if ok {
			found = append(found, r)
		}
	}
	if state == ipp.PrinterStopped {
		found = append(found, hw.ReasonPaused)
	}
	if !accepting {
		found = append(found, hw.ReasonPaused)
	}
	st := hw.PrinterStatus{Ready: len(found) == 0}
	for _, r := range priority {
		if slices.Contains(found, r) {
			st.Reason = r
			break
		}
	}
	var d []string
	d = append(d, stateName(state))
	if !accepting {
		d = append(d, "refusing jobs")
	}
	if len(reasons) > 0 && !(len(reasons) == 1 && reasons[0] == "none") {
		d = append(d, "reasons "+strings.Join(reasons, ", "))
	}
	if message != "" {
		d = append(d, fmt.Sprintf("%q", message))
	}
	if markers != "" {
		d = append(d, markers)
	}
	if len(media) > 0 {
		d = append(d, "paper "+strings.Join(media, ", "))
	}
	st.Detail = strings.Join(d, "; ")
	return st
}

func stateName(state int) string {
	switch state {
	case ipp.PrinterIdle:
		return "idle"
	case ipp.PrinterProcessing:
		return "printing"
	case ipp.PrinterStopped:
		return "stopped"
	}
	return fmt.Sprintf("state %d", state)
}

// markers says what is left of each supply: "black toner 4% (low)".
// CUPS gives -1 or -2 when the level is unknown, -3 for "some left".
func markers(g ipp.Group) string {
	names := g.Strings("marker-names")
	levels := g.Ints("marker-levels")
	var out []string
	for i, n := range names {
		if i >= len(levels) {
			break
		}
		switch l := levels[i]; {
		case l >= 0 && l <= 5:
			out = append(out, fmt.Sprintf("%s %d%% (low)", n, l))
		case l >= 0:
			out = append(out, fmt.Sprintf("%s %d%%", n, l))
		}
	}
	return strings.Join(out, ", ")
}

// notFound is the state of a queue CUPS does not have.
func notFound(server, queue string) hw.PrinterStatus {
	return hw.PrinterStatus{Reason: hw.ReasonNoPrinter,
		Detail: fmt.Sprintf("CUPS on %s has no queue %q: create it (lpadmin -p %s -E -v DEVICE-URI -m DRIVER) or set hardware.printer.queue", server, queue, queue)}
}

// noService is the state when CUPS does not answer.
func noService(err error) hw.PrinterStatus {
	return hw.PrinterStatus{Reason: hw.ReasonNoService, Detail: err.Error() + " (is the cups service running?)"}
}
