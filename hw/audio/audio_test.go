package audio_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/audio"
	"github.com/loiret/borne/hw/audio/audiotest"
)

// eventually polls f until it holds, for at most 10s.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if f() {
			return
		}
	}
	t.Fatalf("%s: not within 10s", what)
}

func newBackend(t *testing.T, addr string) *audio.Backend {
	t.Helper()
	b := audio.New(audio.Options{Server: addr, Volume: 70, Every: 200 * time.Millisecond, MaxWait: 500 * time.Millisecond})
	t.Cleanup(func() { b.Close() })
	return b
}

func up(b *audio.Backend) func() bool {
	return func() bool { ok, _ := b.Status(); return ok }
}

func muted(t *testing.T, s *audiotest.Server, want bool) func() bool {
	return func() bool {
		m, err := s.MicMuted()
		return err == nil && m == want
	}
}

func volume(s *audiotest.Server, want int) func() bool {
	return func() bool {
		v, err := s.Volume()
		return err == nil && v == want
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestControlsTheRealServer(t *testing.T) {
	s := audiotest.Start(t, audiotest.Options{Mic: audiotest.MicSignal})
	if _, err := s.Pactl("set-sink-volume", audiotest.Speaker, "30%"); err != nil {
		t.Fatal(err)
	}
	b := newBackend(t, s.Addr)
	eventually(t, "the server is reached", up(b))
	// On reaching the server the shell closes the microphone and sets the
	// site's level.
	eventually(t, "microphone muted at start", muted(t, s, true))
	eventually(t, "volume at the site's level", volume(s, 70))

	st, err := b.Check(ctx(t))
	if err != nil || !st.Speaker || !st.Mic {
		t.Fatalf("Check = %+v, %v; want a speaker and a microphone", st, err)
	}
	if err := b.SetMicMute(ctx(t), false); err != nil {
		t.Fatal(err)
	}
	if m, err := s.MicMuted(); err != nil || m {
		t.Fatalf("microphone muted = %v, %v after opening it", m, err)
	}
	for _, v := range []int{80, 90, 100, 60} {
		if err := b.SetVolume(ctx(t), v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Volume(); err != nil || got != v {
			t.Fatalf("pactl volume = %d, %v; want %d", got, err, v)
		}
		if got, err := b.Volume(ctx(t)); err != nil || got != v {
			t.Fatalf("Volume() = %d, %v; want %d", got, err, v)
		}
	}
	if err := b.SetMicMute(ctx(t), true); err != nil {
		t.Fatal(err)
	}
	if m, err := s.MicMuted(); err != nil || !m {
		t.Fatalf("microphone muted = %v, %v after closing it", m, err)
	}
	// Someone opens the microphone behind the shell's back between calls:
	// it is closed again within a look.
	if _, err := s.Pactl("set-source-mute", audiotest.Microphone, "0"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "microphone closed again", muted(t, s, true))

	// The shell stops in a call: the microphone does not stay open.
	if err := b.SetMicMute(ctx(t), false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if m, err := s.MicMuted(); err != nil || !m {
		t.Fatalf("microphone muted = %v, %v after Close", m, err)
	}
}

func TestRecoversWhenTheServerComesBack(t *testing.T) {
	s := audiotest.Start(t, audiotest.Options{Mic: audiotest.MicSilent})
	b := newBackend(t, s.Addr)
	eventually(t, "the server is reached", up(b))
	if err := b.SetMicMute(ctx(t), false); err != nil { // a call under way
		t.Fatal(err)
	}
	if err := b.SetVolume(ctx(t), 90); err != nil {
		t.Fatal(err)
	}
	<-drain(b.Changes())

	s.Kill()
	start := time.Now()
	eventually(t, "the loss is seen", func() bool { ok, _ := b.Status(); return !ok })
	t.Logf("loss seen after %v", time.Since(start).Round(time.Millisecond))
	c := <-b.Changes()
	if c.Device != "audio" || c.OK || c.Reason == "" {
		t.Fatalf("change = %+v; want audio down with a reason", c)
	}
	start = time.Now()
	err := b.SetVolume(ctx(t), 100) // the citizen taps "Son +" meanwhile
	if !errors.Is(err, hw.ErrUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("SetVolume while away = %v after %v; want ErrUnavailable at once", err, time.Since(start))
	}
	if _, err := b.Check(ctx(t)); !errors.Is(err, hw.ErrUnavailable) {
		t.Fatalf("Check while away = %v; want ErrUnavailable", err)
	}

	s.Restart()
	s.WaitDevices(audiotest.Options{Mic: audiotest.MicSilent})
	eventually(t, "the server is reached again", up(b))
	if c := <-b.Changes(); !c.OK {
		t.Fatalf("change = %+v; want audio back", c)
	}
	// The wanted state comes back with it: the call's open microphone and
	// the last level asked for.
	eventually(t, "microphone still open", muted(t, s, false))
	eventually(t, "volume put back", volume(s, 100))
}

// drain returns a channel closed once ch holds nothing more.
func drain(ch <-chan hw.Change) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
			case <-time.After(100 * time.Millisecond):
				close(done)
				return
			}
		}
	}()
	return done
}

func TestNoServerAnswersAtOnce(t *testing.T) {
	b := audio.New(audio.Options{Server: "unix:" + t.TempDir() + "/native", Volume: 70})
	defer b.Close()
	<-b.Ready()
	start := time.Now()
	st, err := b.Check(ctx(t))
	if !errors.Is(err, hw.ErrUnavailable) || st.Speaker || st.Mic || !strings.Contains(st.Reason, "sound server") {
		t.Fatalf("Check = %+v, %v; want unavailable with the reason", st, err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("Check took %v without a server", d)
	}
	checks := b.Doctor(ctx(t))
	if len(checks) != 3 || checks[0].Health != hw.Missing || !strings.Contains(checks[0].Reason, "pipewire-pulse") {
		t.Fatalf("doctor = %+v", checks)
	}
}

func TestNoDevices(t *testing.T) {
	o := audiotest.Options{Mic: audiotest.MicNone, NoSpeaker: true}
	s := audiotest.Start(t, o)
	b := newBackend(t, s.Addr)
	eventually(t, "the server is reached", up(b))
	st, err := b.Check(ctx(t))
	if err != nil || st.Speaker || st.Mic || !strings.Contains(st.Reason, "no speaker") || !strings.Contains(st.Reason, "no microphone") {
		t.Fatalf("Check = %+v, %v; want neither speaker nor microphone", st, err)
	}
	checks := b.Doctor(ctx(t))
	if checks[0].Health != hw.OK || checks[1].Health != hw.Missing || checks[2].Health != hw.Missing {
		t.Fatalf("doctor = %+v", checks)
	}
}

func TestToneAndMeter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mic   audiotest.Mic
		hears bool
	}{{"signal", audiotest.MicSignal, true}, {"silence", audiotest.MicSilent, false}} {
		t.Run(tc.name, func(t *testing.T) {
			s := audiotest.Start(t, audiotest.Options{Mic: tc.mic})
			b := newBackend(t, s.Addr)
			eventually(t, "the server is reached", up(b))
			if err := b.PlayTone(ctx(t), 300*time.Millisecond); err != nil {
				t.Fatalf("PlayTone: %v\n%s", err, s.Logs())
			}
			if err := b.SetMicMute(ctx(t), false); err != nil {
				t.Fatal(err)
			}
			mctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			levels, err := b.MicLevels(mctx)
			if err != nil {
				t.Fatal(err)
			}
			n, peak := 0, 0.0
			for l := range levels {
				n++
				peak = max(peak, l)
			}
			t.Logf("%d levels, peak %.3f", n, peak)
			if n < 3 {
				t.Fatalf("only %d levels in a second", n)
			}
			if (peak > 0.05) != tc.hears {
				t.Fatalf("peak %.3f; want a signal: %v", peak, tc.hears)
			}
		})
	}
}

// What a tap on "Son +" and a readiness check cost against a real
// pipewire-pulse.
func BenchmarkRealServer(b *testing.B) {
	s := audiotest.Start(b, audiotest.Options{Mic: audiotest.MicSilent})
	be := audio.New(audio.Options{Server: s.Addr, Volume: 70})
	defer be.Close()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if ok, _ := be.Status(); ok {
			break
		}
	}
	ctx := context.Background()
	b.Run("SetVolume", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := be.SetVolume(ctx, 50+i%50); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Check", func(b *testing.B) {
		for b.Loop() {
			if _, err := be.Check(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SetMicMute", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := be.SetMicMute(ctx, i%2 == 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
