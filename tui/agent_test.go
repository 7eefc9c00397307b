package tui

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/usage"
)

var padDots = regexp.MustCompile(`[●○][ ●○]*`)

// A tap on a digit of the PIN pad changes nothing on screen but the count
// of dots: not the focus, not a highlight. The frames the mirror hands to
// remote viewers are the same whichever digit was pressed.
func TestPadNeverShowsTheDigit(t *testing.T) {
	var seen string
	for d := range 10 {
		mirror := NewMirror()
		h := newHarnessDeps(t, 100, 30, tuesday, keepConfig, func(d *Deps) { d.Mirror = mirror })
		h.key("f12")
		h.tap(fmt.Sprintf("pin:%d", d))
		if h.m.maint.pin != fmt.Sprint(d) {
			t.Fatalf("digit %d not typed: %q", d, h.m.maint.pin)
		}
		if ts := h.m.layout().targets; ts[h.m.focus].secret {
			t.Fatalf("digit %d: the focus is on %s", d, ts[h.m.focus].id)
		}
		h.m.View()
		frame := padDots.ReplaceAllString(mirror.Frame().Content, "")
		if !strings.Contains(mirror.Frame().Content, "● ○ ○ ○ ○ ○") {
			t.Fatalf("digit %d: the mirror lacks the dot:\n%s", d, mirror.Frame().Content)
		}
		if seen != "" && frame != seen {
			t.Fatalf("the mirror's frame after digit %d differs from the one after digit 0", d)
		}
		seen = frame
	}
}

func keepConfig(*config.Config) {}

// The arrows move the focus over the pad's other buttons only: typing on
// the keyboard and moving about never highlights a digit.
func TestPadArrowsSkipTheDigits(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.key("f12")
	h.key("4")
	for _, k := range []string{"right", "right", "down", "left", "up", "tab", "right", "down", "down", "left"} {
		h.key(k)
		if ts := h.m.layout().targets; ts[h.m.focus].secret {
			t.Fatalf("after %s the focus is on the digit %s", k, ts[h.m.focus].id)
		}
	}
	if h.m.maint.pin != "4" {
		t.Fatalf("moving about changed the PIN typed: %q", h.m.maint.pin)
	}
}

// Restart and purge ask first; the "yes" is not where the button was, so
// a double tap does not confirm; Esc, Enter on the first focus and
// "Annuler" all step back.
func TestRestartAndPurgeAskFirst(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.unlock()
	x, y, _ := h.find("m:restart")
	h.tapAt(x, y)
	h.tapAt(x, y) // a double tap
	if Filter(h.m, tea.QuitMsg{}) != nil {
		t.Fatal("a double tap restarted the kiosk")
	}
	if !strings.Contains(plain(h.m), "Redémarrer la borne ? L'écran s'éteint") {
		t.Fatalf("no question:\n%s", plain(h.m))
	}
	h.key("esc")
	if _, ok := h.target("m:restart:yes"); ok || h.m.maint.confirm != opNone {
		t.Fatal("Esc did not step back")
	}
	h.tap("m:restart")
	h.key("enter") // the focus starts on "Annuler"
	if _, ok := h.target("m:restart"); !ok || Filter(h.m, tea.QuitMsg{}) != nil {
		t.Fatal("Enter on the question did not step back")
	}
	h.tap("m:purge")
	h.tap("m:menu")
	if h.m.maint.msg != "" {
		t.Fatalf("cancelled purge answered %q", h.m.maint.msg)
	}
	h.tap("m:purge")
	h.tap("m:purge:yes")
	h.until("purged", func(m Model) bool {
		return strings.Contains(m.maint.msg, "Les impressions en attente sont supprimées")
	})
	h.tap("m:restart")
	h.tap("m:restart:yes")
	if Filter(h.m, tea.QuitMsg{}) == nil {
		t.Fatal("a confirmed restart does not quit")
	}
}

// The trial call from maintenance is a real call, even out of service;
// when it ends the agent is back on the tests page, not on the citizens'
// survey, and its events say it was a test.
func TestTrialCallComesBackToMaintenance(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.unlock()
	h.tap("m:service")
	h.tap("oos:oos.preset.fault")
	h.tap("m:tests")
	h.tap("t:call")
	h.until("in call", screenIs("in-call"))
	if !strings.Contains(plain(h.m), "Terminer l'appel") {
		t.Fatalf("the trial call is hidden:\n%s", plain(h.m))
	}
	h.tap(idEnd)
	h.until("back in maintenance", screenIs("maintenance"))
	if _, ok := h.target("t:call"); !ok || !strings.Contains(plain(h.m), "Appel d'essai terminé") {
		t.Fatalf("not back on the tests page:\n%s", plain(h.m))
	}
	var got []string
	for _, e := range h.log.all() {
		if e.Kind == usage.KindSessionStarted || e.Kind == usage.KindSessionEnded {
			if e.Detail["test"] != true {
				t.Fatalf("%s not marked as a test: %+v", e.Kind, e.Detail)
			}
		}
		got = append(got, e.Kind)
	}
	want := "maintenance_unlocked out_of_service session_started session_ended"
	if strings.Join(got, " ") != want {
		t.Fatalf("events %v, want %s", got, want)
	}
}

// keeper records what maintenance keeps for the next start.
type keeper struct {
	mu   sync.Mutex
	kept []usage.OutOfService
}

func (k *keeper) keep(s usage.OutOfService) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kept = append(k.kept, s)
	return nil
}

func (k *keeper) last() (usage.OutOfService, int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.kept) == 0 {
		return usage.OutOfService{}, 0
	}
	return k.kept[len(k.kept)-1], len(k.kept)
}

// Out of service is kept as the ready message's key: set from a menu in
// English, citizens read it in their own language, French after the idle
// reset. Back in service keeps the zero state.
func TestOutOfServiceKeptAsAKey(t *testing.T) {
	k := &keeper{}
	h := newHarnessDeps(t, 100, 30, tuesday, keepConfig, func(d *Deps) { d.Maint.KeepService = k.keep })
	h.tap(idLang)
	h.unlock()
	h.tap("m:service")
	h.tap("oos:oos.preset.fault")
	h.until("kept", func(Model) bool { _, n := k.last(); return n == 1 })
	if s, _ := k.last(); s.Key != "oos.preset.fault" || s.Message != "" || !s.Since.Equal(h.clock()) { // the moment of the tap
		t.Fatalf("kept %+v", s)
	}
	h.tap("m:lock")
	if v := plain(h.m); !strings.Contains(v, "Technical fault, being repaired") {
		t.Fatalf("English citizen screen:\n%s", v)
	}
	h.fire(func(m tea.Msg) bool { _, ok := m.(idleMsg); return ok })
	if v := plain(h.m); !strings.Contains(v, "Panne technique, réparation en cours") {
		t.Fatalf("after the idle reset:\n%s", v)
	}
	h.unlock()
	h.tap("m:back-in-service")
	h.until("kept", func(Model) bool { _, n := k.last(); return n == 2 })
	if s, _ := k.last(); s.On() {
		t.Fatalf("back in service kept %+v", s)
	}
}

// An agent whose change cannot be kept is told so.
func TestOutOfServiceNotKeptIsSaid(t *testing.T) {
	h := newHarnessDeps(t, 100, 30, tuesday, keepConfig, func(d *Deps) {
		d.Maint.KeepService = func(usage.OutOfService) error {
			return &fs.PathError{Op: "open", Path: "/var/lib/borne/.out-of-service", Err: syscall.ENOSPC}
		}
	})
	h.unlock()
	h.tap("m:service")
	h.tap("oos:oos.preset.closed")
	h.until("told", func(m Model) bool { return m.maint.msg != "" })
	if v := plain(h.m); !strings.Contains(v, "ne survivra pas à un redémarrage") || strings.Contains(v, "/var/lib") {
		t.Fatalf("menu:\n%s", v)
	}
}

// What was kept comes back at start-up, checked.
func TestOutOfServiceRestored(t *testing.T) {
	for _, c := range []struct {
		kept usage.OutOfService
		want string
	}{
		{usage.OutOfService{Key: "oos.preset.closed"}, "Fermeture exceptionnelle"},
		{usage.OutOfService{Key: "no.such.key"}, "Borne en maintenance"},
		{usage.OutOfService{Message: "Fermé\x1b[2J lundi"}, "Fermé lundi"},
	} {
		h := newHarnessDeps(t, 100, 30, tuesday, keepConfig, func(d *Deps) { d.Maint.Service = c.kept })
		if v := plain(h.m); h.m.Screen() != "out-of-service" || !strings.Contains(v, c.want) {
			t.Fatalf("restored %+v: %s\n%s", c.kept, h.m.Screen(), v)
		}
	}
}

// The export's answers are sentences an agent understands; the error's
// own words stay out of the screen.
func TestExportAnswersInWords(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{ErrNoUSBKey, "Aucune clé USB n'est branchée"},
		{fmt.Errorf("export to /media/usb: %w", &fs.PathError{Op: "open", Path: "/media/usb/.x", Err: syscall.EROFS}), "La clé USB est protégée en écriture"},
		{fmt.Errorf("export to /media/usb: %w", &fs.PathError{Op: "write", Path: "/media/usb/.x", Err: syscall.ENOSPC}), "La clé USB est pleine"},
		{errors.New("sqlite: database disk image is malformed"), "Le détail est noté dans le journal de la borne"},
	} {
		h := newHarnessDeps(t, 100, 30, tuesday, keepConfig, func(d *Deps) {
			d.Maint.Export = func(ctx context.Context) (Exported, error) { return Exported{}, c.err }
		})
		h.unlock()
		h.tap("m:export")
		h.until("answer", func(m Model) bool { return m.maint.msg != "" })
		v := plain(h.m)
		if !strings.Contains(v, "L'export sur clé USB n'a pas abouti.") || !strings.Contains(v, c.want) {
			t.Fatalf("%v:\n%s", c.err, v)
		}
		for _, raw := range []string{"/media", "sqlite", "read-only", "no USB"} {
			if strings.Contains(v, raw) {
				t.Fatalf("%v: the screen shows %q:\n%s", c.err, raw, v)
			}
		}
	}
	h := newHarnessDeps(t, 100, 30, tuesday, keepConfig, func(d *Deps) {
		d.Maint.Export = func(ctx context.Context) (Exported, error) { return Exported{Events: 1, File: "borne-x.ndjson"}, nil }
	})
	h.tap(idLang)
	h.unlock()
	h.tap("m:export")
	h.until("answer", func(m Model) bool { return m.maint.msg != "" })
	if !strings.Contains(h.m.maint.msg, "Export done: 1 event in the file borne-x.ndjson") {
		t.Fatalf("english answer %q", h.m.maint.msg)
	}
}

// The status page says a failed check in words; the error goes to the log.
func TestStatusSaysFailuresInWords(t *testing.T) {
	h := newHarnessDeps(t, 100, 30, tuesday, keepConfig, func(d *Deps) {
		d.Maint.LogHealth = func(context.Context) error { return errors.New("sqlite: disk I/O error (5898)") }
	})
	h.unlock()
	h.tap("m:status")
	h.until("checks", func(m Model) bool { return m.maint.checks != nil })
	v := plain(h.m)
	if !strings.Contains(v, "Le détail est noté dans le journal de la borne") || strings.Contains(v, "sqlite") {
		t.Fatalf("status:\n%s", v)
	}
}

// What an agent sees at the smallest screen: the question and both
// answers, whole.
func TestConfirmationFitsSmallScreens(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.unlock()
	h.tap("m:restart")
	v := plain(h.m)
	for _, want := range []string{"Redémarrer la borne ?", "Annuler", "Oui, redémarrer"} {
		if !strings.Contains(v, want) {
			t.Fatalf("80×24 lacks %q:\n%s", want, v)
		}
	}
}
