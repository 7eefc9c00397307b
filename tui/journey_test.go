package tui

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/charmbracelet/x/ansi"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/usage"
)

func TestThreeFailuresRestTheOperator(t *testing.T) {
	h := newHarness(t, 100, 30)
	for i := range 3 {
		h.mach.FailNextStart(errors.New("client crashed"))
		h.tap("op:0")
		h.tap(idCall)
		h.until(fmt.Sprintf("failure %d", i+1), screenIs("unavailable"))
		h.tap(idBack)
	}
	if !strings.Contains(plain(h.m), "Indisponible pour le moment") {
		t.Fatalf("the operator is not shown unavailable:\n%s", plain(h.m))
	}
	e, ok := h.log.last(usage.KindHardwareFault)
	if !ok || e.Operator != "caf" || e.Detail["device"] != "video client" {
		t.Fatalf("hardware_fault: %+v %v", e, ok)
	}
	h.tap("op:0")
	if c, _ := h.target(idCall); !c.disabled || !strings.Contains(strings.Join(c.lines, " "), "Indisponible pour le moment") {
		t.Fatalf("a resting operator can be called, or its button does not say why: %+v", c)
	}
	h.tap(idBack)
	h.advance(suspendFor)
	h.send(clockMsg{})
	if strings.Contains(plain(h.m), "Indisponible pour le moment") {
		t.Fatal("still unavailable after 15 minutes")
	}
}

func TestOneSuccessClearsTheFailures(t *testing.T) {
	h := newHarness(t, 100, 30)
	for range 2 {
		h.mach.FailNextStart(errors.New("client crashed"))
		h.tap("op:0")
		h.tap(idCall)
		h.until("failure", screenIs("unavailable"))
		h.tap(idBack)
	}
	h.tap("op:0")
	h.tap(idCall)
	h.until("in call", screenIs("in-call"))
	h.advance(time.Minute)
	h.tap(idEnd)
	h.until("after", screenIs("after-call"))
	h.tap(idSkip)
	h.mach.FailNextStart(errors.New("client crashed"))
	h.tap("op:0")
	h.tap(idCall)
	h.until("failure", screenIs("unavailable"))
	if _, ok := h.log.last(usage.KindHardwareFault); ok {
		t.Fatal("failures were counted across a good call")
	}
}

func TestAttractScreenDriftsAndWakes(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:0")
	if !h.fire(func(m tea.Msg) bool { _, ok := m.(attractMsg); return ok }) {
		t.Fatal("no attract timer")
	}
	if h.m.Screen() != "attract" || !strings.Contains(plain(h.m), "Touchez l'écran pour commencer") {
		t.Fatalf("attract screen:\n%s", plain(h.m))
	}
	first := plain(h.m)
	h.advance(time.Minute)
	h.send(clockMsg{})
	if plain(h.m) == first {
		t.Fatal("the attract screen did not move after a minute")
	}
	h.tapAt(50, 15)
	if h.m.Screen() != "home" {
		t.Fatalf("a touch on the attract screen led to %s", h.m.Screen())
	}
}

func TestMissingCameraPutsOutOfServiceUntilBack(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:0")
	h.send(hw.Change{Device: "camera", OK: false, Reason: "/dev/video0 gone"})
	if h.m.Screen() != "out-of-service" || !strings.Contains(plain(h.m), "La caméra ne fonctionne pas.") {
		t.Fatalf("camera lost:\n%s", plain(h.m))
	}
	if e, ok := h.log.last(usage.KindHardwareFault); !ok || e.Detail["device"] != "camera" {
		t.Fatalf("hardware_fault: %+v", e)
	}
	h.send(hw.Change{Device: "camera", OK: false, Reason: "still gone"})
	if n := strings.Count(strings.Join(h.log.kinds(), " "), usage.KindHardwareFault); n != 1 {
		t.Fatalf("%d hardware_fault events for one fault", n)
	}
	h.send(hw.Change{Device: "camera", OK: true})
	if h.m.Screen() == "out-of-service" {
		t.Fatal("still out of service with the camera back")
	}
	if _, ok := h.log.last(usage.KindHardwareRecovered); !ok {
		t.Fatal("hardware_recovered not recorded")
	}
}

func TestPrintButtonOnlyWhenThePrinterCanPrint(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.send(hw.Change{Device: "printer", OK: false, Reason: hw.ReasonNoPaper})
	h.tap("op:0")
	if _, ok := h.target(idPrint); ok {
		t.Fatal("a print button with no paper")
	}
	h.send(hw.Change{Device: "printer", OK: true})
	if _, ok := h.target(idPrint); !ok {
		t.Fatal("no print button with the printer back")
	}
}

func TestClosedOperatorPrintsItsSlip(t *testing.T) {
	saturday := time.Date(2026, 12, 5, 15, 0, 0, 0, mustLoc("Europe/Paris"))
	h := newHarnessAt(t, 100, 30, saturday)
	h.tap("op:1")
	p, ok := h.target(idPrint)
	if !ok || !strings.Contains(strings.Join(p.lines, " "), "Imprimer ses coordonnées") {
		t.Fatalf("closed operator print button: %+v", p)
	}
	h.tap(idPrint)
	h.until("printed", func(m Model) bool { return m.notice == "print.done" })
	doc := h.m.document()
	// Read at home another day: a date and the hours, no "aujourd'hui".
	lines := strings.Join(doc.Lines, "\n")
	if doc.Kind != "slip" || doc.Phone != "3646" || doc.Opens != "lundi 7 décembre 2026 à 8:30" ||
		!strings.Contains(lines, "• lun.-ven. 08:30-12:00") || strings.Contains(lines+doc.Opens, "aujourd'hui") {
		t.Fatalf("slip: %+v", doc)
	}
}

var verb = regexp.MustCompile(`%[sdv]`)

func TestEveryLanguageHasEveryWord(t *testing.T) {
	fr := catalogs["fr"]
	for lang, c := range catalogs {
		for k, v := range fr {
			w, ok := c[k]
			if !ok {
				t.Errorf("%s lacks %q", lang, k)
				continue
			}
			if a, b := verb.FindAllString(v, -1), verb.FindAllString(w, -1); strings.Join(a, "") != strings.Join(b, "") {
				t.Errorf("%s %q has verbs %v, fr has %v", lang, k, b, a)
			}
		}
		for k := range c {
			if _, ok := fr[k]; !ok {
				t.Errorf("%s has %q that fr lacks", lang, k)
			}
		}
	}
}

func TestEveryKeyUsedExists(t *testing.T) {
	// A missing key shows as itself: walk the screens and look for one.
	h := newHarness(t, 120, 40)
	for _, lang := range Languages() {
		h.m.lang = lang
		for _, step := range []func(){
			func() {}, func() { h.tap("op:0") },
			func() { h.tap(idCall); h.until("in call", screenIs("in-call")) },
			func() { h.tap(idEnd); h.until("after", screenIs("after-call")) },
			func() { h.tap(idSkip) },
		} {
			step()
			for k := range catalogs["fr"] {
				if strings.Contains(plain(h.m), k) && strings.Contains(k, ".") {
					t.Fatalf("%s %s shows the raw key %q", lang, h.m.Screen(), k)
				}
			}
		}
	}
}

func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		s := float64(v) / 0xffff
		if s <= 0.03928 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

func contrast(a, b color.Color) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func TestThemesAreReadable(t *testing.T) {
	need := map[string]float64{"default": 4.5, "high-contrast": 7}
	for name, p := range themes {
		pairs := map[string][2]color.Color{
			"text":             {p.Fg, p.Bg},
			"muted":            {p.Muted, p.Bg},
			"warning":          {p.Warn, p.Bg},
			"tile text":        {p.TileFg, p.TileBg},
			"open on tile":     {p.Open, p.TileBg},
			"closed on tile":   {p.Closed, p.TileBg},
			"open on screen":   {p.Open, p.Bg},
			"closed on screen": {p.Closed, p.Bg},
			"primary button":   {p.PrimaryFg, p.Primary},
			"disabled button":  {p.DisabledFg, p.Disabled},
		}
		for what, c := range pairs {
			if r := contrast(c[0], c[1]); r < need[name] {
				t.Errorf("%s: %s contrast %.2f < %.1f", name, what, r, need[name])
			}
		}
	}
}

// FuzzInput sends random keys and touches: the shell never panics, never
// quits, always fits the screen, and a call is left only by ending it.
func FuzzInput(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 15, 7}, true)
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"), false)
	keys := []tea.KeyPressMsg{
		{Code: tea.KeyEnter}, {Code: tea.KeyEscape}, {Code: tea.KeyTab}, {Code: tea.KeyTab, Mod: tea.ModShift},
		{Code: tea.KeyUp}, {Code: tea.KeyDown}, {Code: tea.KeyLeft}, {Code: tea.KeyRight},
		{Code: 'c', Mod: tea.ModCtrl}, {Code: 'z', Mod: tea.ModCtrl}, {Code: tea.KeyF12}, {Code: '3', Text: "3"},
		{Code: tea.KeySpace, Text: " "}, {Code: 'q', Text: "q"},
	}
	// Commands are not run: this is about Update and View alone, from a
	// home screen and from a call, on models prepared once.
	home := newHarness(f, 80, 24)
	call := newHarness(f, 80, 24)
	call.tap("op:0")
	call.tap(idCall)
	call.until("in call", screenIs("in-call"))
	f.Fuzz(func(t *testing.T, in []byte, inCall bool) {
		m := home.m
		if inCall {
			m = call.m
		}
		for i := 0; i+2 < len(in); i += 3 {
			before := m.Screen()
			var msg tea.Msg
			activating := false
			switch in[i] % 4 {
			case 0, 1:
				k := keys[int(in[i+1])%len(keys)]
				activating = k.Code == tea.KeyEnter || k.Code == tea.KeySpace
				msg = k
			case 2:
				msg = tea.MouseClickMsg{X: int(in[i+1]) % 80, Y: int(in[i+2]) % 24, Button: tea.MouseLeft}
			case 3:
				msg = tea.MouseReleaseMsg{X: int(in[i+1]) % 80, Y: int(in[i+2]) % 24, Button: tea.MouseLeft}
				activating = true
			}
			next, _ := m.Update(msg)
			m = next.(Model)
			if before == "in-call" && m.Screen() != "in-call" && !activating {
				t.Fatalf("%T %v left the call", msg, msg)
			}
			if Filter(m, tea.QuitMsg{}) != nil {
				t.Fatal("the shell would quit")
			}
		}
		for _, l := range strings.Split(m.View().Content, "\n") {
			if w := ansi.StringWidth(l); w > 80 {
				t.Fatalf("a line of %d cells", w)
			}
		}
	})
}

// Every printer reason a back-end can report has words for citizens in
// every language, and the issue's own words are kept.
func TestEveryPrinterReasonHasWords(t *testing.T) {
	reasons := []string{hw.ReasonNoPaper, hw.ReasonOffline, hw.ReasonJammed, hw.ReasonNoToner, hw.ReasonUnknown,
		hw.ReasonNoPrinter, hw.ReasonPaused, hw.ReasonDoorOpen, hw.ReasonNoService, hw.ReasonMisconfigured,
		hw.ReasonJobFailed, hw.ReasonJobCanceled}
	for lang, c := range catalogs {
		for _, r := range reasons {
			if _, ok := c["printer."+r]; !ok {
				t.Errorf("%s has no words for printer reason %q", lang, r)
			}
		}
	}
	if tr("fr", "printer."+hw.ReasonNoPaper) != "Plus de papier" || tr("fr", "printer."+hw.ReasonOffline) != "Imprimante hors ligne" {
		t.Error("the issue's words changed")
	}
}
