package tui

import (
	tea "charm.land/bubbletea/v2"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/usage"
)

func (h *harness) startCall() {
	h.t.Helper()
	h.tap("op:0")
	h.tap(idCall)
	h.until("in call", screenIs("in-call"))
}

func micClosed(h *harness, want bool) func(Model) bool {
	return func(Model) bool { return h.mach.MicMuted() == want }
}

func TestMicOpenOnlyDuringTheCall(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.until("microphone closed at start", micClosed(h, true))
	h.startCall()
	h.until("microphone open in the call", micClosed(h, false))
	h.until("level shown", func(m Model) bool { return m.snd.level == 70 })
	if v := plain(h.m); !strings.Contains(v, "Son −") || !strings.Contains(v, "Son +") || !strings.Contains(v, "70 %") {
		t.Fatalf("no sound controls:\n%s", v)
	}
	h.tap(idSoundUp)
	h.tap(idSoundUp)
	h.tap(idSoundUp)
	h.tap(idSoundUp) // 100 is the top
	h.until("volume up", func(Model) bool { return h.mach.Volume() == 100 })
	h.tap(idSoundDown)
	h.until("volume down", func(Model) bool { return h.mach.Volume() == 90 })
	if !strings.Contains(plain(h.m), "90 %") {
		t.Fatalf("bar not at 90:\n%s", plain(h.m))
	}
	h.tap(idEnd)
	h.until("after call", screenIs("after-call"))
	h.until("microphone closed after the call", micClosed(h, true))
	h.until("site level back", func(Model) bool { return h.mach.Volume() == 70 })
	// The level the citizen chose is nowhere in the log.
	for _, e := range h.log.all() {
		for k := range e.Detail {
			if strings.Contains(k, "vol") || strings.Contains(k, "level") {
				t.Fatalf("event %s holds %s", e.Kind, k)
			}
		}
	}
}

func TestMicClosedWhenTheCallFails(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.startCall()
	h.until("microphone open", micClosed(h, false))
	h.advance(3 * time.Second)
	h.mach.Sessions()[0].Hangup(errors.New("exit status 1"))
	h.until("unavailable", screenIs("unavailable"))
	h.until("microphone closed after the crash", micClosed(h, true))
	// Opened once, closed at start and after: never left open.
	m := h.mach.Mutes()
	if len(m) < 3 || m[len(m)-1] != true {
		t.Fatalf("microphone states %v", m)
	}
}

func TestSoundAwayDuringTheCall(t *testing.T) {
	h := newHarness(t, 100, 30)
	h.startCall()
	h.until("level shown", func(m Model) bool { return m.snd.level == 70 })
	h.mach.SetAudioAway(true)
	h.until("sound away", func(m Model) bool { return m.snd.away })
	if v := plain(h.m); !strings.Contains(v, "Son indisponible pour le moment") || h.m.Screen() != "in-call" {
		t.Fatalf("sound away:\n%s", v)
	}
	if tg, _ := h.target(idSoundUp); !tg.disabled {
		t.Fatal("Son + still works with no sound server")
	}
	h.tap(idSoundUp) // nothing happens, nothing breaks
	if e, ok := h.log.last(usage.KindHardwareFault); !ok || e.Detail["device"] != "audio" {
		t.Fatalf("no fault recorded: %+v", e)
	}
	h.mach.SetAudioAway(false)
	h.until("sound back", func(m Model) bool { return !m.snd.away && m.snd.level == 70 })
	if v := plain(h.m); !strings.Contains(v, "70 %") || h.m.Screen() != "in-call" {
		t.Fatalf("sound back:\n%s", v)
	}
	if _, ok := h.log.last(usage.KindHardwareRecovered); !ok {
		t.Fatal("no recovery recorded")
	}
	h.tap(idSoundUp)
	h.until("volume up again", func(Model) bool { return h.mach.Volume() == 80 })
}

func TestNoSoundNoCall(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(h *harness)
		words string
	}{
		{"speaker", func(h *harness) { h.mach.SetAudio(hw.AudioStatus{Mic: true, Reason: "no speaker"}) }, "Le haut-parleur ne fonctionne pas."},
		{"mic", func(h *harness) { h.mach.SetAudio(hw.AudioStatus{Speaker: true, Reason: "no microphone"}) }, "Le micro ne fonctionne pas."},
		{"server", func(h *harness) { h.mach.SetAudioAway(true) }, "Le son ne fonctionne pas."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 100, 30)
			tc.set(h)
			h.tap("op:0")
			h.tap(idCall)
			h.until("unavailable", screenIs("unavailable"))
			if len(h.mach.Sessions()) != 0 {
				t.Fatal("a call started without sound")
			}
			v := plain(h.m)
			if !strings.Contains(v, tc.words) || !strings.Contains(v, "02 38 00 00 00") {
				t.Fatalf("unavailable screen:\n%s", v)
			}
		})
	}
}

func TestMaintenanceSoundTest(t *testing.T) {
	toneLength, meterLength = 50*time.Millisecond, 600*time.Millisecond
	defer func() { toneLength, meterLength = time.Second, 4*time.Second }()
	for _, tc := range []struct {
		name, lang, verdict string
		mic                 bool
	}{
		{"hears", "fr", "Le micro fonctionne.", true},
		{"silent", "fr", "Le micro ne capte rien", false},
		{"silent-en", "en", "The microphone picks up nothing", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 100, 30)
			h.mach.SetAudio(hw.AudioStatus{Speaker: true, Mic: tc.mic})
			if tc.lang == "en" {
				h.tap(idLang)
			}
			h.unlock()
			h.tap("m:tests")
			h.tap("t:sound")
			h.until("meter", func(m Model) bool { return m.stest.stage == "meter" })
			if tc.mic {
				h.until("the meter moves", func(m Model) bool { return m.stest.level > 0.05 })
				if !strings.Contains(plain(h.m), "█") {
					t.Fatalf("no meter:\n%s", plain(h.m))
				}
			}
			if h.mach.MicMuted() {
				t.Fatal("the microphone is closed during its test")
			}
			h.until("verdict", func(m Model) bool { return m.stest.stage == "done" })
			if v := plain(h.m); !strings.Contains(v, tc.verdict) {
				t.Fatalf("verdict:\n%s", v)
			}
			h.until("microphone closed after the test", micClosed(h, true))
		})
	}
}

func TestSoundOnTheCallBar(t *testing.T) {
	h := newHarness(t, 140, 30)
	h.startCall()
	h.send(tea.WindowSizeMsg{Width: 140, Height: 6}) // sway makes the shell the call bar
	if !h.m.barShown() {
		t.Fatal("no call bar")
	}
	h.until("level shown", func(m Model) bool { return m.snd.level == 70 })
	h.tap(idSoundUp)
	h.until("volume up from the bar", func(Model) bool { return h.mach.Volume() == 80 })
	if v := plain(h.m); !strings.Contains(v, "80 %") || !strings.Contains(v, "Son −") {
		t.Fatalf("bar:\n%s", v)
	}
	h.m.focus = 0
	if ts := h.m.layout().targets; ts[0].id != idEnd {
		t.Fatalf("first target %q; want Terminer l'appel", ts[0].id)
	}
}
