package cups

import (
	"os"
	"strings"
	"testing"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/ipp"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		name      string
		state     int
		reasons   []string
		accepting bool
		ready     bool
		reason    string
	}{
		{"idle", ipp.PrinterIdle, []string{"none"}, true, true, ""},
		{"printing", ipp.PrinterProcessing, []string{"none"}, true, true, ""},
		{"connecting is not a fault", ipp.PrinterProcessing, []string{"connecting-to-device"}, true, true, ""},
		{"low paper is a warning", ipp.PrinterIdle, []string{"media-low-warning", "toner-low-report"}, true, true, ""},
		{"empty tray", ipp.PrinterIdle, []string{"media-empty-error"}, true, false, hw.ReasonNoPaper},
		{"empty tray, no suffix", ipp.PrinterProcessing, []string{"media-empty"}, true, false, hw.ReasonNoPaper},
		{"media needed", ipp.PrinterStopped, []string{"media-needed-error", "paused"}, true, false, hw.ReasonNoPaper},
		{"jam", ipp.PrinterStopped, []string{"media-jam-error"}, true, false, hw.ReasonJammed},
		{"toner", ipp.PrinterIdle, []string{"toner-empty-error"}, true, false, hw.ReasonNoToner},
		{"ink", ipp.PrinterIdle, []string{"marker-supply-empty-error"}, true, false, hw.ReasonNoToner},
		{"offline report from a network backend", ipp.PrinterProcessing, []string{"offline-report"}, true, false, hw.ReasonOffline},
		{"offline", ipp.PrinterIdle, []string{"offline"}, true, false, hw.ReasonOffline},
		{"cover", ipp.PrinterIdle, []string{"cover-open-error"}, true, false, hw.ReasonDoorOpen},
		{"paused by an agent", ipp.PrinterStopped, []string{"paused"}, true, false, hw.ReasonPaused},
		{"resumed, as the notifier says it", ipp.PrinterIdle, []string{"paused"}, true, true, ""},
		{"stopped without a word", ipp.PrinterStopped, nil, true, false, hw.ReasonPaused},
		{"refusing jobs", ipp.PrinterIdle, []string{"none"}, false, false, hw.ReasonPaused},
		{"a filter missing", ipp.PrinterStopped, []string{"cups-missing-filter-warning"}, true, false, hw.ReasonPaused},
		{"a filter missing, error", ipp.PrinterStopped, []string{"cups-missing-filter-error"}, true, false, hw.ReasonMisconfigured},
		{"an unknown error", ipp.PrinterIdle, []string{"fuser-over-temp-error"}, true, false, hw.ReasonUnknown},
		{"an unknown note", ipp.PrinterIdle, []string{"cups-waiting-for-job-completed"}, true, true, ""},
		{"paper first among several", ipp.PrinterStopped, []string{"paused", "offline-report", "media-empty-error"}, true, false, hw.ReasonNoPaper},
		{"offline before paused", ipp.PrinterStopped, []string{"paused", "offline-report"}, true, false, hw.ReasonOffline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := statusOf(tt.state, tt.reasons, tt.accepting, "", "", nil)
			if st.Ready != tt.ready || st.Reason != tt.reason {
				t.Errorf("= ready %v reason %q, want %v %q (detail %q)", st.Ready, st.Reason, tt.ready, tt.reason, st.Detail)
			}
			if st.Detail == "" {
				t.Errorf("no detail")
			}
		})
	}
}

func TestStatusFromCaptured(t *testing.T) {
	read := func(name string) ipp.Group {
		raw, err := os.ReadFile("../ipp/testdata/" + name + ".ipp")
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := ipp.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		g, _ := m.Group(ipp.TagPrinter)
		return g
	}
	idle := statusFrom(read("get-printer-attributes-idle"))
	if !idle.Ready || !strings.Contains(idle.Detail, "iso_a4_210x297mm") {
		t.Errorf("idle: %+v", idle)
	}
	paused := statusFrom(read("get-printer-attributes-paused"))
	if paused.Ready || paused.Reason != hw.ReasonPaused || !strings.Contains(paused.Detail, `"Paused"`) {
		t.Errorf("paused: %+v", paused)
	}
}

func TestMarkers(t *testing.T) {
	m := &ipp.Message{}
	m.Add(ipp.TagPrinter, "marker-names", ipp.Name("Black Toner"), ipp.Name("Cyan"), ipp.Name("Waste"))
	m.Add(ipp.TagPrinter, "marker-levels", ipp.Integer(3), ipp.Integer(80), ipp.Integer(-1))
	g, _ := m.Group(ipp.TagPrinter)
	if got := markers(g); got != "Black Toner 3% (low), Cyan 80%" {
		t.Errorf("markers = %q", got)
	}
}
