package tui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
	"github.com/loiret/borne/usage"
)

// maintState is the agents' side of the shell, from the corner's taps to
// the menu's last answer; goHome clears all but the pad's count and
// lock-out.
type maintState struct {
	taps      []time.Time // recent taps on the header's corner
	pin       string      // digits typed on the pad, until checked
	pinMsg    string      // catalog key of the pad's last word
	checking  bool        // a PIN is being checked
	pad       int         // bumps each time the PIN pad opens
	lockUntil time.Time
	page      maintPage
	msg       string      // the menu's one-line answer
	checks    []hw.Check  // the status page's lines; nil: being gathered
	figures   *[2]Figures // today, this month; nil: being counted
	draft     string      // an out-of-service message being typed
	confirm   maintOp     // an action waiting for its second tap
}

// maintPage is the page of the maintenance menu on screen.
type maintPage int

const (
	pageMenu maintPage = iota
	pageStatus
	pageTests
	pageService
	pageFigures
	pageSound // the sound test (soundtest.go)
)

// maintOp is what a maintenance button does.
type maintOp int

const (
	opNone maintOp = iota
	opMenu
	opLock
	opStatus
	opTests
	opService
	opBackInService
	opFigures
	opExport
	opPurge
	opPrinter
	opResetClient
	opRestart
	opOutOfService // with a ready message's key, or the typed one
	opTestPage
	opTestBrightness
	opTestCamera
	opTestCall
	opTestSound
)

// maintAction is a maintenance button's meaning: the menu dispatches on
// it, never on the button's name.
type maintAction struct {
	op        maintOp
	preset    string // opOutOfService: the ready message's catalog key; "": the typed one
	confirmed bool   // the second tap of an action that asks first
}

var opNames = [...]string{
	opMenu: "m:menu", opLock: "m:lock", opStatus: "m:status", opTests: "m:tests", opService: "m:service",
	opBackInService: "m:back-in-service", opFigures: "m:figures", opExport: "m:export", opPurge: "m:purge",
	opPrinter: "m:printer", opResetClient: "m:reset-client", opRestart: "m:restart",
	opTestPage: "t:page", opTestBrightness: "t:brightness", opTestCamera: "t:camera", opTestCall: "t:call",
	opTestSound: "t:sound",
}

// id names the button for hit-testing and focus, and for tests.
func (a maintAction) id() string {
	switch {
	case a.op == opOutOfService && a.preset == "":
		return "oos:draft"
	case a.op == opOutOfService:
		return "oos:" + a.preset
	case a.confirmed:
		return opNames[a.op] + ":yes"
	}
	return opNames[a.op]
}

// asks tells whether an action waits for a confirmation: those that stop
// the kiosk or throw citizens' prints away.
func (a maintAction) asks() bool {
	return !a.confirmed && (a.op == opRestart || a.op == opPurge)
}

// button is a maintenance target that does a.
func (m Model) button(a maintAction, key string) target {
	return target{id: a.id(), act: a, lines: []string{m.t(key)}}
}

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
	switch {
	case m.maint.msg != "":
		f.put(2, 3, m.w-4, m.st.Warn.Render(fit(m.maint.msg, m.w-4)))
	case m.maint.page == pageMenu && m.oos.On() && !m.oos.Since.IsZero():
		since := m.oos.Since.In(m.d.Config.Location()).Format("02/01/2006 15:04")
		f.put(2, 3, m.w-4, m.st.Muted.Render(fit(fmt.Sprintf(m.t("maint.oos.since"), since), m.w-4)))
	}
	by, bh := m.bottom()
	if m.maint.confirm != opNone {
		m.confirmPage(f, by, bh)
		return
	}
	switch m.maint.page {
	case pageStatus:
		m.statusPage(f)
	case pageFigures:
		m.figuresPage(f)
	case pageTests:
		m.grid(f, m.testButtons())
	case pageSound:
		m.soundTestPage(f)
	case pageService:
		m.servicePage(f)
	default:
		m.grid(f, m.menuButtons())
	}
	back := m.button(maintAction{op: opMenu}, "maint.menu")
	if m.maint.page == pageMenu {
		back = m.button(maintAction{op: opLock}, "maint.lock")
		back.kind = kindPrimary
	}
	m.buttonRow(f, by, bh, back)
}

// confirmPage asks before an action that cannot be undone. Its "yes" sits
// in the bottom row, far from the button that asked, so that a double tap
// never confirms; the focus starts on "cancel".
func (m Model) confirmPage(f *frame, by, bh int) {
	what := "maint.confirm.restart"
	if m.maint.confirm == opPurge {
		what = "maint.confirm.purge"
	}
	f.put(2, 5, m.w-4, m.para(m.st.Text, m.t(what), m.w-4, max(by-6, 1)))
	yes := m.button(maintAction{op: m.maint.confirm, confirmed: true}, what+".yes")
	m.buttonRow(f, by, bh, m.button(maintAction{op: opMenu}, "maint.cancel"), yes)
}

func (m Model) menuButtons() []target {
	service := m.button(maintAction{op: opService}, "maint.oos")
	if m.oos.On() {
		service = m.button(maintAction{op: opBackInService}, "maint.back-in-service")
	}
	ts := []target{m.button(maintAction{op: opStatus}, "maint.status"), m.button(maintAction{op: opTests}, "maint.tests"),
		service, m.button(maintAction{op: opFigures}, "maint.figures")}
	if m.d.Maint.Export != nil {
		ts = append(ts, m.button(maintAction{op: opExport}, "maint.export"))
	}
	if m.d.HW.Printer != nil {
		ts = append(ts, m.button(maintAction{op: opPurge}, "maint.purge"))
	}
	if _, ok := m.d.HW.Printer.(hw.PrintQueue); ok {
		ts = append(ts, m.button(maintAction{op: opPrinter}, "maint.printer"))
	}
	if _, ok := m.d.HW.Sessions.(hw.Resetter); ok {
		ts = append(ts, m.button(maintAction{op: opResetClient}, "maint.reset-client"))
	}
	return append(ts, m.button(maintAction{op: opRestart}, "maint.restart"))
}

func (m Model) testButtons() []target {
	page := m.button(maintAction{op: opTestPage}, "test.page")
	page.disabled = m.d.HW.Printer == nil
	ts := []target{page, m.button(maintAction{op: opTestBrightness}, "test.brightness"), m.button(maintAction{op: opTestCamera}, "test.camera")}
	if _, ok := m.d.HW.Audio.(hw.SoundTester); ok {
		ts = append(ts, m.button(maintAction{op: opTestSound}, "test.sound"))
	}
	if m.testOperator() >= 0 && !m.remote() { // a call from afar would ring at an empty kiosk
		ts = append(ts, m.button(maintAction{op: opTestCall}, "test.call"))
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

// grid lays big buttons out two by two under the title, down to the row
// of buttons at the bottom. When two columns would run into that row (a
// small screen: 1280×720 gives 20 rows), it takes three or four, the
// fewest that fit with every label whole; a row is as tall as its longest
// label needs, and as tall as the space allows up to five rows.
func (m Model) grid(f *frame, ts []target) {
	if len(ts) == 0 {
		return
	}
	by, _ := m.bottom()
	const top = 5
	// A free row above the bottom one keeps a tap meant for the last row
	// of the grid off "Verrouiller"; without room for it, the rows touch.
	cols, hs := m.gridFit(ts, by-top-1)
	if sum(hs) > by-top-1 {
		cols, hs = m.gridFit(ts, by-top)
	}
	if sum(hs) > by-top { // labels too long for any: cut them rather than overlap
		for i := range hs {
			hs[i] = 3
		}
	}
	// Grow the rows to share the space, as long as the whole still fits.
	base := min((by-top-1)/len(hs), 5)
	grown := make([]int, len(hs))
	for i, h := range hs {
		grown[i] = max(h, base)
	}
	if room := by - top - 1; sum(grown) <= room || sum(hs) > room && sum(grown) <= by-top {
		hs = grown
	}
	w := max((m.w-4-2*(cols-1))/cols, 4)
	y := top
	for r, h := range hs {
		for c := 0; c < cols && r*cols+c < len(ts); c++ {
			t := ts[r*cols+c]
			t.x, t.y, t.w, t.h = 2+c*(w+2), y, w, h
			f.add(t)
		}
		y += h
	}
}

// gridFit is the fewest columns, from two to four, whose rows fit in
// space with every label whole, and those rows' heights; when none fits,
// the columns that come closest.
func (m Model) gridFit(ts []target, space int) (cols int, hs []int) {
	cols, hs = 2, m.gridNeeds(ts, 2)
	for c := 3; c <= 4 && sum(hs) > space && (m.w-4-2*(c-1))/c >= 12; c++ {
		if need := m.gridNeeds(ts, c); sum(need) < sum(hs) {
			cols, hs = c, need
		}
	}
	return cols, hs
}

// gridNeeds is how tall each row of ts laid out in cols columns must be
// for every label to show whole.
func (m Model) gridNeeds(ts []target, cols int) []int {
	inner := max((m.w-4-2*(cols-1))/cols-4, 1)
	hs := make([]int, (len(ts)+cols-1)/cols)
	for i, t := range ts {
		hs[i/cols] = max(hs[i/cols], len(boxLines(t.lines, inner))+2)
	}
	return hs
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func (m Model) statusPage(f *frame) {
	if m.maint.checks == nil {
		f.put(2, 5, m.w-4, m.st.Text.Render(m.t("maint.checking")))
		return
	}
	var b strings.Builder
	for i, c := range m.maint.checks {
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
	if m.maint.figures == nil {
		f.put(2, 5, m.w-4, m.st.Text.Render(m.t("maint.checking")))
		return
	}
	lines := []string{m.figuresLine(m.t("figures.today"), m.maint.figures[0]), m.figuresLine(m.t("figures.month"), m.maint.figures[1]), "", m.st.Title.Render(m.t("figures.faults"))}
	if len(m.maint.figures[1].Faults) == 0 {
		lines = append(lines, m.t("figures.nofault"))
	}
	for _, fl := range m.maint.figures[1].Faults {
		lines = append(lines, " • "+m.faultLine(fl))
	}
	by, _ := m.bottom()
	f.put(2, 5, m.w-4, m.para(m.st.Text, strings.Join(lines, "\n"), m.w-4, by-6))
}

// deviceWords name the devices faults are recorded for, in the agent's
// language.
var deviceWords = map[string]string{"camera": "dev.camera", "sessions": "dev.sessions", "audio": "dev.audio",
	"video client": "dev.client", "usage_log": "dev.log", "printer": "dev.printer"}

// faultLine is a recent fault for an agent: when, in the site's time;
// what, in their language, with the operator's name for a video client;
// and why: the shell's own reasons in their language, a device back-end's
// in its own words.
func (m Model) faultLine(fl usage.Fault) string {
	what := fl.Device
	if key, ok := deviceWords[fl.Device]; ok {
		what = m.t(key)
	}
	if fl.Operator != "" {
		name := fl.Operator
		for i, op := range m.ops {
			if op.ID == fl.Operator {
				name = m.text(i).Name
			}
		}
		what += " (" + name + ")"
	}
	why := fl.Reason
	var n int
	if _, err := fmt.Sscanf(why, callsFailed, &n); err == nil {
		why = fmt.Sprintf(m.t("figures.callsfailed"), n)
	}
	when := fl.At.In(m.d.Config.Location()).Format("02/01 15:04")
	return clean(fmt.Sprintf(m.t("figures.fault"), when, what, why))
}

// figuresLine is one period's figures, in the words and numbers of the
// language on screen: "1 impression", "moyenne 4,5".
func (m Model) figuresLine(label string, x Figures) string {
	avg := "—"
	if x.Surveys > 0 {
		avg = decimal(m.lang, float64(x.ScoreSum)/float64(x.Surveys))
	}
	n := func(key string, v int) string { return plural(m.lang, key, v) }
	return fmt.Sprintf(m.t("figures.line"), label, n("n.calls", x.Calls), n("n.completed", x.Completed),
		n("n.prints", x.Prints), n("n.ratings", x.Surveys), avg)
}

func (m Model) servicePage(f *frame) {
	ts := make([]target, 0, len(oosPresets)+1)
	for _, p := range oosPresets {
		ts = append(ts, m.button(maintAction{op: opOutOfService, preset: p}, p))
	}
	if m.maint.draft != "" {
		typed := m.button(maintAction{op: opOutOfService}, "oos.typed")
		typed.lines = []string{fmt.Sprintf(m.t("oos.typed"), m.maint.draft)}
		ts = append(ts, typed)
	} else {
		f.put(2, 4, m.w-4, m.st.Muted.Render(fit(m.t("oos.type"), m.w-4)))
	}
	m.grid(f, ts)
}

// maintAction runs one maintenance button; the page changes of the menu
// itself are in goPage.
func (m Model) maintAction(a maintAction) (Model, tea.Cmd) {
	m.maint.msg = ""
	if a.asks() {
		if a.op == opRestart && m.refuseDuringCall() {
			return m, nil // no question whose answer would be refused
		}
		m.maint.confirm = a.op
		m.firstFocus()
		return m, nil
	}
	m.maint.confirm = opNone
	switch a.op {
	case opLock:
		return m.lock()
	case opBackInService:
		m.oos = usage.OutOfService{}
		m.firstFocus()
		return m, tea.Batch(m.tellKiosk(BackInServiceMsg{}), m.keepService(m.oos), m.record(usage.Event{Kind: usage.KindBackInService}))
	case opOutOfService:
		return m.putOutOfService(a.preset)
	case opExport:
		return m, m.export()
	case opPurge:
		p := m.d.HW.Printer
		return m, m.maintCmd("maint.purge.failed", func(ctx context.Context) (string, error) { return m.t("maint.purged"), p.Purge(ctx) })
	case opPrinter:
		q := m.d.HW.Printer.(hw.PrintQueue)
		lang := m.lang
		return m, m.maintCmd("maint.printer.failed", func(ctx context.Context) (string, error) {
			n, err := restartPrinter(ctx, q)
			return fmt.Sprintf(tr(lang, "maint.printer-done"), plural(lang, "n.resumed", n)), err
		})
	case opResetClient:
		if m.refuseDuringCall() {
			return m, nil
		}
		r := m.d.HW.Sessions.(hw.Resetter)
		return m, m.maintCmd("maint.client.failed", func(ctx context.Context) (string, error) { return m.t("maint.client-reset"), r.Reset(ctx) })
	case opRestart:
		return m.restart()
	case opTestPage, opTestBrightness, opTestCamera, opTestCall, opTestSound:
		return m.runTest(a.op)
	}
	return m.goPage(a.op)
}

// goPage opens a page of the menu.
func (m Model) goPage(op maintOp) (Model, tea.Cmd) {
	var cmd tea.Cmd
	switch op {
	case opMenu:
		m.maint.page = pageMenu
		m.syncKiosk()
	case opStatus:
		m.maint.page, m.maint.checks = pageStatus, nil
		cmd = m.runChecks()
	case opTests:
		m.maint.page = pageTests
	case opService:
		m.maint.page, m.maint.draft = pageService, ""
	case opFigures:
		m.maint.page, m.maint.figures = pageFigures, nil
		cmd = m.askFigures()
	}
	m.firstFocus()
	return m, cmd
}

func (m Model) restart() (Model, tea.Cmd) {
	if !m.remote() {
		m.quiting = true
		return m, tea.Sequence(m.record(usage.Event{Kind: usage.KindMaintenanceLocked}), tea.Quit)
	}
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
}

// putOutOfService shows a ready message (its key: each citizen reads it in
// their language) or the typed one, and keeps it for the next start.
func (m Model) putOutOfService(preset string) (Model, tea.Cmd) {
	kind := "preset"
	m.oos = usage.OutOfService{Key: preset, Since: m.d.Now()}
	if preset == "" {
		kind, m.oos.Message = "custom", clean(m.maint.draft)
	}
	m.maint.draft, m.maint.page = "", pageMenu
	m.firstFocus()
	return m, tea.Batch(m.tellKiosk(OutOfServiceMsg{State: m.oos}), m.keepService(m.oos),
		m.record(usage.Event{Kind: usage.KindOutOfService, Detail: map[string]any{"message_kind": kind}}))
}

func (m Model) lock() (Model, tea.Cmd) {
	m.goHome()
	return m, m.record(usage.Event{Kind: usage.KindMaintenanceLocked})
}

func (m Model) runTest(op maintOp) (Model, tea.Cmd) {
	switch op {
	case opTestPage:
		p := m.d.HW.Printer
		doc := hw.Document{Kind: "test", Title: m.t("test.page.title"), Lines: []string{m.site.name, m.now.Format("2006-01-02 15:04")}}
		return m, m.maintCmd("test.page.failed", func(ctx context.Context) (string, error) {
			_, err := p.Print(ctx, doc)
			return m.t("test.page.sent"), err
		})
	case opTestBrightness:
		if m.refuseDuringCall() {
			return m, nil
		}
		m.maint.msg = m.t("test.brightness.now")
		return m, tea.Batch(m.setLevel(hw.LevelDim), m.d.After(2*time.Second, levelBackMsg{}))
	case opTestCamera:
		cam := m.d.HW.Camera
		if cam == nil {
			m.maint.msg = m.t("test.camera.none")
			return m, nil
		}
		return m, m.maintCmd("test.camera.failed", func(ctx context.Context) (string, error) {
			st, err := cam.Check(ctx)
			if err == nil && !st.Present {
				err = fmt.Errorf("camera absent: %s", st.Reason)
			}
			return m.t("test.camera.ok"), err
		})
	case opTestSound:
		return m.startSoundTest()
	case opTestCall:
		return m.testCall()
	}
	return m, nil
}

// maintCmd runs f in the background and shows its one-line result; a
// failure shows failKey's sentence and why in words, the error itself
// goes to the shell's log.
func (m Model) maintCmd(failKey string, f func(ctx context.Context) (string, error)) tea.Cmd {
	if f == nil {
		return nil
	}
	failed, t, log := m.t(failKey), m.t, m.log
	return func() tea.Msg {
		ctx, cancel := withTimeout(30 * time.Second)
		defer cancel()
		text, err := f(ctx)
		if err != nil {
			log.Warn("maintenance action failed", "action", failKey, "err", err)
			return maintDoneMsg{failed + " " + t(why(err))}
		}
		return maintDoneMsg{text}
	}
}

// Exported is what an export to a USB key wrote.
type Exported struct {
	Events int
	File   string // the file's name on the key
}

// ErrNoUSBKey is an export that found no USB key mounted.
var ErrNoUSBKey = errors.New("no USB key found")

func (m Model) export() tea.Cmd {
	export, t := m.d.Maint.Export, m.t
	return m.maintCmd("maint.export.failed", func(ctx context.Context) (string, error) {
		x, err := export(ctx)
		key := "maint.exported"
		if x.Events == 1 {
			key = "maint.exported.one"
		}
		return fmt.Sprintf(t(key), x.Events, x.File), err
	})
}

// why says in words for an agent why an action failed: the catalog key of
// a sentence, never the error's own text.
func why(err error) string {
	switch {
	case errors.Is(err, ErrNoUSBKey):
		return "why.nokey"
	case errors.Is(err, syscall.EROFS):
		return "why.readonly"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return "why.full"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "why.denied"
	case errors.Is(err, syscall.EIO), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		return "why.io"
	case errors.Is(err, context.DeadlineExceeded):
		return "why.timeout"
	case errors.Is(err, hw.ErrUnavailable):
		return "why.unavailable"
	}
	return "why.other"
}

// runChecks gathers every line of the device status: what the back-ends
// say of themselves, then what the shell can check from here.
func (m Model) runChecks() tea.Cmd {
	h, maint, ops, t, log := m.d.HW, m.d.Maint, m.ops, m.t, m.log
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
		checks = append(checks, shellChecks(ctx, h, maint, ops, t, log)...)
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
		m.maint.checks = msg.checks
	case figuresMsg:
		m.maint.figures = &[2]Figures{msg.today, msg.month}
		if msg.err != nil {
			m.log.Warn("figures not counted", "err", msg.err)
			m.maint.msg = m.t("maint.figures.failed") + " " + m.t(why(msg.err))
		}
	case maintDoneMsg:
		if m.scr == scrMaint {
			m.maint.msg = msg.text
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
	if m.scr != scrMaint || m.maint.page != pageService {
		return m, false
	}
	switch {
	case k.String() == "backspace":
		if r := []rune(m.maint.draft); len(r) > 0 {
			m.maint.draft = string(r[:len(r)-1])
		}
		return m, true
	case k.Text != "" && k.Mod&^tea.ModShift == 0 && len([]rune(m.maint.draft)) < 80:
		m.maint.draft += clean(k.Text)
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

// shellChecks are the status lines the shell can tell by itself. An
// error is said in words on the line and written as it is to the log.
func shellChecks(ctx context.Context, h hw.Hardware, maint Maintenance, ops []operators.Operator, t func(string) string, log *slog.Logger) []hw.Check {
	var out []hw.Check
	said := func(what string, err error) string {
		log.Warn("status check failed", "device", what, "err", err)
		return t(why(err))
	}
	if h.Camera != nil {
		c := hw.Check{Name: t("dev.camera"), Health: hw.OK, Needed: true}
		st, err := h.Camera.Check(ctx)
		switch {
		case err != nil:
			c.Health, c.Reason = hw.Missing, said("camera", err)
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
			c.Health, c.Reason = hw.Missing, said("printer", err)
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
				c.Health, c.Reason = hw.Degraded, op.ID+" : "+said("video client", err)
				break
			}
		}
		out = append(out, c)
	}
	if maint.LogHealth != nil {
		c := hw.Check{Name: t("dev.log"), Health: hw.OK, Needed: true}
		if err := maint.LogHealth(ctx); err != nil {
			c.Health, c.Reason = hw.Missing, said("usage log", err)
		}
		out = append(out, c)
	}
	return out
}
