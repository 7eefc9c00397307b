package tui

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
	"github.com/loiret/borne/usage"
)

// Maintenance pages and their buttons.
const (
	pageMenu    = "menu"
	pageStatus  = "status"
	pageTests   = "tests"
	pageService = "service"
	pageFigures = "figures"
)

// The out-of-service messages an agent can pick; a typed one is possible
// with a keyboard.
var oosPresets = []string{"oos.preset.maintenance", "oos.preset.closed", "oos.preset.fault"}

type (
	checksMsg  struct{ checks []hw.Check }
	figuresMsg struct {
		today, month Figures
		err          error
	}
	maintDoneMsg struct{ text string } // a result line for the agent
	relockMsg    struct{ gen int }
	levelBackMsg struct{}
)

func (m Model) maintMenu(f *frame) {
	f.put(2, 2, m.w-4, m.st.Title.Render(fit(m.t("maint.title"), m.w-4)))
	if m.maintMsg != "" {
		f.put(2, 3, m.w-4, m.st.Warn.Render(fit(m.maintMsg, m.w-4)))
	}
	switch m.mpage {
	case pageStatus:
		m.statusPage(f)
	case pageFigures:
		m.figuresPage(f)
	case pageTests:
		m.grid(f, m.testButtons())
	case pageService:
		m.servicePage(f)
	default:
		m.grid(f, m.menuButtons())
	}
	by, bh := m.bottom()
	back := target{id: "m:menu", lines: []string{m.t("maint.menu")}}
	if m.mpage == pageMenu {
		back = target{id: "m:lock", kind: kindPrimary, lines: []string{m.t("maint.lock")}}
	}
	m.buttonRow(f, by, bh, back)
}

func (m Model) menuButtons() []target {
	service := target{id: "m:service", lines: []string{m.t("maint.oos")}}
	if m.oos != "" {
		service = target{id: "m:back-in-service", lines: []string{m.t("maint.back-in-service")}}
	}
	ts := []target{
		{id: "m:status", lines: []string{m.t("maint.status")}},
		{id: "m:tests", lines: []string{m.t("maint.tests")}},
		service,
		{id: "m:figures", lines: []string{m.t("maint.figures")}},
	}
	if m.d.Maint.Export != nil {
		ts = append(ts, target{id: "m:export", lines: []string{m.t("maint.export")}})
	}
	if m.d.HW.Printer != nil {
		ts = append(ts, target{id: "m:purge", lines: []string{m.t("maint.purge")}})
	}
	if _, ok := m.d.HW.Printer.(hw.PrintQueue); ok {
		ts = append(ts, target{id: "m:printer", lines: []string{m.t("maint.printer")}})
	}
	if _, ok := m.d.HW.Sessions.(hw.Resetter); ok {
		ts = append(ts, target{id: "m:reset-client", lines: []string{m.t("maint.reset-client")}})
	}
	return append(ts, target{id: "m:restart", lines: []string{m.t("maint.restart")}})
}

func (m Model) testButtons() []target {
	ts := []target{
		{id: "t:page", lines: []string{m.t("test.page")}, disabled: m.d.HW.Printer == nil},
		{id: "t:brightness", lines: []string{m.t("test.brightness")}},
		{id: "t:camera", lines: []string{m.t("test.camera")}},
	}
	if m.testOperator() >= 0 && !m.remote() { // a call from afar would ring at an empty kiosk
		ts = append(ts, target{id: "t:call", lines: []string{m.t("test.call")}})
	}
	return ts
}

// testOperator is the operator a test call goes to: the site's "essai".
func (m Model) testOperator() int {
	for i, op := range m.ops {
		if op.ID == "essai" {
			return i
		}
	}
	return -1
}

// grid lays big buttons out two by two under the title.
func (m Model) grid(f *frame, ts []target) {
	by, _ := m.bottom()
	cols := 2
	rows := (len(ts) + cols - 1) / cols
	h := min(max((by-6)/max(rows, 1), 3), 5)
	w := max((m.w-4-2)/cols, 4)
	for i, t := range ts {
		t.x, t.y, t.w, t.h = 2+(i%cols)*(w+2), 5+(i/cols)*h, w, h
		f.add(t)
	}
}

func (m Model) statusPage(f *frame) {
	if m.checks == nil {
		f.put(2, 5, m.w-4, m.st.Text.Render(m.t("maint.checking")))
		return
	}
	var b strings.Builder
	for i, c := range m.checks {
		if i > 0 {
			b.WriteByte('\n')
		}
		st := m.st.Open.Background(m.st.P.Bg)
		word := m.t("health.ok")
		switch c.Health {
		case hw.Degraded:
			st, word = m.st.Warn, m.t("health.degraded")
		case hw.Missing:
			st, word = m.st.Closed.Background(m.st.P.Bg), m.t("health.missing")
		}
		line := fmt.Sprintf("%s %s — %s", st.Render("●"), c.Name, word)
		if c.Reason != "" {
			line += " : " + clean(c.Reason)
		}
		b.WriteString(fit(line, m.w-4))
	}
	by, _ := m.bottom()
	f.put(2, 5, m.w-4, m.para(m.st.Text, b.String(), m.w-4, by-6))
}

func (m Model) figuresPage(f *frame) {
	if m.figures == nil {
		f.put(2, 5, m.w-4, m.st.Text.Render(m.t("maint.checking")))
		return
	}
	line := func(label string, x Figures) string {
		avg := "—"
		if x.Surveys > 0 {
			avg = fmt.Sprintf("%.1f", float64(x.ScoreSum)/float64(x.Surveys))
		}
		return fmt.Sprintf(m.t("figures.line"), label, x.Calls, x.Completed, x.Prints, x.Surveys, avg)
	}
	lines := []string{line(m.t("figures.today"), m.figures[0]), line(m.t("figures.month"), m.figures[1]), "", m.st.Title.Render(m.t("figures.faults"))}
	if len(m.figures[1].Faults) == 0 {
		lines = append(lines, m.t("figures.nofault"))
	}
	for _, fl := range m.figures[1].Faults {
		lines = append(lines, " • "+clean(fl))
	}
	by, _ := m.bottom()
	f.put(2, 5, m.w-4, m.para(m.st.Text, strings.Join(lines, "\n"), m.w-4, by-6))
}

func (m Model) servicePage(f *frame) {
	ts := make([]target, 0, len(oosPresets)+1)
	for _, p := range oosPresets {
		ts = append(ts, target{id: "oos:" + p, lines: []string{m.t(p)}})
	}
	if m.oosDraft != "" {
		ts = append(ts, target{id: "oos:draft", lines: []string{fmt.Sprintf(m.t("oos.typed"), m.oosDraft)}})
	} else {
		f.put(2, 4, m.w-4, m.st.Muted.Render(fit(m.t("oos.type"), m.w-4)))
	}
	m.grid(f, ts)
}

// maintAction runs one maintenance button.
func (m Model) maintAction(id string) (Model, tea.Cmd) {
	m.maintMsg = ""
	switch {
	case id == "m:menu":
		m.mpage = pageMenu
		m.syncKiosk()
	case id == "m:lock":
		return m.lock()
	case id == "m:status":
		m.mpage, m.checks = pageStatus, nil
		return m, m.runChecks()
	case id == "m:tests":
		m.mpage = pageTests
	case id == "m:service":
		m.mpage, m.oosDraft = pageService, ""
	case id == "m:back-in-service":
		m.oos = ""
		m.firstFocus()
		return m, tea.Batch(m.tellKiosk(BackInServiceMsg{}), m.record(usage.Event{Kind: usage.KindBackInService}))
	case id == "m:figures":
		m.mpage, m.figures = pageFigures, nil
		return m, m.askFigures()
	case id == "m:export":
		return m, m.maintCmd(m.d.Maint.Export)
	case id == "m:purge":
		p := m.d.HW.Printer
		return m, m.maintCmd(func(ctx context.Context) (string, error) { return m.t("maint.purged"), p.Purge(ctx) })
	case id == "m:printer":
		q := m.d.HW.Printer.(hw.PrintQueue)
		done := m.t("maint.printer-done")
		return m, m.maintCmd(func(ctx context.Context) (string, error) {
			n, err := restartPrinter(ctx, q)
			return fmt.Sprintf(done, n), err
		})
	case id == "m:reset-client":
		if m.refuseDuringCall() {
			return m, nil
		}
		r := m.d.HW.Sessions.(hw.Resetter)
		return m, m.maintCmd(func(ctx context.Context) (string, error) { return m.t("maint.client-reset"), r.Reset(ctx) })
	case id == "m:restart" && m.remote():
		if m.refuseDuringCall() {
			return m, nil
		}
		// The lock is on record before the kiosk stops.
		m, lock := m.lock()
		restart := m.tellKiosk(RestartMsg{})
		return m, func() tea.Msg {
			if lock != nil {
				lock()
			}
			return restart()
		}
	case id == "m:restart":
		m.quiting = true
		return m, tea.Sequence(m.record(usage.Event{Kind: usage.KindMaintenanceLocked}), tea.Quit)
	case strings.HasPrefix(id, "oos:"):
		return m.putOutOfService(strings.TrimPrefix(id, "oos:"))
	case strings.HasPrefix(id, "t:"):
		return m.runTest(id)
	}
	m.firstFocus()
	return m, nil
}

func (m Model) putOutOfService(which string) (Model, tea.Cmd) {
	kind := "preset"
	m.oos = m.t(which)
	if which == "draft" {
		kind, m.oos = "custom", clean(m.oosDraft)
	}
	m.oosDraft, m.mpage = "", pageMenu
	m.firstFocus()
	return m, tea.Batch(m.tellKiosk(OutOfServiceMsg{Reason: m.oos}),
		m.record(usage.Event{Kind: usage.KindOutOfService, Detail: map[string]any{"message_kind": kind}}))
}

func (m Model) lock() (Model, tea.Cmd) {
	m.goHome()
	m.mpage, m.checks, m.figures, m.maintMsg = "", nil, nil, ""
	return m, m.record(usage.Event{Kind: usage.KindMaintenanceLocked})
}

func (m Model) runTest(id string) (Model, tea.Cmd) {
	switch id {
	case "t:page":
		p := m.d.HW.Printer
		doc := hw.Document{Kind: "test", Title: m.t("test.page.title"), Lines: []string{m.site.name, m.now.Format("2006-01-02 15:04")}}
		return m, m.maintCmd(func(ctx context.Context) (string, error) {
			_, err := p.Print(ctx, doc)
			return m.t("test.page.sent"), err
		})
	case "t:brightness":
		if m.refuseDuringCall() {
			return m, nil
		}
		m.maintMsg = m.t("test.brightness.now")
		return m, tea.Batch(m.setLevel(hw.LevelDim), m.d.After(2*time.Second, levelBackMsg{}))
	case "t:camera":
		cam := m.d.HW.Camera
		if cam == nil {
			m.maintMsg = m.t("test.camera.none")
			return m, nil
		}
		return m, m.maintCmd(func(ctx context.Context) (string, error) {
			st, err := cam.Check(ctx)
			if err == nil && !st.Present {
				err = fmt.Errorf("%s", st.Reason)
			}
			return m.t("test.camera.ok"), err
		})
	case "t:call":
		// A test call is a real call: maintenance locks behind it.
		m, lock := m.lock()
		m.sel = m.testOperator()
		m, call := m.startCall()
		return m, tea.Batch(lock, call)
	}
	return m, nil
}

// maintCmd runs f in the background and shows its one-line result.
func (m Model) maintCmd(f func(ctx context.Context) (string, error)) tea.Cmd {
	if f == nil {
		return nil
	}
	failed := m.t("maint.failed")
	return func() tea.Msg {
		ctx, cancel := withTimeout(30 * time.Second)
		defer cancel()
		text, err := f(ctx)
		if err != nil {
			return maintDoneMsg{fmt.Sprintf(failed, err)}
		}
		return maintDoneMsg{text}
	}
}

// runChecks gathers every line of the device status: what the back-ends
// say of themselves, then what the shell can check from here.
func (m Model) runChecks() tea.Cmd {
	h, maint, ops, t := m.d.HW, m.d.Maint, m.ops, m.t
	return func() tea.Msg {
		ctx, cancel := withTimeout(5 * time.Second)
		defer cancel()
		var checks []hw.Check
		seen := map[string]bool{}
		for _, part := range []any{h.Sessions, h.Display, h.Camera, h.Printer} {
			if d, ok := part.(hw.Doctor); ok {
				for _, c := range d.Doctor(ctx) {
					if !seen[c.Name] {
						seen[c.Name] = true
						checks = append(checks, c)
					}
				}
			}
		}
		checks = append(checks, shellChecks(ctx, h, maint, ops, t)...)
		sort.SliceStable(checks, func(i, j int) bool { return rank(checks[i].Health) > rank(checks[j].Health) })
		return checksMsg{checks}
	}
}

func rank(h hw.Health) int {
	switch h {
	case hw.Missing:
		return 2
	case hw.Degraded:
		return 1
	}
	return 0
}

func (m Model) askFigures() tea.Cmd {
	f := m.d.Maint.Figures
	if f == nil {
		return func() tea.Msg { return figuresMsg{} }
	}
	loc := m.d.Config.Location()
	now := m.d.Now().In(loc)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	return func() tea.Msg {
		ctx, cancel := withTimeout(5 * time.Second)
		defer cancel()
		today, err := f(ctx, day, now)
		if err != nil {
			return figuresMsg{err: err}
		}
		mo, err := f(ctx, month, now)
		return figuresMsg{today: today, month: mo, err: err}
	}
}

func (m Model) onMaint(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case checksMsg:
		m.checks = msg.checks
	case figuresMsg:
		m.figures = &[2]Figures{msg.today, msg.month}
		if msg.err != nil {
			m.maintMsg = fmt.Sprintf(m.t("maint.failed"), msg.err)
		}
	case maintDoneMsg:
		if m.scr == scrMaint {
			m.maintMsg = msg.text
		}
	case levelBackMsg:
		return m, m.setLevel(hw.LevelActive)
	case relockMsg:
		if msg.gen == m.gen && (m.scr == scrMaint || m.scr == scrPin) {
			if m.scr == scrPin {
				m.goHome()
				return m, nil
			}
			return m.lock()
		}
	}
	return m, nil
}

// typeMessage takes what an agent types on a keyboard for an
// out-of-service message; it is shown, never logged.
func (m Model) typeMessage(k tea.KeyPressMsg) (Model, bool) {
	if m.scr != scrMaint || m.mpage != pageService {
		return m, false
	}
	switch {
	case k.String() == "backspace":
		if r := []rune(m.oosDraft); len(r) > 0 {
			m.oosDraft = string(r[:len(r)-1])
		}
		return m, true
	case k.Text != "" && k.Mod&^tea.ModShift == 0 && len([]rune(m.oosDraft)) < 80:
		m.oosDraft += clean(k.Text)
		return m, true
	}
	return m, false
}

// restartPrinter enables the queue again and retries every job that
// stopped or failed, so that nothing a citizen asked for is lost silently.
func restartPrinter(ctx context.Context, q hw.PrintQueue) (int, error) {
	if err := q.Enable(ctx); err != nil {
		return 0, err
	}
	jobs, err := q.Jobs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range jobs {
		if j.State == "processing-stopped" || j.State == "aborted" {
			if err := q.Retry(ctx, j.ID); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// shellChecks are the status lines the shell can tell by itself.
func shellChecks(ctx context.Context, h hw.Hardware, maint Maintenance, ops []operators.Operator, t func(string) string) []hw.Check {
	var out []hw.Check
	if h.Camera != nil {
		c := hw.Check{Name: t("dev.camera"), Health: hw.OK, Needed: true}
		st, err := h.Camera.Check(ctx)
		switch {
		case err != nil:
			c.Health, c.Reason = hw.Missing, err.Error()
		case !st.Present:
			c.Health, c.Reason = hw.Missing, st.Reason
		}
		out = append(out, c)
	}
	if h.Printer != nil {
		c := hw.Check{Name: t("dev.printer"), Health: hw.OK}
		st, err := h.Printer.Status(ctx)
		switch {
		case err != nil:
			c.Health, c.Reason = hw.Missing, err.Error()
		case !st.Ready:
			reason := cmp.Or(st.Reason, hw.ReasonUnknown)
			c.Health, c.Reason = hw.Degraded, strings.TrimSpace(t("printer."+reason)+" "+st.Detail)
		}
		out = append(out, c)
	}
	if pre, ok := h.Sessions.(hw.Preflighter); ok {
		c := hw.Check{Name: t("dev.client"), Health: hw.OK, Needed: true}
		for _, op := range ops {
			if err := pre.Preflight(ctx, op); err != nil {
				c.Health, c.Reason = hw.Degraded, op.ID+": "+err.Error()
				break
			}
		}
		out = append(out, c)
	}
	if maint.LogHealth != nil {
		c := hw.Check{Name: t("dev.log"), Health: hw.OK, Needed: true}
		if err := maint.LogHealth(ctx); err != nil {
			c.Health, c.Reason = hw.Missing, err.Error()
		}
		out = append(out, c)
	}
	return out
}
