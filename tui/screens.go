package tui

import (
	"fmt"
	"strconv"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/loiret/borne/usage"
)

// layout is the current screen's frame. The maintenance corner comes last
// so that focus starts on the first real target.
func (m Model) layout() frame {
	var f frame
	if m.barShown() {
		m.callBar(&f)
		return f
	}
	if m.w < 20 || m.h < 8 {
		f.put(0, 0, m.w, m.st.Title.Render(fit(m.t("too.small"), m.w)))
		return f
	}
	if m.asleep && !m.agent() {
		// A black screen where the backlight cannot be switched off.
		if m.closedShown {
			m.header(&f)
			m.closedScreen(&f)
		}
		f.add(corner)
		return f
	}
	m.header(&f)
	switch {
	case m.blocked():
		m.outOfServiceScreen(&f)
	case m.attract:
		m.attractScreen(&f)
		return f // nothing to touch: any touch wakes it
	case m.scr == scrHome:
		m.home(&f)
	case m.scr == scrOperator:
		m.operator(&f)
	case m.scr == scrCalling:
		m.calling(&f)
	case m.scr == scrInCall:
		m.inCall(&f)
	case m.scr == scrAfter:
		m.afterCall(&f)
	case m.scr == scrUnavailable:
		m.unavailable(&f)
	case m.scr == scrPin:
		m.pinPad(&f)
	case m.scr == scrMaint:
		m.maintMenu(&f)
	}
	f.add(corner)
	return f
}

// bottom is where the row of buttons starts, and how tall they are.
func (m Model) bottom() (y, h int) {
	h = 3
	if m.h >= 40 {
		h = 5
	}
	return m.h - h - 1, h
}

// centred puts lines in the middle of the screen, from row y down.
func (m Model) centred(f *frame, y int, lines ...string) int {
	for _, l := range lines {
		w := min(m.w-4, 80)
		s := m.para(m.st.Text, l, w, 4)
		f.put((m.w-w)/2, y, w, s)
		y += lipgloss.Height(s)
	}
	return y
}

func (m Model) calling(f *frame) {
	op := m.text(m.sel)
	status := m.t("calling.connect")
	if m.call.checking {
		status = m.t("calling.check")
	}
	y := m.h / 4
	y = m.centred(f, y, m.st.Title.Render(fmt.Sprintf(m.t("calling.with"), op.Name)))
	m.centred(f, y+1, status)
	m.awayFromCall(f, target{id: idCancel, lines: []string{m.t("cancel")}})
}

// awayFromCall puts a call's only button in the bottom row's right third:
// never where "Appeler" was (the left of the operator screen's row), so
// the second tap of a double tap cannot cancel or end the call it started.
func (m Model) awayFromCall(f *frame, t target) {
	by, bh := m.bottom()
	var row frame
	m.buttonRow(&row, by, bh, target{}, target{}, t)
	f.add(row.targets[2])
}

func (m Model) inCall(f *frame) {
	op := m.text(m.sel)
	el := m.now.Sub(m.call.started)
	lines := []string{
		m.st.Title.Render(fmt.Sprintf(m.t("incall.with"), op.Name)),
		fmt.Sprintf(m.t("incall.elapsed"), clockDuration(el)),
	}
	if left := m.maxSession() - el; left <= 5*time.Minute {
		lines = append(lines, m.st.Warn.Render(fmt.Sprintf(m.t("incall.warn"), plural(m.lang, "n.minutes", int(left.Minutes()+0.999)))))
	}
	m.centred(f, m.h/4, lines...)
	m.awayFromCall(f, target{id: idEnd, kind: kindPrimary, lines: []string{m.t("end")}})
	by, bh := m.bottom()
	m.soundControls(f, 2, by-bh-1, m.w-4, bh) // after "End call": the focus starts there
}

func (m Model) afterCall(f *frame) {
	y := m.h / 5
	if m.call.ending == usage.OutcomeTimeout {
		maxed := fmt.Sprintf(m.t("after.maxed"), plural(m.lang, "n.minutes", int(m.maxSession().Minutes())))
		y = m.centred(f, max(y-3, 2), m.st.Warn.Render(maxed)) + 1
	}
	y = m.centred(f, y, m.st.Title.Render(m.t("after.question")), m.st.Muted.Render(m.t("after.scale")))
	bh := 3
	if m.h >= 40 {
		bh = 5
	}
	ts := make([]target, 5)
	for i := range ts {
		n := strconv.Itoa(i + 1)
		ts[i] = target{id: "score:" + n, lines: []string{n}}
	}
	m.buttonRow(f, min(y+1, m.h-2*bh-2), bh, ts...)
	by, h := m.bottom()
	m.buttonRow(f, by, h, target{id: idSkip, lines: []string{m.t("skip")}})
}

func (m Model) unavailable(f *frame) {
	m.centred(f, m.h/4,
		m.st.Title.Render(m.t("unavail.title")),
		m.t(m.unavail),
		fmt.Sprintf(m.t("unavail.help"), m.site.phone))
	by, bh := m.bottom()
	m.buttonRow(f, by, bh, target{id: idBack, lines: []string{m.t("back")}})
}

func (m Model) outOfServiceScreen(f *frame) {
	m.centred(f, m.h/4,
		m.st.Title.Render(m.t("oos.title")),
		m.outOfService(),
		fmt.Sprintf(m.t("oos.help"), m.site.phone))
}

func (m Model) maxSession() time.Duration {
	if d := m.d.Config.Kiosk.MaxSession.D(); d > 0 {
		return d
	}
	return 45 * time.Minute
}

// clockDuration shows a duration as m:ss or h:mm:ss.
func clockDuration(d time.Duration) string {
	d = max(d, 0).Truncate(time.Second)
	h, mn, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, mn, s)
	}
	return fmt.Sprintf("%d:%02d", mn, s)
}
