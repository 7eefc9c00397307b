package tui

import (
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/usage"
)

// call is the video session under way, if any. gen tells the messages of
// this call from those of a call already given up.
type call struct {
	gen      int
	op       string
	session  hw.Session
	started  time.Time // zero until the session runs
	ending   string    // outcome the shell decided before the session ended
	checking bool
	test     bool // an agent's trial call from maintenance
}

type (
	readyMsg struct {
		gen    int
		reason string // catalog key of what is missing; "" when ready
	}
	sessionStartedMsg struct {
		gen int
		s   hw.Session
	}
	sessionFailedMsg struct {
		gen int
		err error
	}
	sessionEndedMsg struct {
		gen int
		end hw.SessionEnd
	}
	callTickMsg struct{ gen int }
)

const (
	readyTimeout = time.Second
	startTimeout = 30 * time.Second
	endTimeout   = 10 * time.Second
	// A session that dies sooner than this never really worked.
	earlyFailure = 10 * time.Second
)

func (m Model) updateCall(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case readyMsg:
		return m.onReady(msg)
	case sessionStartedMsg:
		return m.onStarted(msg)
	case sessionFailedMsg:
		if msg.gen != m.call.gen || m.scr != scrCalling {
			return m, nil
		}
		m.log.Warn("video session did not start", "operator", m.call.op, "err", msg.err)
		return m.failCall("unavail.client", 0)
	case sessionEndedMsg:
		return m.onEnded(msg)
	case callTickMsg:
		return m.onCallTick(msg)
	}
	return m, nil
}

func (m Model) startCall() (Model, tea.Cmd) {
	op := m.ops[m.sel]
	if !m.callable(m.sel) {
		return m, nil
	}
	m.call = call{gen: m.call.gen + 1, op: op.ID, checking: true}
	m.scr, m.focus = scrCalling, 0
	return m, m.checkReady(m.call.gen)
}

// checkReady checks, within a second, what a call cannot work without:
// the video client can be run, the camera, a speaker and a microphone are
// there. The screen is set
// to its call level on the way; a screen that cannot be dimmed still shows
// the call, so its failure is only logged. The camera is made ready here,
// before the video client opens it (a browser holds the device for the
// whole call): preset applied, privacy off.
func (m Model) checkReady(gen int) tea.Cmd {
	cam, disp, snd, log := m.d.HW.Camera, m.d.HW.Display, m.d.HW.Audio, m.log
	pre, _ := m.d.HW.Sessions.(hw.Preflighter)
	op := m.ops[m.sel]
	return func() tea.Msg {
		ctx, cancel := m.ctx(readyTimeout)
		defer cancel()
		if pre != nil {
			if err := pre.Preflight(ctx, op); err != nil {
				log.Warn("video client cannot start", "operator", op.ID, "err", err)
				return readyMsg{gen: gen, reason: "unavail.client"}
			}
		}
		if cam != nil {
			st, err := cam.Check(ctx)
			if err != nil || !st.Present {
				log.Warn("camera not ready", "reason", st.Reason, "err", err)
				return readyMsg{gen: gen, reason: "unavail.camera"}
			}
			if err := cam.SetPrivacy(ctx, false); err != nil {
				log.Warn("camera privacy not set", "on", false, "err", err)
			}
		}
		if reason := soundReady(ctx, snd, log); reason != "" {
			return readyMsg{gen: gen, reason: reason}
		}
		if disp != nil {
			if err := disp.SetLevel(ctx, hw.LevelCall); err != nil {
				log.Warn("screen level not set for the call", "err", err)
			}
		}
		return readyMsg{gen: gen}
	}
}

// callable tells whether operator i can be called now.
func (m Model) callable(i int) bool {
	op := m.ops[i]
	return op.Callable() && op.Open(m.now) && !m.suspended(i)
}

func (m Model) onReady(msg readyMsg) (tea.Model, tea.Cmd) {
	if msg.gen != m.call.gen || m.scr != scrCalling {
		return m, nil
	}
	if msg.reason != "" {
		return m.failCall(msg.reason, 0)
	}
	m.call.checking = false
	op, gen, sessions := m.ops[m.sel], m.call.gen, m.d.HW.Sessions
	return m, func() tea.Msg {
		ctx, cancel := m.ctx(startTimeout)
		defer cancel()
		s, err := sessions.Start(ctx, op)
		if err != nil {
			return sessionFailedMsg{gen: gen, err: err}
		}
		return sessionStartedMsg{gen: gen, s: s}
	}
}

func (m Model) onStarted(msg sessionStartedMsg) (tea.Model, tea.Cmd) {
	if msg.gen != m.call.gen || m.scr != scrCalling {
		// Given up while it was starting: stop it at once.
		return m, endSession(msg.s)
	}
	m.call.session, m.call.started = msg.s, m.d.Now()
	m.now = m.call.started
	m.scr, m.focus = scrInCall, 0
	gen := m.call.gen
	return m, tea.Batch(
		m.record(m.callEvent(usage.Event{Kind: usage.KindSessionStarted, Operator: m.call.op})),
		waitSession(gen, msg.s),
		m.callTick(gen),
		m.soundForCall(gen),
	)
}

func waitSession(gen int, s hw.Session) tea.Cmd {
	return func() tea.Msg { return sessionEndedMsg{gen: gen, end: <-s.Done()} }
}

func endSession(s hw.Session) tea.Cmd {
	if s == nil {
		return nil
	}
	return func() tea.Msg {
		ctx, cancel := withTimeout(endTimeout)
		defer cancel()
		_ = s.End(ctx) // Done reports the end, or its failure, either way
		return nil
	}
}

func (m Model) callTick(gen int) tea.Cmd { return m.d.After(time.Second, callTickMsg{gen}) }

// cancelCall gives up a call still connecting.
func (m Model) cancelCall() (Model, tea.Cmd) {
	if m.scr != scrCalling {
		return m, nil
	}
	e := m.callEvent(usage.Event{Kind: usage.KindSessionEnded, Operator: m.call.op, Outcome: usage.OutcomeCancelled})
	test := m.call.test
	m.call = call{gen: m.call.gen + 1}
	m.scr, m.focus = scrOperator, 0
	// The camera was readied for the call: behind its shutter again.
	if test {
		m, back := m.backFromTest("test.call.cancelled")
		return m, tea.Batch(m.record(e), back, m.setPrivacy(true))
	}
	return m, tea.Batch(m.record(e), m.setPrivacy(true))
}

func (m Model) endCall() (Model, tea.Cmd) {
	if m.scr != scrInCall || m.call.ending != "" {
		return m, nil
	}
	m.call.ending = usage.OutcomeCompleted
	return m, endSession(m.call.session)
}

func (m Model) onCallTick(msg callTickMsg) (tea.Model, tea.Cmd) {
	if msg.gen != m.call.gen || m.scr != scrInCall {
		return m, nil
	}
	m.now = m.d.Now()
	if m.now.Sub(m.call.started) >= m.maxSession() && m.call.ending == "" {
		m.call.ending = usage.OutcomeTimeout
		return m, endSession(m.call.session)
	}
	return m, m.callTick(msg.gen)
}

func (m Model) onEnded(msg sessionEndedMsg) (tea.Model, tea.Cmd) {
	if msg.gen != m.call.gen || m.scr != scrInCall {
		return m, nil
	}
	now := m.d.Now()
	dur := now.Sub(m.call.started)
	outcome := m.call.ending
	if outcome == "" {
		switch {
		case errors.Is(msg.end.Err, hw.ErrSessionTimeout):
			outcome = usage.OutcomeTimeout
		case msg.end.Err != nil:
			outcome = usage.OutcomeFailed
		default:
			outcome = usage.OutcomeCompleted
		}
	}
	if outcome == usage.OutcomeFailed && dur < earlyFailure {
		m.log.Warn("video session ended early", "operator", m.call.op, "err", msg.end.Err)
		return m.failCall("unavail.ended", dur)
	}
	e := m.callEvent(usage.Event{Kind: usage.KindSessionEnded, Operator: m.call.op, Outcome: outcome, DurationMS: dur.Milliseconds()})
	m.call.ending = outcome // the after-call screen says why a call was cut
	m.callWorked(m.call.op)
	m.call.session = nil
	if m.call.test { // an agent's trial: back to maintenance, no survey
		m, back := m.backFromTest("test.call.done")
		return m, tea.Batch(m.record(e), m.sweep(), back)
	}
	m.scr, m.focus = scrAfter, 0
	gen := m.call.gen
	return m, tea.Batch(m.record(e), m.sweep(),
		m.d.After(afterCallTimeout, afterTimeoutMsg{gen}))
}

// failCall shows the citizen that the service is unavailable and records
// the failed session.
func (m Model) failCall(reason string, dur time.Duration) (Model, tea.Cmd) {
	e := m.callEvent(usage.Event{Kind: usage.KindSessionEnded, Operator: m.call.op, Outcome: usage.OutcomeFailed, DurationMS: dur.Milliseconds()})
	m.call.session = nil
	if m.call.test {
		m, back := m.backFromTest("test.call.failed")
		m.maint.msg += " " + m.t(reason)
		return m, tea.Batch(m.record(e), m.callFailed(m.call.op), m.sweep(), back)
	}
	m.scr, m.focus, m.unavail = scrUnavailable, 0, reason
	return m, tea.Batch(m.record(e), m.callFailed(m.call.op), m.sweep())
}

// testCall rings the site's test operator from maintenance: a real call,
// logged apart from citizens' calls, after which the agent is back on the
// tests page, still unlocked.
func (m Model) testCall() (Model, tea.Cmd) {
	m.sel = m.testOperator()
	m, cmd := m.startCall()
	m.call.test = m.scr == scrCalling
	if !m.call.test {
		m.maint.msg = m.t("test.call.unavailable")
	}
	return m, cmd
}

// testing tells whether an agent's trial call has the screen.
func (m Model) testing() bool {
	return m.call.test && (m.scr == scrCalling || m.scr == scrInCall)
}

// backFromTest puts the agent back on the tests page with a word on how
// the trial call went.
func (m Model) backFromTest(key string) (Model, tea.Cmd) {
	m.call.test = false
	m.scr, m.maint.page, m.maint.msg = scrMaint, pageTests, m.t(key)
	m.firstFocus()
	return m, m.idleTimers()
}

// callEvent marks the events of a trial call, so that figures and stats
// count citizens' calls only.
func (m Model) callEvent(e usage.Event) usage.Event {
	if m.call.test {
		e.Detail = map[string]any{"test": true}
	}
	return e
}

// sweep puts the hardware back as it is between calls: the screen at its
// idle level, the camera behind its privacy shutter, the microphone closed
// and the speaker at the site's level. It runs once the session has ended,
// so the video client no longer holds the camera.
func (m Model) sweep() tea.Cmd {
	return tea.Batch(m.setLevel(hw.LevelActive), m.setPrivacy(true), m.soundBetweenCalls())
}

func (m Model) setPrivacy(on bool) tea.Cmd {
	cam := m.d.HW.Camera
	if cam == nil {
		return nil
	}
	log := m.log
	return func() tea.Msg {
		ctx, cancel := withTimeout(2 * time.Second)
		defer cancel()
		if err := cam.SetPrivacy(ctx, on); err != nil {
			log.Warn("camera privacy not set", "on", on, "err", err)
		}
		return nil
	}
}

func (m Model) score(n int) (Model, tea.Cmd) {
	if m.scr != scrAfter || n < 1 || n > 5 {
		return m, nil
	}
	op := m.call.op
	m.nextPerson()
	return m, m.record(usage.Event{Kind: usage.KindSurvey, Operator: op, Detail: map[string]any{"score": n}})
}
