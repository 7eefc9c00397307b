package sim

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/loiret/borne/hw"
)

// simAudio is the simulated sound: a speaker and a microphone that are
// there unless a test says otherwise, and a server that can go away.
type simAudio struct {
	volume  int
	muted   bool
	status  hw.AudioStatus
	away    bool
	mutes   []bool
	volumes []int
}

type audio struct{ m *Machine }

var (
	_ hw.Audio       = audio{}
	_ hw.SoundTester = audio{}
)

// SetAudio changes what the sound check finds.
func (m *Machine) SetAudio(s hw.AudioStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audio.status = s
}

// SetAudioAway takes the sound server away (true) or brings it back, and
// reports it as a back-end does.
func (m *Machine) SetAudioAway(away bool) {
	m.mu.Lock()
	m.audio.away = away
	m.mu.Unlock()
	reason := ""
	if away {
		reason = "the simulated sound server stopped"
	}
	m.report(hw.Change{Device: "audio", OK: !away, Reason: reason})
}

// MicMuted tells whether the microphone is closed.
func (m *Machine) MicMuted() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.audio.muted
}

// Volume is the speaker's level in percent.
func (m *Machine) Volume() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.audio.volume
}

// Mutes is every state the microphone was set to, in order.
func (m *Machine) Mutes() []bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]bool(nil), m.audio.mutes...)
}

func (a audio) err() error {
	if a.m.audio.away {
		return fmt.Errorf("%w: the simulated sound server stopped", hw.ErrUnavailable)
	}
	return nil
}

func (a audio) Check(ctx context.Context) (hw.AudioStatus, error) {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	if err := a.err(); err != nil {
		return hw.AudioStatus{Reason: err.Error()}, err
	}
	return a.m.audio.status, ctx.Err()
}

func (a audio) Volume(ctx context.Context) (int, error) {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	return a.m.audio.volume, a.err()
}

func (a audio) SetVolume(ctx context.Context, pct int) error {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	if err := a.err(); err != nil {
		return err
	}
	a.m.audio.volume = min(max(pct, 0), 100)
	a.m.audio.volumes = append(a.m.audio.volumes, a.m.audio.volume)
	return nil
}

func (a audio) SetMicMute(ctx context.Context, muted bool) error {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	if err := a.err(); err != nil {
		return err
	}
	a.m.audio.muted = muted
	a.m.audio.mutes = append(a.m.audio.mutes, muted)
	return nil
}

// PlayTone pretends to play for d.
func (a audio) PlayTone(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MicLevels is a microphone hearing someone speak, when it is open and
// there.
func (a audio) MicLevels(ctx context.Context) (<-chan float64, error) {
	out := make(chan float64)
	go func() {
		defer close(out)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			l := 0.0
			a.m.mu.Lock()
			hears := !a.m.audio.muted && a.m.audio.status.Mic
			a.m.mu.Unlock()
			if hears {
				l = 0.3 + 0.25*math.Sin(float64(i)/2)
			}
			select {
			case out <- l:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
