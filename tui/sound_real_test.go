package tui

// The shell's sound against a real PipeWire, WirePlumber and
// pipewire-pulse (hw/audio/audiotest), read back with pactl.

import (
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw/audio"
	"github.com/loiret/borne/hw/audio/audiotest"
)

// realSound is a harness whose sound is the real back-end on s.
func realSound(t *testing.T, addr string) (*harness, *audio.Backend) {
	t.Helper()
	b := audio.New(audio.Options{Server: addr, Volume: 70, Every: 200 * time.Millisecond, MaxWait: 500 * time.Millisecond})
	t.Cleanup(func() { b.Close() })
	<-b.Ready()
	h := newHarnessDeps(t, 100, 30, tuesday, func(*config.Config) {}, func(d *Deps) { d.HW.Audio = b })
	go func() { // the back-end's news, as cmd forwards them to the program
		for c := range b.Changes() {
			h.msgs <- c
		}
	}()
	return h, b
}

func pactlMuted(t *testing.T, s *audiotest.Server, want bool) func(Model) bool {
	return func(Model) bool {
		m, err := s.MicMuted()
		return err == nil && m == want
	}
}

func pactlVolume(s *audiotest.Server, want int) func(Model) bool {
	return func(Model) bool {
		v, err := s.Volume()
		return err == nil && v == want
	}
}

func TestRealSoundThroughACall(t *testing.T) {
	s := audiotest.Start(t, audiotest.Options{Mic: audiotest.MicSignal})
	if _, err := s.Pactl("set-sink-volume", audiotest.Speaker, "30%"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pactl("set-source-mute", audiotest.Microphone, "0"); err != nil {
		t.Fatal(err)
	}
	h, _ := realSound(t, s.Addr)
	h.until("microphone muted at start-up", pactlMuted(t, s, true))
	h.until("the site's level at start-up", pactlVolume(s, 70))

	h.startCall()
	h.until("microphone open during the call", pactlMuted(t, s, false))
	h.until("level on the bar", func(m Model) bool { return m.snd.level == 70 })
	h.tap(idSoundUp)
	h.tap(idSoundUp)
	h.until("two steps up", pactlVolume(s, 90))
	h.tap(idSoundDown)
	h.until("one step down", pactlVolume(s, 80))

	// The sound server dies mid-call: the call goes on, the bar says so.
	s.Kill()
	h.until("sound unavailable on the bar", func(m Model) bool { return m.snd.away })
	if v := plain(h.m); h.m.Screen() != "in-call" || !strings.Contains(v, "Son indisponible pour le moment") {
		t.Fatalf("screen %s:\n%s", h.m.Screen(), v)
	}
	s.Restart()
	h.until("sound back on the bar", func(m Model) bool { return !m.snd.away && m.snd.level == 80 })
	// A new server knows nothing of the call: the back-end puts it back.
	h.until("microphone open again", pactlMuted(t, s, false))
	h.until("the citizen's level again", pactlVolume(s, 80))
	if !strings.Contains(plain(h.m), "80 %") {
		t.Fatalf("bar:\n%s", plain(h.m))
	}

	h.tap(idEnd)
	h.until("after call", screenIs("after-call"))
	h.until("microphone muted after the call", pactlMuted(t, s, true))
	h.until("the site's level after the call", pactlVolume(s, 70))
}

func TestRealNoSoundServer(t *testing.T) {
	h, _ := realSound(t, "unix:"+t.TempDir()+"/native")
	start := time.Now()
	h.tap("op:0")
	h.tap(idCall)
	h.until("unavailable", screenIs("unavailable"))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("readiness took %v without a sound server", d)
	}
	if v := plain(h.m); !strings.Contains(v, "Le son ne fonctionne pas.") || !strings.Contains(v, "02 38 00 00 00") {
		t.Fatalf("unavailable screen:\n%s", v)
	}
	if len(h.mach.Sessions()) != 0 {
		t.Fatal("a call started without sound")
	}
}

func TestRealNoDevicesNoCall(t *testing.T) {
	s := audiotest.Start(t, audiotest.Options{Mic: audiotest.MicNone, NoSpeaker: true})
	h, _ := realSound(t, s.Addr)
	h.tap("op:0")
	h.tap(idCall)
	h.until("unavailable", screenIs("unavailable"))
	if v := plain(h.m); !strings.Contains(v, "Le haut-parleur ne fonctionne pas.") {
		t.Fatalf("unavailable screen:\n%s", v)
	}
}

func TestRealMaintenanceSoundTest(t *testing.T) {
	toneLength, meterLength = 200*time.Millisecond, time.Second
	defer func() { toneLength, meterLength = time.Second, 4*time.Second }()
	for _, tc := range []struct {
		name    string
		mic     audiotest.Mic
		verdict string
	}{
		{"signal", audiotest.MicSignal, "Le micro fonctionne."},
		{"silence", audiotest.MicSilent, "Le micro ne capte rien"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := audiotest.Start(t, audiotest.Options{Mic: tc.mic})
			h, _ := realSound(t, s.Addr)
			h.until("microphone muted", pactlMuted(t, s, true))
			h.unlock()
			h.tap("m:tests")
			h.tap("t:sound")
			h.until("meter", func(m Model) bool { return m.stest.stage == "meter" })
			if tc.mic == audiotest.MicSignal {
				h.until("the meter moves", func(m Model) bool { return m.stest.level > 0.05 })
			}
			h.until("verdict", func(m Model) bool { return m.stest.stage != "meter" })
			if v := plain(h.m); !strings.Contains(v, tc.verdict) {
				t.Fatalf("verdict:\n%s", v)
			}
			h.until("microphone muted after the test", pactlMuted(t, s, true))
		})
	}
}
