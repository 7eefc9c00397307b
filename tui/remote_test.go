package tui

import (
	"strings"
	"sync"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/usage"
)

// fakeKiosk is the kiosk as a remote session sees it: what the session
// sent, and the state the test says the kiosk drew.
type fakeKiosk struct {
	mu    sync.Mutex
	sent  []tea.Msg
	state KioskState
}

func (k *fakeKiosk) send(msg tea.Msg) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sent = append(k.sent, msg)
}

func (k *fakeKiosk) State() KioskState {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.state
}

func (k *fakeKiosk) set(s KioskState) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.state = s
}

func (k *fakeKiosk) messages() []tea.Msg {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]tea.Msg(nil), k.sent...)
}

func newRemoteHarness(t *testing.T) (*harness, *fakeKiosk) {
	t.Helper()
	k := &fakeKiosk{}
	h := newHarnessDeps(t, 100, 30, tuesday, func(*config.Config) {}, func(d *Deps) {
		d.Remote = &Remote{Send: k.send, State: k.State}
	})
	return h, k
}

// A remote session opens on the PIN pad, and a right PIN opens the menu;
// every event it records says it came from afar.
func TestRemoteSessionUnlocks(t *testing.T) {
	h, _ := newRemoteHarness(t)
	if h.m.Screen() != "pin" || !h.m.Agent() {
		t.Fatalf("a remote session opens on %s", h.m.Screen())
	}
	h.typePIN("135790")
	h.typePIN(demoPIN)
	if h.m.Screen() != "maintenance" {
		t.Fatalf("right PIN led to %s", h.m.Screen())
	}
	if _, ok := h.target("t:call"); ok {
		t.Fatal("a test call offered from afar")
	}
	h.tap("m:tests")
	if _, ok := h.target("t:call"); ok {
		t.Fatal("a test call offered from afar")
	}
	h.key("esc")
	h.tap("m:lock")
	if h.m.Agent() {
		t.Fatalf("locking left the session on %s", h.m.Screen())
	}
	want := []string{usage.KindMaintenancePinFail, usage.KindMaintenanceUnlocked, usage.KindMaintenanceLocked}
	if got := h.log.kinds(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", got, want)
	}
	for _, e := range h.log.all() {
		if e.Detail["remote"] != true {
			t.Fatalf("%s not marked remote: %+v", e.Kind, e.Detail)
		}
	}
}

// Out of service from afar reaches the kiosk as a message, and the menu
// offers the way back, which reaches the kiosk too.
func TestRemoteOutOfService(t *testing.T) {
	h, k := newRemoteHarness(t)
	h.typePIN(demoPIN)
	h.tap("m:service")
	h.tap("oos:oos.preset.fault")
	h.until("sent", func(Model) bool { return len(k.messages()) == 1 })
	if got, ok := k.messages()[0].(OutOfServiceMsg); !ok || got.State.Key != "oos.preset.fault" || got.State.Since.IsZero() {
		t.Fatalf("sent %#v", k.messages())
	}
	if _, ok := h.target("m:back-in-service"); !ok {
		t.Fatal("the menu does not offer the way back")
	}
	k.set(KioskState{OutOfService: usage.OutOfService{Key: "oos.preset.fault"}})
	h.tap("m:back-in-service")
	h.until("sent", func(Model) bool { return len(k.messages()) == 2 })
	if _, ok := k.messages()[1].(BackInServiceMsg); !ok {
		t.Fatalf("sent %#v", k.messages())
	}
	e, _ := h.log.last(usage.KindOutOfService)
	if e.Detail["message_kind"] != "preset" || e.Detail["remote"] != true {
		t.Fatalf("out_of_service: %+v", e.Detail)
	}
}

// The menu shows the kiosk's own state when it opens: an agent on site
// may have put it out of service.
func TestRemoteMenuFollowsTheKiosk(t *testing.T) {
	h, k := newRemoteHarness(t)
	k.set(KioskState{OutOfService: usage.OutOfService{Message: "Borne en maintenance"}})
	h.typePIN(demoPIN)
	if _, ok := h.target("m:back-in-service"); !ok {
		t.Fatal("the menu ignores the kiosk's out-of-service state")
	}
}

// Nothing from afar cuts a citizen's call: restart, the video client's
// restart and the brightness test wait; with the kiosk free, restart goes
// to the kiosk and ends the session.
func TestRemoteLeavesCallsAlone(t *testing.T) {
	h, k := newRemoteHarness(t)
	h.typePIN(demoPIN)
	k.set(KioskState{InCall: true})
	for _, id := range []string{"m:restart", "m:reset-client"} {
		h.m.maint.msg = ""
		h.tap(id)
		if !strings.Contains(h.m.maint.msg, "Un appel est en cours") {
			t.Fatalf("%s during a call: %q", id, h.m.maint.msg)
		}
	}
	h.tap("m:tests")
	h.tap("t:brightness")
	if !strings.Contains(h.m.maint.msg, "Un appel est en cours") {
		t.Fatalf("brightness during a call: %q", h.m.maint.msg)
	}
	if len(k.messages()) != 0 || h.m.Screen() != "maintenance" {
		t.Fatalf("sent %#v, screen %s", k.messages(), h.m.Screen())
	}
	h.key("esc")
	k.set(KioskState{})
	h.tap("m:restart")
	h.tap("m:restart:yes")
	h.until("sent", func(Model) bool { return len(k.messages()) == 1 })
	if _, ok := k.messages()[0].(RestartMsg); !ok {
		t.Fatalf("sent %#v", k.messages())
	}
	if h.m.Agent() {
		t.Fatal("the session stays open after a restart")
	}
	if e, _ := h.log.last(usage.KindMaintenanceLocked); e.Detail["remote"] != true {
		t.Fatalf("maintenance_locked: %+v", e)
	}
}

// A remote session does not dim the kiosk's screen nor show its calm
// screen, and does not follow the site's hours; idle on the pad, it ends.
func TestRemoteTimers(t *testing.T) {
	h, _ := newRemoteHarness(t)
	if h.fire(func(msg tea.Msg) bool { _, ok := msg.(dimMsg); return ok }) {
		t.Fatal("a remote session armed the dimming timer")
	}
	if h.fire(func(msg tea.Msg) bool { _, ok := msg.(attractMsg); return ok }) {
		t.Fatal("a remote session armed the calm screen")
	}
	if h.m.hours != nil {
		t.Fatal("a remote session follows the site's hours")
	}
	h.fire(func(msg tea.Msg) bool { _, ok := msg.(relockMsg); return ok })
	if h.m.Agent() {
		t.Fatalf("idle on the pad, the session stays on %s", h.m.Screen())
	}
}

// The kiosk side: a restart asked from afar waits for no call but refuses
// during one; out of service from afar leaves an agent on site in the menu.
func TestKioskAnswersRemote(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.tap("op:0")
	h.tap(idCall)
	h.until("in call", func(m Model) bool { return m.Screen() == "in-call" })
	if Filter(h.m, tea.QuitMsg{}) != nil {
		t.Fatal("quits before asked")
	}
	h.send(RestartMsg{})
	if Filter(h.m, tea.QuitMsg{}) != nil || h.m.Screen() != "in-call" {
		t.Fatal("a remote restart cut a call")
	}
	if s := h.m.kioskState(); !s.InCall {
		t.Fatalf("state %+v during a call", s)
	}

	h2 := newHarness(t, 100, 30)
	h2.unlock()
	h2.send(OutOfServiceMsg{State: usage.OutOfService{Key: "oos.preset.maintenance"}})
	if h2.m.Screen() != "maintenance" {
		t.Fatalf("out of service from afar threw the agent out: %s", h2.m.Screen())
	}
	if s := h2.m.kioskState(); s.OutOfService.Key != "oos.preset.maintenance" || s.InCall {
		t.Fatalf("state %+v", s)
	}
	h2.tap("m:lock")
	if h2.m.Screen() != "out-of-service" {
		t.Fatalf("after lock: %s", h2.m.Screen())
	}
	h2.send(RestartMsg{})
	if Filter(h2.m, tea.QuitMsg{}) == nil {
		t.Fatal("a remote restart on a free kiosk does not quit")
	}
}
