package tui

import (
	"context"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/hw"
)

// How long the tone plays and the meter runs (tests shorten them).
var (
	toneLength  = time.Second
	meterLength = 4 * time.Second
)

const (
	// heard is the peak level above which the microphone picked something
	// up: a voice at arm's length is well above it, a quiet room below.
	heard = 0.02
)

// soundTest is the state of the sound test page.
type soundTest struct {
	gen     int
	stage   string  // "tone", "meter", "done", "failed"
	level   float64 // the last level, for the meter
	peak    float64
	failure string
}

type (
	// soundTestMsg says the tone was played and the meter started.
	soundTestMsg struct {
		gen    int
		levels <-chan float64
		err    error
	}
	// soundMeterMsg is one level from the microphone; done when the
	// meter stopped.
	soundMeterMsg struct {
		gen    int
		levels <-chan float64
		level  float64
		done   bool
	}
)

// startSoundTest opens the microphone, plays the tone, then starts the
// meter; the microphone is closed again when the meter stops.
func (m Model) startSoundTest() (Model, tea.Cmd) {
	t, ok := m.d.HW.Audio.(hw.SoundTester)
	if !ok || m.refuseDuringCall() {
		return m, nil
	}
	m.maint.page = pageSound
	m.stest = soundTest{gen: m.stest.gen + 1, stage: "tone"}
	gen := m.stest.gen
	return m, m.soundDo(func(ctx context.Context, a hw.Audio) tea.Msg {
		if err := a.SetMicMute(ctx, false); err != nil {
			return soundTestMsg{gen: gen, err: err}
		}
		tctx, cancel := withTimeout(toneLength + soundTimeout)
		defer cancel()
		if err := t.PlayTone(tctx, toneLength); err != nil {
			return soundTestMsg{gen: gen, err: err}
		}
		// The meter outlives this job: it stops by its own deadline.
		mctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(meterLength, cancel)
		levels, err := t.MicLevels(mctx)
		return soundTestMsg{gen: gen, levels: levels, err: err}
	})
}

func readLevel(gen int, levels <-chan float64) tea.Cmd {
	return func() tea.Msg {
		l, ok := <-levels
		return soundMeterMsg{gen: gen, levels: levels, level: l, done: !ok}
	}
}

func (m Model) onSoundTest(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case soundTestMsg:
		if msg.err != nil {
			if msg.gen == m.stest.gen {
				m.stest.stage, m.stest.failure = "failed", msg.err.Error()
			}
			return m, m.closeMicAfterTest()
		}
		if msg.gen == m.stest.gen {
			m.stest.stage = "meter"
		}
		return m, readLevel(msg.gen, msg.levels)
	case soundMeterMsg:
		// Read to the end even when the agent left the page, so the
		// microphone is closed whatever happens.
		if msg.done {
			if msg.gen == m.stest.gen && m.stest.stage == "meter" {
				m.stest.stage = "done"
			}
			return m, m.closeMicAfterTest()
		}
		if msg.gen == m.stest.gen {
			m.stest.level = msg.level
			m.stest.peak = max(m.stest.peak, msg.level)
		}
		return m, readLevel(msg.gen, msg.levels)
	}
	return m, nil
}

// closeMicAfterTest closes the microphone again, unless a call started
// meanwhile (an agent can lock maintenance during the test).
func (m Model) closeMicAfterTest() tea.Cmd {
	if m.scr == scrCalling || m.scr == scrInCall {
		return nil
	}
	log := m.log
	return m.soundDo(func(ctx context.Context, a hw.Audio) tea.Msg {
		if err := a.SetMicMute(ctx, true); err != nil {
			log.Warn("microphone not closed after the sound test", "err", err)
		}
		return nil
	})
}

// The sound test page (maintenance's pageSound): a tone on the speaker,
// then the microphone's level live for a few seconds, then a verdict.

// soundTestPage shows the test under way: the tone, the meter, the
// verdict.
func (m Model) soundTestPage(f *frame) {
	w := min(m.w-4, 70)
	lines := []string{}
	switch m.stest.stage {
	case "tone":
		lines = append(lines, m.t("test.sound.tone"))
	case "meter":
		lines = append(lines, m.t("test.sound.speak"), m.meter(w))
	case "done":
		verdict := m.st.Open.Background(m.st.P.Bg).Render(m.t("test.sound.ok"))
		if m.stest.peak < heard {
			verdict = m.st.Warn.Render(m.t("test.sound.silent"))
		}
		lines = append(lines, m.meter(w), verdict)
	case "failed":
		lines = append(lines, m.st.Warn.Render(m.t("test.sound.failed")), m.st.Muted.Render(clean(m.stest.failure)))
	}
	y := 5
	for _, l := range lines {
		s := m.para(m.st.Text, l, w, 3)
		f.put(2, y, w, s)
		y += strings.Count(s, "\n") + 2
	}
	if m.stest.stage == "done" || m.stest.stage == "failed" {
		by, bh := m.bottom()
		again := m.button(maintAction{op: opTestSound}, "test.sound.again")
		again.x, again.y, again.w, again.h = 2, min(max(by-bh-1, y), by-bh), max(m.w/2-3, 6), bh // never over the bottom row
		f.add(again)
	}
}

// meter draws the microphone's level, louder to the right.
func (m Model) meter(w int) string {
	n := max(w-2, 1)
	full := min(int(m.stest.level*float64(n)*2), n) // a voice reaches half way
	if m.stest.stage == "done" {
		full = min(int(m.stest.peak*float64(n)*2), n)
	}
	return "[" + m.st.Warn.Render(strings.Repeat("█", full)) + m.st.Muted.Render(strings.Repeat("·", n-full)) + "]"
}
