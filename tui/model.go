// Package tui is the kiosk shell's Bubble Tea program: one root model, one
// file per screen, hit-tested touch targets and a keyboard path to each.
package tui

import (
	"context"
	"log/slog"
	"maps"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
	"github.com/loiret/borne/usage"
)

// Recorder is where the shell writes its usage events.
type Recorder interface {
	Record(ctx context.Context, e usage.Event) (usage.Event, error)
}

// Deps is everything the shell needs from outside.
type Deps struct {
	Config    *config.Config
	Operators []operators.Operator
	HW        hw.Hardware
	Log       Recorder // nil: events are dropped
	Maint     Maintenance
	Logger    *slog.Logger // nil: slog.Default()
	Now       func() time.Time
	// After delivers msg after d: tea.Tick in the kiosk, a fake clock in
	// tests.
	After func(d time.Duration, msg tea.Msg) tea.Cmd
	// Mirror receives every frame drawn, for remote help; nil: none.
	Mirror *Mirror
	// Remote, when set, makes this model a remote maintenance session
	// rather than the kiosk (remote.go).
	Remote *Remote
}

type screen int

const (
	scrHome screen = iota
	scrOperator
	scrCalling
	scrInCall
	scrAfter
	scrUnavailable
	scrPin
	scrMaint
)

// Model is the root and only tea.Model of the shell.
type Model struct {
	d      Deps
	log    *slog.Logger
	ops    []operators.Operator
	texts  []map[string]opText // by operator, then language
	site   siteText
	styles map[string]*Styles
	st     *Styles
	lang   string
	theme  string

	w, h         int
	now          time.Time
	scr          screen
	sel          int    // operator shown on the operator screen
	focus        int    // index into the current screen's targets
	pressed      string // target under the last press, for tap = press+release
	drag         dragState
	page         int    // home grid page
	notice       string // catalog key of a passing notice ("print.done")
	noticeReason string // a printer reason to add to the notice
	unavail      string // catalog key of why the service is unavailable
	dimmed       bool
	attract      bool                // the calm screen shown after a long idle period
	hours        *operators.Schedule // the site's opening hours; nil: always open
	asleep       bool                // outside opening hours: the screen is off
	closedShown  bool                // a touch while asleep shows "closed" a while
	health       *health
	boxes        *boxes
	gen          int // bumps on each input: stale idle timers are ignored
	call         call
	snd          sound        // the call's sound (sound.go)
	sndq         *serialQueue // orders to the sound server, in order
	recq         *serialQueue // usage events, in the order they happened
	quiting      bool

	oos   usage.OutOfService // set by maintenance; zero: in service
	maint maintState

	shownAt time.Time // when the screen last changed (tapGuard)
	scroll  int       // first line shown of a long operator page
	stest   soundTest // the sound test page (soundtest.go)
}

type siteText struct{ name, phone string }

// StopMsg asks the shell to stop (SIGTERM); nothing else can.
type StopMsg struct{}

// New builds the shell. Text from config is cleaned once here.
func New(d Deps) Model {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.After == nil {
		d.After = after
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	m := Model{d: d, log: d.Logger, w: 80, h: 24}
	m.styles = map[string]*Styles{}
	for name := range themes {
		m.styles[name] = newStyles(name)
	}
	m.site = siteText{name: clean(d.Config.Site.Name), phone: clean(d.Config.Site.HelpPhone)}
	m.ops = d.Operators
	m.texts = cleanTexts(d.Operators)
	m.resetPreferences()
	m.now = d.Now()
	m.health = newHealth()
	m.boxes = &boxes{drawn: map[string]string{}}
	m.sndq, m.recq = &serialQueue{}, &serialQueue{}
	if s, ok := d.Config.SiteSchedule(); ok && d.Remote == nil {
		m.hours = &s
	}
	if d.Remote != nil {
		m.scr = scrPin
		m.syncKiosk()
	} else {
		m.oos = restored(d.Maint.Service)
	}
	return m
}

func (m *Model) resetPreferences() {
	m.lang = m.siteLang()
	m.theme = m.d.Config.Kiosk.Theme
	if _, ok := m.styles[m.theme]; !ok {
		m.theme = "default"
	}
	m.st = m.styles[m.theme]
}

// Init starts the minute clock and the idle timers.
func (m Model) Init() tea.Cmd {
	// The first clock message comes at once: a kiosk started at night
	// goes to sleep at once.
	if m.remote() {
		return tea.Batch(m.clockTick(), m.idleTimers(), m.askLockout())
	}
	return tea.Batch(func() tea.Msg { return clockMsg{} }, m.clockTick(), m.idleTimers(), m.askPrinter(), m.resizeChecks(), m.soundBetweenCalls())
}

// Update routes a message, then notes when the screen changed: a new
// screen ignores touches a moment (tapGuard), and a press made on the
// screen before never completes a tap on this one.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	before := m.where()
	next, cmd := m.route(msg)
	n, ok := next.(Model)
	if ok && n.where() != before {
		n.shownAt, n.pressed, n.drag = n.d.Now(), "", dragState{}
		return n, cmd
	}
	return next, cmd
}

// route routes messages: globals first, then input, then the call.
func (m Model) route(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = max(msg.Width, 1), max(msg.Height, 1)
		return m, nil
	case sizeCheckMsg:
		return m, askSize
	case StopMsg:
		m.quiting = true
		return m, tea.Quit
	case clockMsg:
		m.now = m.d.Now()
		m, cmd := m.followHours()
		return m, tea.Batch(cmd, m.clockTick())
	case sleepAgainMsg:
		return m.onSleepAgain(msg)
	case tea.KeyPressMsg:
		return m.onKey(msg)
	case tea.MouseClickMsg:
		return m.onPress(msg.Mouse())
	case tea.MouseReleaseMsg:
		return m.onRelease(msg.Mouse())
	case tea.MouseMotionMsg:
		return m.onDrag(msg.Mouse())
	case tea.MouseWheelMsg:
		return m.onWheel(msg.Mouse())
	case idleMsg, dimMsg, attractMsg, afterTimeoutMsg:
		return m.onTimer(msg)
	case OutOfServiceMsg, BackInServiceMsg:
		return m.onService(msg)
	case RestartMsg:
		return m.onRestart()
	case LockMsg:
		if m.agent() {
			return m.lock()
		}
		return m, nil
	case printedMsg:
		return m.onPrinted(msg)
	case hw.Change:
		return m.onChange(msg)
	case unlockMsg:
		return m.onUnlock(msg)
	case lockStateMsg:
		return m.onLockState(msg)
	case pinTickMsg:
		return m.onPinTick(msg)
	case checksMsg, figuresMsg, maintDoneMsg, relockMsg, levelBackMsg:
		return m.onMaint(msg)
	case soundLevelMsg, soundSetMsg, soundTestMsg, soundMeterMsg:
		return m.onSound(msg)
	case printerMsg:
		m.health.printer = msg.status
		return m, nil
	}
	return m.updateCall(msg)
}

// Filter keeps the terminal's suspend and interrupt away from the shell and
// lets it quit only when it was asked to stop.
func Filter(model tea.Model, msg tea.Msg) tea.Msg {
	switch msg.(type) {
	case tea.SuspendMsg, tea.InterruptMsg:
		return nil
	case tea.QuitMsg:
		if m, ok := model.(Model); ok && m.quiting {
			return msg
		}
		return nil
	}
	return msg
}

func (m Model) t(key string) string { return tr(m.lang, key) }

// Screen names the current screen, for tests and diagnostics.
func (m Model) Screen() string {
	switch {
	case m.agent():
	case m.blocked():
		return "out-of-service"
	case m.asleep && m.closedShown:
		return "closed"
	case m.asleep:
		return "asleep"
	case m.attract:
		return "attract"
	}
	return [...]string{"home", "operator", "calling", "in-call", "after-call", "unavailable", "pin", "maintenance"}[m.scr]
}

// Lang is the language on screen.
func (m Model) Lang() string { return m.lang }

// Theme is the theme on screen.
func (m Model) Theme() string { return m.theme }

func (m Model) ctx(d time.Duration) (context.Context, context.CancelFunc) {
	return withTimeout(d)
}

// withTimeout bounds every call into hardware and storage: nothing the
// shell waits for can hang it.
func withTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// record writes a usage event in the background, stamped with the site,
// the place and the shell's clock.
func (m Model) record(e usage.Event) tea.Cmd {
	if m.d.Log == nil {
		return nil
	}
	now := m.d.Now()
	e.At = now
	e.Site = m.d.Config.Site.ID
	e.Place = m.d.Config.PlaceAt(now)
	if m.remote() {
		e.Detail = maps.Clone(e.Detail)
		if e.Detail == nil {
			e.Detail = map[string]any{}
		}
		e.Detail["remote"] = true
	}
	rec, log := m.d.Log, m.log
	// Queued now, in Update's order: back in service then locked, a moment
	// apart, are logged in that order whichever Cmd runs first.
	wait := m.recq.push(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := rec.Record(ctx, e); err != nil {
			log.Error("usage event not recorded", "kind", e.Kind, "err", err)
		}
	})
	return func() tea.Msg {
		wait()
		return nil
	}
}

// opText is an operator's words in one language, cleaned for the terminal.
type opText struct {
	operators.Text
	Phone, Website string
}

// cleanTexts cleans every operator's words in every language once, so no
// frame pays for it and no control character from config reaches the
// terminal.
func cleanTexts(ops []operators.Operator) []map[string]opText {
	out := make([]map[string]opText, len(ops))
	each := func(ss []string) []string {
		r := make([]string, len(ss))
		for i, s := range ss {
			r[i] = clean(s)
		}
		return r
	}
	for i, op := range ops {
		out[i] = map[string]opText{}
		for _, lang := range Languages() {
			t := op.Text(lang)
			out[i][lang] = opText{
				Text:  operators.Text{Name: clean(t.Name), Summary: clean(t.Summary), Helps: each(t.Helps), Documents: each(t.Documents)},
				Phone: clean(op.Phone), Website: clean(op.Website),
			}
		}
	}
	return out
}

// text is operator i's words in the language on screen.
func (m Model) text(i int) opText { return m.texts[i][m.lang] }
