package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/usage"
)

// Sound targets: the in-call screen's and the call bar's.
const (
	idSoundDown = "snd:down"
	idSoundUp   = "snd:up"
	idSoundBar  = "snd:bar"
)

const (
	soundStep    = 10 // percent per tap
	soundMin     = 10 // a citizen cannot silence the adviser by mistake
	soundMax     = 100
	soundTimeout = 3 * time.Second
)

// sound is the call's sound as the citizen sees it. The level a citizen
// chooses is shown, never logged.
type sound struct {
	level int  // percent on the bar; 0 while not known
	away  bool // the sound server is unavailable
}

type (
	// soundLevelMsg is the speaker's level read back, or why not.
	soundLevelMsg struct {
		gen   int
		level int
		err   error
	}
	// soundSetMsg is the result of a change of the speaker's level.
	soundSetMsg struct{ err error }
)

// soundDo queues f for the sound server now, so that orders keep their
// order, and returns the Cmd that brings its answer back.
func (m Model) soundDo(f func(ctx context.Context, a hw.Audio) tea.Msg) tea.Cmd {
	a := m.d.HW.Audio
	if a == nil {
		return nil
	}
	res := make(chan tea.Msg, 1)
	wait := m.sndq.push(func() {
		ctx, cancel := withTimeout(soundTimeout)
		defer cancel()
		res <- f(ctx, a)
	})
	return func() tea.Msg {
		wait()
		return <-res
	}
}

// soundBetweenCalls closes the microphone and puts the speaker back at
// the site's level: at start-up and after every call, whatever ended it.
func (m Model) soundBetweenCalls() tea.Cmd {
	site, log := m.d.Config.Hardware.Audio.Volume, m.log
	return m.soundDo(func(ctx context.Context, a hw.Audio) tea.Msg {
		if err := a.SetMicMute(ctx, true); err != nil {
			log.Warn("microphone not closed", "err", err)
		}
		if site > 0 {
			if err := a.SetVolume(ctx, site); err != nil {
				log.Warn("volume not set back to the site's level", "err", err)
			}
		}
		return nil
	})
}

// soundForCall opens the microphone as the call starts and reads the
// level for the bar.
func (m Model) soundForCall(gen int) tea.Cmd {
	log := m.log
	return m.soundDo(func(ctx context.Context, a hw.Audio) tea.Msg {
		if err := a.SetMicMute(ctx, false); err != nil {
			log.Warn("microphone not opened for the call", "err", err)
		}
		l, err := a.Volume(ctx)
		return soundLevelMsg{gen: gen, level: l, err: err}
	})
}

// soundStepBy moves the speaker's level by one step up (+1) or down (-1).
func (m Model) soundStepBy(dir int) (Model, tea.Cmd) {
	if m.scr != scrInCall || m.snd.away || m.d.HW.Audio == nil {
		return m, nil
	}
	level := m.snd.level
	if level <= 0 {
		level = m.d.Config.Hardware.Audio.Volume
	}
	// Steps land on round levels whatever the level was.
	level = min(max((level+soundStep/2)/soundStep*soundStep+dir*soundStep, soundMin), soundMax)
	m.snd.level = level
	return m, m.soundDo(func(ctx context.Context, a hw.Audio) tea.Msg {
		return soundSetMsg{err: a.SetVolume(ctx, level)}
	})
}

func (m Model) onSound(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case soundLevelMsg:
		if msg.gen != m.call.gen {
			return m, nil
		}
		if msg.err != nil {
			m.log.Warn("speaker level not read", "err", msg.err)
			m.snd.away = true
			return m, nil
		}
		m.snd.level, m.snd.away = msg.level, false
	case soundSetMsg:
		if msg.err != nil {
			m.log.Warn("speaker level not set", "err", msg.err)
			m.snd.away = true
		}
	case soundTestMsg, soundMeterMsg:
		return m.onSoundTest(msg)
	}
	return m, nil
}

// onSoundChange follows the sound server: the bar says when the sound is
// unavailable. When it is back the bar keeps the citizen's level: the
// back-end puts it back on the server, with the call's microphone.
func (m Model) onSoundChange(c hw.Change) (tea.Model, tea.Cmd) {
	was := m.snd.away
	m.snd.away = !c.OK
	var cmd tea.Cmd
	switch {
	case !c.OK && !was:
		cmd = tea.Batch(cmd, m.record(usage.Event{Kind: usage.KindHardwareFault, Detail: map[string]any{"device": "audio", "reason": short(c.Reason)}}))
	case c.OK && was:
		cmd = tea.Batch(cmd, m.record(usage.Event{Kind: usage.KindHardwareRecovered, Detail: map[string]any{"device": "audio"}}))
	}
	return m, cmd
}

// soundControls lays out "Son −", the level as a bar and "Son +" in the
// box x, y, w, h: the in-call screen's row, and the call bar's.
func (m Model) soundControls(f *frame, x, y, w, h int) {
	if m.d.HW.Audio == nil || w < 12 {
		return
	}
	bw := max(w/4, 6)
	gap := 1
	mid := max(w-2*bw-2*gap, 1)
	down := target{id: idSoundDown, lines: []string{m.t("sound.down")}, x: x, y: y, w: bw, h: h, disabled: m.snd.away}
	up := target{id: idSoundUp, lines: []string{m.t("sound.up")}, x: x + w - bw, y: y, w: bw, h: h, disabled: m.snd.away}
	f.add(down)
	f.put(x+bw+gap, y+(h-1)/2, mid, m.soundBar(mid))
	f.add(up)
}

// soundBar is the level drawn as a bar with its percentage, or the plain
// sentence when the sound is unavailable.
func (m Model) soundBar(w int) string {
	if m.snd.away {
		return m.st.Warn.Render(center(fit(m.t("sound.away"), w), w))
	}
	label := fmt.Sprintf(" %3d %%", m.snd.level)
	if m.snd.level <= 0 {
		label = "   … %"
	}
	n := max(w-len([]rune(label))-1, 1)
	full := min(m.snd.level*n/100, n)
	bar := m.st.Warn.Render(strings.Repeat("█", full)) + m.st.Muted.Render(strings.Repeat("░", n-full))
	return bar + m.st.Text.Render(label)
}

// center pads s to be in the middle of w cells.
func center(s string, w int) string {
	pad := max(w-len([]rune(s)), 0)
	return strings.Repeat(" ", pad/2) + s + strings.Repeat(" ", pad-pad/2)
}

// soundReady is the readiness check's part for sound: a catalog key of
// what is missing, "" when a call can be heard both ways.
func soundReady(ctx context.Context, a hw.Audio, log interface{ Warn(string, ...any) }) string {
	if a == nil {
		return ""
	}
	st, err := a.Check(ctx)
	switch {
	case err != nil:
		log.Warn("sound not ready", "err", err)
		return "unavail.sound"
	case !st.Speaker:
		log.Warn("no speaker", "reason", st.Reason)
		return "unavail.speaker"
	case !st.Mic:
		log.Warn("no microphone", "reason", st.Reason)
		return "unavail.mic"
	}
	return ""
}

// soundSlot is the sound's part of the call bar, right to left: "Son +",
// the level, "Son −". The level is a disabled box: focus and taps pass it.
func (m Model) soundSlot() []target {
	if m.d.HW.Audio == nil || m.w < 90 {
		return nil
	}
	bw, lw := 11, min(max(m.w/6, 16), 30)
	ts := []target{{id: idSoundUp, lines: centredLabel(m.t("sound.up"), m.h), w: bw, disabled: m.snd.away}}
	if m.w >= 120 {
		ts = append(ts, target{id: idSoundBar, lines: centredLabel(m.soundBar(lw-4), m.h), w: lw, disabled: true})
	}
	return append(ts, target{id: idSoundDown, lines: centredLabel(m.t("sound.down"), m.h), w: bw, disabled: m.snd.away})
}
