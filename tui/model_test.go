package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
	"github.com/loiret/borne/usage"
)

func screenIs(s string) func(Model) bool { return func(m Model) bool { return m.Screen() == s } }

func plain(m Model) string { return ansi.Strip(m.View().Content) }

func TestTapThroughAWholeCall(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:0")
	if h.m.Screen() != "operator" {
		t.Fatalf("screen %s after tapping a tile", h.m.Screen())
	}
	if e, ok := h.log.last(usage.KindOperatorViewed); !ok || e.Operator != "caf" || e.Site != "demo" || e.Place != "Gien" {
		t.Fatalf("operator_viewed: %+v %v", e, ok)
	}
	h.tap(idCall)
	h.until("in call", screenIs("in-call"))
	if !strings.Contains(plain(h.m), "Terminer l'appel") {
		t.Fatalf("in-call screen lacks its button:\n%s", plain(h.m))
	}
	if h.mach.Level() != hw.LevelCall || h.mach.Privacy() {
		t.Fatalf("during a call: level %v privacy %v", h.mach.Level(), h.mach.Privacy())
	}
	h.advance(2 * time.Minute)
	h.tap(idEnd)
	h.until("after call", screenIs("after-call"))
	e, _ := h.log.last(usage.KindSessionEnded)
	if e.Outcome != usage.OutcomeCompleted || e.DurationMS != 120000 || e.Operator != "caf" {
		t.Fatalf("session_ended: %+v", e)
	}
	if h.mach.Level() != hw.LevelActive || !h.mach.Privacy() {
		t.Fatalf("after a call: level %v privacy %v", h.mach.Level(), h.mach.Privacy())
	}
	h.tap("score:4")
	if h.m.Screen() != "home" {
		t.Fatalf("screen %s after scoring", h.m.Screen())
	}
	s, _ := h.log.last(usage.KindSurvey)
	if s.Detail["score"] != 4 {
		t.Fatalf("survey: %+v", s)
	}
	want := []string{"operator_viewed", "session_started", "session_ended", "survey"}
	if got := h.log.kinds(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestKeyboardReachesEverything(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.key("right") // CAF → CPAM
	h.key("enter")
	if h.m.Screen() != "operator" || h.m.ops[h.m.sel].ID != "cpam" {
		t.Fatalf("enter on the second tile opened %s %s", h.m.Screen(), h.m.ops[h.m.sel].ID)
	}
	h.key("esc")
	if h.m.Screen() != "home" {
		t.Fatalf("esc went to %s", h.m.Screen())
	}
	h.key("enter") // focus was reset to the first tile
	if h.m.ops[h.m.sel].ID != "caf" {
		t.Fatalf("focus not reset: %s", h.m.ops[h.m.sel].ID)
	}
	h.key("enter") // focus starts on Appeler
	h.until("in call", screenIs("in-call"))
	h.key("esc") // never hangs up
	if h.m.Screen() != "in-call" {
		t.Fatal("esc left a running call")
	}
	h.key("enter")
	h.until("after call", screenIs("after-call"))
	h.key("5")
	if s, _ := h.log.last(usage.KindSurvey); s.Detail["score"] != 5 {
		t.Fatalf("survey by key: %+v", s)
	}
}

func TestATapIsPressAndReleaseOnOneTarget(t *testing.T) {
	h := newHarness(t, 100, 30)
	x0, y0, _ := h.find("op:0")
	x1, y1, _ := h.find("op:1")
	h.send(tea.MouseClickMsg{X: x0, Y: y0, Button: tea.MouseLeft})
	h.send(tea.MouseReleaseMsg{X: x1, Y: y1, Button: tea.MouseLeft})
	if h.m.Screen() != "home" {
		t.Fatal("a press on one tile and a release on another opened something")
	}
	h.send(tea.MouseReleaseMsg{X: x0, Y: y0, Button: tea.MouseLeft})
	if h.m.Screen() != "home" {
		t.Fatal("a release without a press opened something")
	}
	h.tapAt(1, 3) // the margin: nothing there
	if h.m.Screen() != "home" {
		t.Fatal("a tap on the margin did something")
	}
}

func TestClosedOperatorCannotBeCalled(t *testing.T) {
	saturday := time.Date(2026, 12, 5, 15, 0, 0, 0, mustLoc("Europe/Paris"))
	h := newHarnessAt(t, 100, 30, saturday)
	if !strings.Contains(plain(h.m), "Fermé · ouvre lun. 9:00") {
		t.Fatalf("home does not say when the CAF opens:\n%s", plain(h.m))
	}
	h.tap("op:0")
	c, _ := h.target(idCall)
	if !c.disabled {
		t.Fatal("call button enabled while closed")
	}
	h.tap(idCall)
	if h.m.Screen() != "operator" || len(h.mach.Sessions()) != 0 {
		t.Fatalf("a closed operator was called: %s", h.m.Screen())
	}
}

func TestCancelWhileConnectingEndsTheLateSession(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:0")
	// Press "Appeler" but hold back what it starts, as if it were slow.
	m, cmd := h.m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	h.m = m.(Model)
	if h.m.Screen() != "calling" {
		t.Fatalf("screen %s", h.m.Screen())
	}
	h.tap(idCancel)
	if h.m.Screen() != "operator" {
		t.Fatalf("cancel went to %s", h.m.Screen())
	}
	if e, _ := h.log.last(usage.KindSessionEnded); e.Outcome != usage.OutcomeCancelled {
		t.Fatalf("cancel recorded %+v", e)
	}
	// The readiness check comes back late: nothing may start.
	h.run(cmd)
	h.settle(100 * time.Millisecond)
	if n := len(h.mach.Sessions()); n != 0 {
		t.Fatalf("%d sessions started after cancel", n)
	}
}

func TestStaleSessionIsEnded(t *testing.T) {
	h := newHarness(t, 100, 30)
	sess, err := h.mach.Hardware().Sessions.Start(t.Context(), h.m.ops[0])
	if err != nil {
		t.Fatal(err)
	}
	h.send(sessionStartedMsg{gen: 99, s: sess})
	h.until("stale session ended", func(Model) bool { return sess.(interface{ Ended() bool }).Ended() })
	if h.m.Screen() != "home" {
		t.Fatalf("a stale session changed the screen to %s", h.m.Screen())
	}
}

func TestStartFailureSaysUnavailable(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.mach.FailNextStart(errors.New("no such client"))
	h.tap("op:0")
	h.tap(idCall)
	h.until("unavailable", screenIs("unavailable"))
	v := plain(h.m)
	if !strings.Contains(v, "Service momentanément indisponible") || !strings.Contains(v, "02 38 00 00 00") {
		t.Fatalf("unavailable screen:\n%s", v)
	}
	if e, _ := h.log.last(usage.KindSessionEnded); e.Outcome != usage.OutcomeFailed {
		t.Fatalf("recorded %+v", e)
	}
	h.tap(idBack)
	if h.m.Screen() != "home" {
		t.Fatalf("back went to %s", h.m.Screen())
	}
}

func TestMissingCameraStopsTheCall(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.mach.UnplugCameraSilently(hw.CameraStatus{Present: false, Reason: "unplugged"})
	h.tap("op:0")
	h.tap(idCall)
	h.until("unavailable", screenIs("unavailable"))
	if len(h.mach.Sessions()) != 0 {
		t.Fatal("a call started without a camera")
	}
	if !strings.Contains(plain(h.m), "La caméra ne répond pas.") {
		t.Fatalf("no reason shown:\n%s", plain(h.m))
	}
}

func TestClientCrashEarlyIsAFailure(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:0")
	h.tap(idCall)
	h.until("in call", screenIs("in-call"))
	h.advance(3 * time.Second)
	h.mach.Sessions()[0].Hangup(errors.New("exit status 1"))
	h.until("unavailable", screenIs("unavailable"))
	if e, _ := h.log.last(usage.KindSessionEnded); e.Outcome != usage.OutcomeFailed || e.DurationMS != 3000 {
		t.Fatalf("recorded %+v", e)
	}
}

func TestAdviserHangsUp(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:0")
	h.tap(idCall)
	h.until("in call", screenIs("in-call"))
	h.advance(10 * time.Minute)
	h.mach.Sessions()[0].Hangup(nil)
	h.until("after call", screenIs("after-call"))
	if e, _ := h.log.last(usage.KindSessionEnded); e.Outcome != usage.OutcomeCompleted || e.DurationMS != 600000 {
		t.Fatalf("recorded %+v", e)
	}
}

func TestMaxSessionEndsTheCall(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:0")
	h.tap(idCall)
	h.until("in call", screenIs("in-call"))
	max := h.m.maxSession()
	h.advance(max - 4*time.Minute)
	isTick := func(m tea.Msg) bool { _, ok := m.(callTickMsg); return ok }
	h.fire(isTick)
	if !strings.Contains(plain(h.m), "L'appel se terminera dans") {
		t.Fatalf("no warning 5 minutes before the end:\n%s", plain(h.m))
	}
	h.advance(4 * time.Minute)
	h.fire(isTick)
	h.until("after call", screenIs("after-call"))
	if e, _ := h.log.last(usage.KindSessionEnded); e.Outcome != usage.OutcomeTimeout {
		t.Fatalf("recorded %+v", e)
	}
}

func TestAfterCallGoesHomeBySelf(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:0")
	h.tap(idCall)
	h.until("in call", screenIs("in-call"))
	h.tap(idEnd)
	h.until("after call", screenIs("after-call"))
	if !h.fire(func(m tea.Msg) bool { _, ok := m.(afterTimeoutMsg); return ok }) {
		t.Fatal("no after-call timer")
	}
	if h.m.Screen() != "home" {
		t.Fatalf("after 20 s: %s", h.m.Screen())
	}
	if _, ok := h.log.last(usage.KindSurvey); ok {
		t.Fatal("a survey was recorded without an answer")
	}
}

func isIdle(m tea.Msg) bool { _, ok := m.(idleMsg); return ok }
func isDim(m tea.Msg) bool  { _, ok := m.(dimMsg); return ok }

func TestIdleResetGoesHomeAndForgets(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap(idLang)
	h.tap(idContrast)
	h.tap("op:2")
	if h.m.Lang() != "en" || h.m.Theme() != "high-contrast" {
		t.Fatalf("lang %s theme %s", h.m.Lang(), h.m.Theme())
	}
	h.fire(isIdle)
	if h.m.Screen() != "home" || h.m.Lang() != "fr" || h.m.Theme() != "default" || h.m.focus != 0 {
		t.Fatalf("after idle: %s %s %s focus %d", h.m.Screen(), h.m.Lang(), h.m.Theme(), h.m.focus)
	}
	if _, ok := h.log.last(usage.KindIdleReset); !ok {
		t.Fatal("idle_reset not recorded")
	}
}

func TestIdleTimerFromAnOlderInputIsIgnored(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:0")
	stale := idleMsg{gen: h.m.gen - 1}
	h.send(stale)
	if h.m.Screen() != "operator" {
		t.Fatal("a stale idle timer reset the screen")
	}
}

func TestIdleNeverInterruptsACall(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:0")
	h.tap(idCall)
	h.until("in call", screenIs("in-call"))
	h.fire(isIdle)
	h.fire(isDim)
	if h.m.Screen() != "in-call" || h.mach.Level() != hw.LevelCall {
		t.Fatalf("idle in a call: %s level %v", h.m.Screen(), h.mach.Level())
	}
}

func TestWakingTouchActivatesNothing(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.fire(isDim)
	if h.mach.Level() != hw.LevelDim {
		t.Fatalf("not dimmed: %v", h.mach.Level())
	}
	h.tap("op:0")
	if h.m.Screen() != "home" {
		t.Fatal("the touch that woke the screen opened an operator")
	}
	h.until("screen awake", func(Model) bool { return h.mach.Level() == hw.LevelActive })
	h.tap("op:0")
	if h.m.Screen() != "operator" {
		t.Fatal("the next touch did nothing")
	}
}

func TestNoKeyStopsTheShell(t *testing.T) {
	h := newHarness(t, 100, 30)
	for _, k := range []string{"ctrl+c", "ctrl+z", "ctrl+\\", "q", "x", "f1", "f4"} {
		h.key(k)
	}
	if h.m.Screen() != "home" {
		t.Fatalf("keys moved the shell to %s", h.m.Screen())
	}
	for _, msg := range []tea.Msg{tea.QuitMsg{}, tea.SuspendMsg{}, tea.InterruptMsg{}} {
		if Filter(h.m, msg) != nil {
			t.Fatalf("%T let through", msg)
		}
	}
	m, cmd := h.m.Update(StopMsg{})
	if cmd == nil || Filter(m, cmd()) == nil {
		t.Fatal("StopMsg does not quit")
	}
}

func TestPrintTheSheet(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:1")
	h.tap(idPrint)
	h.until("printed", func(m Model) bool { return m.notice == "print.done" })
	if !strings.Contains(plain(h.m), "Prenez votre document") {
		t.Fatal("no notice to take the paper")
	}
	e, ok := h.log.last(usage.KindPrintJob)
	if !ok || e.Outcome != usage.OutcomePrinted || e.Operator != "cpam" {
		t.Fatalf("print_job: %+v", e)
	}
	files, _ := filepath.Glob(filepath.Join(h.printDir, "job-*-sheet.txt"))
	if len(files) != 1 {
		t.Fatalf("printed files: %v", files)
	}
	body, _ := os.ReadFile(files[0])
	for _, want := range []string{"CPAM du Loiret", "Documents à avoir avec vous", "3646"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("sheet lacks %q:\n%s", want, body)
		}
	}
}

func TestPrintFailureIsSaid(t *testing.T) {
	h := newHarness(t, 100, 30)
	// The paper tray is a file where the printer wants a folder: the job
	// cannot be written.
	os.RemoveAll(h.printDir)
	os.WriteFile(h.printDir, nil, 0o600)
	h.tap("op:1")
	h.tap(idPrint)
	h.until("print failed", func(m Model) bool { return m.notice == "print.failed" })
	if e, _ := h.log.last(usage.KindPrintJob); e.Outcome != usage.OutcomeFailed {
		t.Fatalf("print_job: %+v", e)
	}
}

func TestLanguageAndContrast(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap(idLang)
	v := plain(h.m)
	if !strings.Contains(v, "Open") || !strings.Contains(v, "Français") {
		t.Fatalf("english home:\n%s", v)
	}
	h.tap(idContrast)
	if h.m.View().BackgroundColor != themes["high-contrast"].Bg {
		t.Fatal("contrast theme not applied")
	}
}

func TestOutOfServiceHasNothingToPress(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.send(OutOfServiceMsg{State: usage.OutOfService{Message: "Travaux\x1b[2J dans la salle"}})
	v := plain(h.m)
	if !strings.Contains(v, "Borne hors service") || !strings.Contains(v, "Travaux dans la salle") || !strings.Contains(v, "02 38 00 00 00") {
		t.Fatalf("out of service:\n%s", v)
	}
	h.tapAt(10, 5)
	h.key("enter")
	if h.m.Screen() != "out-of-service" {
		t.Fatal("something could be pressed out of service")
	}
	h.send(BackInServiceMsg{})
	if h.m.Screen() != "home" {
		t.Fatal("not back in service")
	}
}

func TestAnySizeRenders(t *testing.T) {
	h := newHarness(t, 80, 24)
	sizes := [][2]int{{0, 0}, {1, 1}, {19, 7}, {20, 8}, {30, 10}, {80, 24}, {100, 30}, {200, 60}, {300, 100}, {41, 13}}
	for _, scr := range []func(){
		func() {},
		func() { h.tap("op:0") },
		func() { h.tap(idCall); h.until("in call", screenIs("in-call")) },
		func() { h.tap(idEnd); h.until("after call", screenIs("after-call")) },
	} {
		h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
		scr()
		for _, s := range sizes {
			h.send(tea.WindowSizeMsg{Width: s[0], Height: s[1]})
			lines := strings.Split(h.m.View().Content, "\n")
			w, ht := max(s[0], 1), max(s[1], 1)
			if len(lines) > ht {
				t.Fatalf("%s at %dx%d: %d lines", h.m.Screen(), s[0], s[1], len(lines))
			}
			for _, l := range lines {
				if ansi.StringWidth(l) > w {
					t.Fatalf("%s at %dx%d: a line of %d cells", h.m.Screen(), s[0], s[1], ansi.StringWidth(l))
				}
			}
		}
	}
}

func TestCleanKeepsTerminalSafe(t *testing.T) {
	cases := map[string]string{
		"CAF\x1b[2J du Loiret": "CAF du Loiret",
		"a\x1b]52;c;aGk=\x07b": "ab",
		"x\u202eevil\u202c":    "xevil",
		"tab\there\nnew":       "tab here new",
		"c1\u009b31m":          "c131m",
		"bad\xffutf8":          "bad�utf8",
		"normal — accents éàç": "normal — accents éàç",
		"nul\x00byte\x7f":      "nulbyte",
	}
	for in, want := range cases {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "CAF", "\x1b[31mred", "\u202e", "\xff\xfe", "\x9b6n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := clean(s)
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
				t.Fatalf("clean(%q) kept %U", s, r)
			}
		}
		if !strings.Contains(out, "\x1b") && strings.ContainsRune(out, 0xfffd) && !strings.ContainsRune(s, 0xfffd) && isValid(s) {
			t.Fatalf("clean(%q) invented a replacement character", s)
		}
	})
}

func isValid(s string) bool { return strings.ToValidUTF8(s, "") == s }

func TestBackEndEndsAnOverlongCall(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:0")
	h.tap(idCall)
	h.until("in call", screenIs("in-call"))
	h.advance(46 * time.Minute)
	h.mach.Sessions()[0].Hangup(fmt.Errorf("%w: systemd ended it", hw.ErrSessionTimeout))
	h.until("after call", screenIs("after-call"))
	if e, _ := h.log.last(usage.KindSessionEnded); e.Outcome != usage.OutcomeTimeout {
		t.Fatalf("recorded %+v", e)
	}
}

// privacyAtStart records the camera's privacy when a session starts and
// when it ends: a browser holds the camera for the whole call, so the
// shell's camera work comes before and after it, never during.
type privacyAtStart struct {
	hw.Sessions
	mach interface{ Privacy() bool }
	at   []bool
}

func (p *privacyAtStart) Start(ctx context.Context, op operators.Operator) (hw.Session, error) {
	p.at = append(p.at, p.mach.Privacy())
	return p.Sessions.Start(ctx, op)
}

func TestCameraReadyBeforeTheClientOpens(t *testing.T) {
	var spy *privacyAtStart
	h := newHarnessDeps(t, 100, 30, tuesday, func(*config.Config) {}, func(d *Deps) {
		spy = &privacyAtStart{Sessions: d.HW.Sessions}
		d.HW.Sessions = spy
	})
	spy.mach = h.mach
	h.tap("op:0")
	h.tap(idCall)
	h.until("in call", screenIs("in-call"))
	if len(spy.at) != 1 || spy.at[0] {
		t.Fatalf("privacy when the client started: %v (want off before it opens)", spy.at)
	}
	h.tap(idEnd)
	h.until("after call", screenIs("after-call"))
	if !h.mach.Privacy() {
		t.Error("privacy not back on after the call")
	}
}
