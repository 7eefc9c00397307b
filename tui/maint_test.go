package tui

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/printdoc"
	"github.com/loiret/borne/operators"
	"github.com/loiret/borne/usage"
)

const demoPIN = "246810"

func (h *harness) typePIN(pin string) {
	h.t.Helper()
	for _, d := range pin {
		h.key(string(d))
	}
	h.key("enter")
	h.until("PIN checked", func(m Model) bool { return !m.maint.checking })
}

func (h *harness) unlock() {
	h.t.Helper()
	h.key("f12")
	h.typePIN(demoPIN)
	if h.m.Screen() != "maintenance" {
		h.t.Fatalf("not unlocked: %s %q", h.m.Screen(), h.m.maint.pinMsg)
	}
}

func TestUnlockWithKeysAndNoDigitsLogged(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.key("f12")
	if h.m.Screen() != "pin" {
		t.Fatalf("F12 opened %s", h.m.Screen())
	}
	h.typePIN("135790")
	if h.m.Screen() != "pin" || !strings.Contains(plain(h.m), "Code incorrect.") {
		t.Fatalf("wrong PIN:\n%s", plain(h.m))
	}
	if e, _ := h.log.last(usage.KindMaintenancePinFail); e.Detail["attempts"] != 1 {
		t.Fatalf("pin_failed: %+v", e)
	}
	h.typePIN(demoPIN)
	if h.m.Screen() != "maintenance" {
		t.Fatalf("right PIN led to %s", h.m.Screen())
	}
	if _, ok := h.log.last(usage.KindMaintenanceUnlocked); !ok {
		t.Fatal("maintenance_unlocked not recorded")
	}
	for _, e := range h.log.all() {
		if s := fmt.Sprint(e); strings.Contains(s, "135790") || strings.Contains(s, demoPIN) {
			t.Fatalf("a PIN reached the log: %+v", e)
		}
	}
}

func TestUnlockByTouch(t *testing.T) {
	h := newHarness(t, 100, 30)
	for range 4 {
		h.tap(idCorner)
	}
	h.advance(3 * time.Second) // too slow: the count starts again
	h.tap(idCorner)
	if h.m.Screen() != "home" {
		t.Fatal("slow taps opened the pad")
	}
	for range 4 {
		h.advance(200 * time.Millisecond)
		h.tap(idCorner)
	}
	if h.m.Screen() != "pin" {
		t.Fatalf("five quick taps opened %s", h.m.Screen())
	}
	for _, d := range "1357" {
		h.tap("pin:" + string(d))
	}
	h.tap("pin:clear")
	for _, d := range demoPIN {
		h.tap("pin:" + string(d))
	}
	if !strings.Contains(plain(h.m), "● ● ● ● ● ●") {
		t.Fatalf("the pad does not show six dots:\n%s", plain(h.m))
	}
	if strings.Contains(plain(h.m), demoPIN) {
		t.Fatal("the pad shows the digits")
	}
	h.tap("pin:ok")
	h.until("unlocked", screenIs("maintenance"))
}

func TestLockoutAfterFiveAndItSurvivesARestart(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.key("f12")
	for i := range 5 {
		h.typePIN(fmt.Sprintf("13579%d", i))
	}
	e, ok := h.log.last(usage.KindMaintenanceLockout)
	if !ok || e.Detail["lockout_s"] != 30 {
		t.Fatalf("lockout event: %+v %v", e, ok)
	}
	if !strings.Contains(plain(h.m), "Trop d'essais. Réessayez dans 0:30") {
		t.Fatalf("no lock-out shown:\n%s", plain(h.m))
	}
	if ok, _ := h.target("pin:ok"); !ok.disabled {
		t.Fatal("Valider works while locked")
	}

	// The kiosk restarts (the plug): a new shell on the same attempts file.
	again := newHarnessAt(t, 100, 30, h.clock())
	again.lockPath = h.lockPath
	again.m.d.Maint = again.maintenance(again.m.d.Config)
	again.key("f12")
	again.until("lock-out read back", func(m Model) bool { return m.locked() })
	again.typePIN(demoPIN)
	if again.m.Screen() != "pin" {
		t.Fatal("the right PIN opened during the lock-out after a restart")
	}
	again.advance(31 * time.Second)
	again.fire(func(m tea.Msg) bool { _, ok := m.(pinTickMsg); return ok })
	again.typePIN(demoPIN)
	if again.m.Screen() != "maintenance" {
		t.Fatalf("after the lock-out: %s", again.m.Screen())
	}
}

func TestRelockAfterIdle(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.unlock()
	h.fire(func(m tea.Msg) bool { _, ok := m.(idleMsg); return ok })
	if h.m.Screen() != "maintenance" {
		t.Fatal("the citizens' idle reset closed maintenance")
	}
	if !h.fire(func(m tea.Msg) bool { _, ok := m.(relockMsg); return ok }) {
		t.Fatal("no relock timer")
	}
	if h.m.Screen() != "home" {
		t.Fatalf("relock led to %s", h.m.Screen())
	}
	if _, ok := h.log.last(usage.KindMaintenanceLocked); !ok {
		t.Fatal("maintenance_locked not recorded")
	}
}

func TestOutOfServiceAndBack(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.unlock()
	h.tap("m:service")
	h.tap("oos:oos.preset.fault")
	if e, _ := h.log.last(usage.KindOutOfService); e.Detail["message_kind"] != "preset" {
		t.Fatalf("out_of_service: %+v", e)
	}
	h.tap("m:lock")
	v := plain(h.m)
	if h.m.Screen() != "out-of-service" || !strings.Contains(v, "Panne technique, réparation en cours") || !strings.Contains(v, "02 38 00 00 00") {
		t.Fatalf("citizen screen:\n%s", v)
	}
	for range 5 {
		h.tap(idCorner)
	}
	if h.m.Screen() != "pin" {
		t.Fatalf("the corner does not open the pad out of service: %s", h.m.Screen())
	}
	h.typePIN(demoPIN)
	h.tap("m:back-in-service")
	if _, ok := h.log.last(usage.KindBackInService); !ok {
		t.Fatal("back_in_service not recorded")
	}
	h.tap("m:lock")
	if h.m.Screen() != "home" {
		t.Fatalf("after back in service: %s", h.m.Screen())
	}
}

func TestTypedOutOfServiceMessage(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.unlock()
	h.tap("m:service")
	for _, r := range "Fermé lundi" {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	h.tap("oos:draft")
	if e, _ := h.log.last(usage.KindOutOfService); e.Detail["message_kind"] != "custom" {
		t.Fatalf("out_of_service: %+v", e)
	}
	h.tap("m:lock")
	if !strings.Contains(plain(h.m), "Fermé lundi") {
		t.Fatalf("typed message not shown:\n%s", plain(h.m))
	}
	for _, e := range h.log.all() {
		if strings.Contains(fmt.Sprint(e), "lundi") {
			t.Fatal("the typed message reached the log")
		}
	}
}

func TestStatusFiguresAndTests(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.figures = Figures{Calls: 7, Completed: 6, Prints: 3, Surveys: 2, ScoreSum: 9, Faults: []usage.Fault{
		{At: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), Device: "camera", Reason: "unplugged"},
		{At: time.Date(2026, 11, 26, 16, 5, 0, 0, time.UTC), Device: "video client", Operator: h.m.ops[0].ID, Reason: "3 calls in a row failed to start or stopped early"},
	}}
	h.unlock()
	h.tap("m:status")
	h.until("checks", func(m Model) bool { return m.maint.checks != nil })
	v := plain(h.m)
	for _, want := range []string{"Caméra — fonctionne", "Imprimante — fonctionne", "Client vidéo — fonctionne"} {
		if !strings.Contains(v, want) {
			t.Fatalf("status lacks %q:\n%s", want, v)
		}
	}
	h.tap("m:menu")
	h.tap("m:figures")
	h.until("figures", func(m Model) bool { return m.maint.figures != nil })
	// Each fault says when (the site's time), what (in the agent's words,
	// with the operator's name) and the device's own words on why.
	if v := plain(h.m); !strings.Contains(v, "7 appels (6 menés à terme), 3 impressions, 2 avis (moyenne 4,5)") ||
		!strings.Contains(v, "27/11 10:00 — Caméra : unplugged") || !strings.Contains(v, "26/11 17:05 — Client vidéo ("+h.m.text(0).Name+") : 3 appels de suite") {
		t.Fatalf("figures:\n%s", v)
	}
	h.tap("m:menu")
	h.tap("m:export")
	h.until("export", func(m Model) bool {
		return strings.Contains(m.maint.msg, "Export terminé : 42 évènements dans le fichier borne-x.ndjson")
	})
	h.tap("m:tests")
	h.tap("t:page")
	h.until("test page", func(m Model) bool { return strings.Contains(m.maint.msg, "Page de test envoyée") })
	h.tap("t:brightness")
	h.until("dimmed", func(Model) bool { return h.mach.Level() == 1 })
	h.tap("t:call")
	h.until("test call", screenIs("in-call"))
	if op := h.m.ops[h.m.sel].ID; op != "essai" {
		t.Fatalf("test call to %s", op)
	}
}

func TestRestartIsTheOnlyWayOut(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.unlock()
	if Filter(h.m, tea.QuitMsg{}) != nil {
		t.Fatal("maintenance can quit without asking")
	}
	m, _ := h.m.maintAction(maintAction{op: opRestart, confirmed: true})
	if Filter(m, tea.QuitMsg{}) == nil {
		t.Fatal("restart does not quit")
	}
}

func TestRestartTheVideoClient(t *testing.T) {
	h := newHarness(t, 100, 30)
	stuck, err := h.mach.Hardware().Sessions.Start(t.Context(), h.m.ops[0])
	if err != nil {
		t.Fatal(err)
	}
	h.unlock()
	h.tap("m:reset-client")
	h.until("client reset", func(m Model) bool { return strings.Contains(m.maint.msg, "Le client vidéo est arrêté") })
	if !stuck.(interface{ Ended() bool }).Ended() {
		t.Fatal("the hung client still runs")
	}
}

func TestFormsAndAStuckJobRestarted(t *testing.T) {
	pdf, err := printdoc.Render(hw.Document{Kind: "test", Title: "Demande de RSA"}, tuesday)
	if err != nil {
		t.Fatal(err)
	}
	form := filepath.Join(t.TempDir(), "rsa.pdf")
	if err := os.WriteFile(form, pdf.Data, 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarnessCfg(t, 100, 30, tuesday, func(c *config.Config) {
		c.Operators.Custom = append(c.Operators.Custom, operators.Spec{ID: "caf",
			Forms: []operators.Form{{Title: "Demande de RSA", File: form}}})
	})
	h.mach.SetStall(true) // the printer holds the job
	h.tap("op:0")
	b, ok := h.target("form:0")
	if !ok || !strings.Contains(strings.Join(b.lines, ""), "Imprimer : Demande de RSA") {
		t.Fatalf("form button: %+v %v", b, ok)
	}
	h.tap("form:0")
	if h.m.notice != "print.busy" {
		t.Fatalf("notice %q", h.m.notice)
	}
	h.unlock()
	h.tap("m:printer")
	h.until("printer restarted", func(m Model) bool { return strings.Contains(m.maint.msg, "Imprimante relancée") })
	h.until("job printed", func(Model) bool {
		e, ok := h.log.last(usage.KindPrintJob)
		return ok && e.Outcome == usage.OutcomePrinted && e.Operator == "caf"
	})
	files, _ := filepath.Glob(filepath.Join(h.printDir, "job-*-form.pdf"))
	if len(files) != 1 {
		t.Fatalf("printed forms: %v", files)
	}
	if got, _ := os.ReadFile(files[0]); !bytes.Equal(got, pdf.Data) {
		t.Fatal("the form was not printed as it is")
	}
}

// The answer to a PIN typed on a pad that was closed and opened again
// since does not open the new pad.
func TestStalePINAnswerIgnored(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.key("f12")
	old := h.m.maint.pad
	h.key("esc")
	h.key("f12")
	h.send(unlockMsg{pad: old, a: usage.Attempt{OK: true}})
	if h.m.Screen() != "pin" {
		t.Fatalf("a stale answer opened maintenance: %s", h.m.Screen())
	}
	h.send(unlockMsg{pad: h.m.maint.pad, a: usage.Attempt{OK: true}})
	if h.m.Screen() != "maintenance" {
		t.Fatalf("the pad's own answer: %s", h.m.Screen())
	}
}
