package tui

import (
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
)

// Target ids. Operator tiles are "op:<index>", scores "score:<n>".
const (
	idCorner   = "corner"
	idLang     = "lang"
	idContrast = "contrast"
	idNext     = "page:next"
	idPrev     = "page:prev"
	idCall     = "call"
	idPrint    = "print"
	idBack     = "back"
	idCancel   = "cancel"
	idEnd      = "end"
	idSkip     = "skip"
)

func (m Model) onKey(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	cmd, woke := m.touched()
	if k.String() == "f12" { // agents reach maintenance whatever the screen shows
		m, next := m.openPad()
		return m, tea.Batch(cmd, next)
	}
	if woke {
		return m, cmd
	}
	if m.inputRefused() {
		return m, cmd
	}
	if typed, ok := m.typeMessage(k); ok {
		return typed, cmd
	}
	if m.scr == scrPin {
		if s := k.String(); len(s) == 1 && s[0] >= '0' && s[0] <= '9' || s == "backspace" || (s == "enter" && m.maint.pin != "") {
			if s == "enter" {
				s = "ok"
			}
			m, next := m.pinKey(s)
			return m, tea.Batch(cmd, next)
		}
	}
	f := m.layout()
	targets := f.targets
	switch k := k.String(); {
	case k == "pgdown":
		m.scrollBy(f.scroll.page)
	case k == "pgup":
		m.scrollBy(-f.scroll.page)
	case k == "down" && f.scroll.max > 0:
		m.scrollBy(1)
	case k == "up" && f.scroll.max > 0:
		m.scrollBy(-1)
	case k == "tab", k == "right":
		m.moveFocus(targets, 1)
	case k == "shift+tab", k == "left":
		m.moveFocus(targets, -1)
	case k == "down":
		m.moveFocus(targets, m.columns())
	case k == "up":
		m.moveFocus(targets, -m.columns())
	case k == "enter", k == "space":
		if m.focus >= 0 && m.focus < len(targets) {
			return m.activate(targets[m.focus], cmd)
		}
	case k == "esc":
		return m.back(cmd)
	case len(k) == 1 && k >= "1" && k <= "5":
		if m.scr == scrAfter {
			return m.activate(target{id: "score:" + k}, cmd)
		}
	}
	return m, cmd
}

// onWheel scrolls a long page under a finger's swipe or a wheel.
func (m Model) onWheel(ms tea.Mouse) (tea.Model, tea.Cmd) {
	cmd, woke := m.touched()
	if woke || m.blocked() || m.asleep {
		return m, cmd
	}
	switch ms.Button {
	case tea.MouseWheelDown:
		m.scrollBy(2)
	case tea.MouseWheelUp:
		m.scrollBy(-2)
	}
	return m, cmd
}

// keepFocus moves the focus off a ▲/▼ button that a scroll has just
// disabled, to the other one. (A busy print button keeps it: it says
// why it does nothing.)
func (m *Model) keepFocus() {
	ts := m.layout().targets
	if m.focus < 0 || m.focus >= len(ts) || !ts[m.focus].disabled {
		return
	}
	switch ts[m.focus].id {
	case idScrollDown:
		m.moveFocus(ts, -1)
	case idScrollUp:
		m.moveFocus(ts, 1)
	}
}

// moveFocus moves along the targets that can take focus, wrapping around.
func (m *Model) moveFocus(targets []target, step int) {
	if len(targets) == 0 {
		return
	}
	n := len(targets)
	f := m.focus
	for range n {
		f = ((f+step)%n + n) % n
		if focusable(targets[f]) {
			break
		}
	}
	m.focus = f
}

// firstFocus puts the focus on the screen's first target that works.
func (m *Model) firstFocus() {
	m.focus = 0
	for i, t := range m.layout().targets {
		if focusable(t) {
			m.focus = i
			return
		}
	}
}

// focusable tells whether the focus may rest on t.
func focusable(t target) bool { return !t.disabled && !t.secret && t.id != idCorner }

// columns is how far up and down move: the grid's width on home.
func (m Model) columns() int {
	if m.scr == scrHome {
		return max(m.homeGrid().cols, 1)
	}
	return 1
}

// tapGuard is how long a new screen ignores touches: elderly people
// double-tap, and the second tap of "Appeler" must not land on the next
// screen's buttons.
const tapGuard = 500 * time.Millisecond

// where identifies the screen shown, to tell when it changes.
type where struct {
	screen    string
	page, sel int
	mpage     maintPage
	confirm   maintOp
}

func (m Model) where() where {
	return where{screen: m.Screen(), page: m.page, sel: m.sel, mpage: m.maint.page, confirm: m.maint.confirm}
}

// guarded tells whether the screen is too new to take a touch.
func (m Model) guarded() bool {
	return !m.shownAt.IsZero() && m.d.Now().Sub(m.shownAt) < tapGuard
}

func (m Model) onPress(ms tea.Mouse) (tea.Model, tea.Cmd) {
	cmd, woke := m.touched()
	m.pressed = ""
	if woke || ms.Button != tea.MouseLeft || m.guarded() {
		return m, cmd
	}
	m.pressed = m.hit(ms.X, ms.Y)
	if m.inputRefused() && m.pressed != idCorner {
		m.pressed = "" // out of service: only the agents' corner answers
		return m, cmd
	}
	m.drag = dragState{on: true, y: ms.Y}
	return m, cmd
}

// dragState follows a finger held on the screen, for onDrag.
type dragState struct {
	on bool
	y  int // the row the page last followed the finger to
}

// onDrag scrolls a long page under a finger that slides on it, row for
// row, as on a phone: the page follows the finger, and the press is no
// longer a tap (a slide that starts on Appeler calls nobody). Pages that
// fit keep the old rule: a press and a release on the same target.
func (m Model) onDrag(ms tea.Mouse) (tea.Model, tea.Cmd) {
	dy := ms.Y - m.drag.y
	if !m.drag.on || ms.Button != tea.MouseLeft || dy == 0 || m.blocked() || m.asleep || m.layout().scroll.max == 0 {
		return m, nil
	}
	cmd, _ := m.touched()
	m.drag.y, m.pressed = ms.Y, ""
	m.scrollBy(-dy)
	m.keepFocus()
	return m, cmd
}

// onRelease completes a tap: a press and a release on the same target.
func (m Model) onRelease(ms tea.Mouse) (tea.Model, tea.Cmd) {
	pressed := m.pressed
	m.pressed, m.drag = "", dragState{}
	if pressed == "" || m.guarded() {
		return m, nil
	}
	if m.hit(ms.X, ms.Y) != pressed {
		return m, nil
	}
	for i, t := range m.layout().targets {
		if t.id == pressed {
			if !t.secret {
				m.focus = i
			}
			return m.activate(t, nil)
		}
	}
	return m, nil
}

// hit is the target under a finger: the last target laid out that covers
// the cell, as the drawn layers stack. Only rectangles are compared, so a
// tap never pays for drawing.
func (m Model) hit(x, y int) string {
	ts := m.layout().targets
	for i := len(ts) - 1; i >= 0; i-- {
		t := ts[i]
		if t.kind != kindHidden && t.contains(x, y) {
			return t.id
		}
	}
	// The agents' corner lies under the header's words.
	for _, t := range ts {
		if t.kind == kindHidden && t.contains(x, y) {
			return t.id
		}
	}
	return ""
}

func (m Model) activate(t target, cmd tea.Cmd) (tea.Model, tea.Cmd) {
	if t.disabled {
		return m, cmd
	}
	var next tea.Cmd
	if t.act.op != opNone {
		m, next = m.maintAction(t.act)
		return m, tea.Batch(cmd, next)
	}
	switch id := t.id; {
	case id == idCorner:
		m, next = m.cornerTap()
	case strings.HasPrefix(id, "pin:"):
		m, next = m.pinKey(strings.TrimPrefix(id, "pin:"))
	case strings.HasPrefix(id, "form:"):
		i, _ := strconv.Atoi(strings.TrimPrefix(id, "form:"))
		m, next = m.printForm(i)
	case strings.HasPrefix(id, "op:"):
		i, _ := strconv.Atoi(strings.TrimPrefix(id, "op:"))
		m, next = m.openOperator(i)
	case strings.HasPrefix(id, "score:"):
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "score:"))
		m, next = m.score(n)
	case id == idLang:
		m.lang = m.nextLang()
	case id == idContrast:
		m.toggleTheme()
	case id == idNext:
		m.page++
		m.focus = 0
	case id == idPrev:
		m.page = max(m.page-1, 0)
		m.focus = 0
	case id == idBack:
		m.goHome()
	case id == idSkip:
		m.nextPerson()
	case id == idCall:
		m, next = m.startCall()
	case id == idCancel:
		m, next = m.cancelCall()
	case id == idEnd:
		m, next = m.endCall()
	case id == idSoundUp:
		m, next = m.soundStepBy(+1)
	case id == idSoundDown:
		m, next = m.soundStepBy(-1)
	case id == idPrint:
		m, next = m.printSheet()
	case id == idScrollDown:
		m.scrollBy(m.layout().scroll.page)
	case id == idScrollUp:
		m.scrollBy(-m.layout().scroll.page)
	}
	if strings.HasPrefix(t.id, "scroll:") {
		m.keepFocus()
	}
	return m, tea.Batch(cmd, next)
}

// back is Esc: one step back, never out of a running call.
func (m Model) back(cmd tea.Cmd) (tea.Model, tea.Cmd) {
	switch m.scr {
	case scrOperator, scrUnavailable, scrAfter, scrPin:
		m.goHome()
	case scrMaint:
		if m.maint.confirm != opNone || m.maint.page != pageMenu {
			m.maint.confirm = opNone
			m.maint.page, m.maint.msg = pageMenu, ""
			m.firstFocus()
		}
	case scrCalling:
		return m.activate(target{id: idCancel}, cmd)
	}
	return m, cmd
}

func (m Model) nextLang() string {
	langs := m.d.Config.Site.Languages
	for i, l := range langs {
		if l == m.lang {
			return langs[(i+1)%len(langs)]
		}
	}
	if len(langs) > 0 {
		return langs[0]
	}
	return m.lang
}

func (m *Model) toggleTheme() {
	if m.theme == "high-contrast" {
		m.theme = "default"
	} else {
		m.theme = "high-contrast"
	}
	m.st = m.styles[m.theme]
}
