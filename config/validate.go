package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loiret/borne/operators"
)

// Languages the kiosk speaks, in the order the default config lists them.
var supportedLanguages = []string{"fr", "en"}

// Themes the tui knows.
var themes = []string{"default", "high-contrast"}

// Back-ends hw knows.
var backends = []string{"dbus", "sim"}

// Session runners hw knows.
var runners = []string{"systemd", "process"}

// maxText is the longest a text shown on screen may be, in bytes.
const maxText = 500

var (
	idPattern      = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	queuePattern   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	envPattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sysNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)
)

// validator checks a decoded Config and collects every problem with its
// position in the file.
type validator struct {
	file    string
	d       *doc
	errs    Errors
	dropped int    // problems past maxCollected, counted only
	warns   Errors // problems that turn an optional feature off
	files   bool   // check the files the config names (Load, not Parse)

	loc       *time.Location
	stopHours [][]operators.Range
}

// warn notes, at the position of path, something check reports without
// failing.
func (v *validator) warn(path, format string, args ...any) {
	p := v.d.posOf(path)
	v.warns = append(v.warns, &Error{File: v.file, Line: p.line, Col: p.col, Msg: path + ": " + fmt.Sprintf(format, args...)})
}

func (v *validator) add(p pos, msg string) {
	v.errs = append(v.errs, &Error{File: v.file, Line: p.line, Col: p.col, Msg: msg})
}

// full says, past maxCollected problems, that no more are worth placing
// in the file: they are only counted.
func (v *validator) full() bool {
	if len(v.errs) < maxCollected {
		return false
	}
	v.dropped++
	return true
}

// fail reports a problem with the value at path.
func (v *validator) fail(path, format string, args ...any) {
	if v.full() {
		return
	}
	v.add(v.d.posOf(path), path+": "+fmt.Sprintf(format, args...))
}

// missing reports a required value that is absent or empty.
func (v *validator) missing(path, hint string) {
	if v.full() {
		return
	}
	msg := path + " is required"
	if hint != "" {
		msg += " " + hint
	}
	v.add(v.d.posOf(path), msg)
}

func (v *validator) validate(c *Config) {
	v.noNUL(reflect.ValueOf(c).Elem(), "")
	v.site(c)
	v.kiosk(&c.Kiosk)
	v.maintenance(c)
	v.hardware(&c.Hardware)
	v.usage(c)
	v.operators(c)
	v.remote(c)
}

// noNUL rejects NUL characters in every string of the config: nothing can
// show or pass them on.
func (v *validator) noNUL(val reflect.Value, path string) {
	switch val.Kind() {
	case reflect.Struct:
		t := val.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			v.noNUL(val.Field(i), joinPath(path, name))
		}
	case reflect.Slice:
		for i := range val.Len() {
			v.noNUL(val.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
	case reflect.Map:
		keys := val.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			v.noNUL(val.MapIndex(k), joinPath(path, k.String()))
		}
	case reflect.String:
		if strings.ContainsRune(val.String(), 0) {
			v.fail(path, "contains a NUL character (\\u0000), which is not allowed")
		}
	}
}

// text checks a text shown on screen.
func (v *validator) text(path, s string, required bool, hint string) {
	switch {
	case strings.TrimSpace(s) == "":
		if required {
			v.missing(path, hint)
		}
	case len(s) > maxText:
		v.fail(path, "is %d bytes long; keep it under %d", len(s), maxText)
	}
}

func (v *validator) texts(path string, list []string) {
	for i, s := range list {
		v.text(path+"["+strconv.Itoa(i)+"]", s, false, "")
	}
}

// oneOf checks that s is one of choices.
func (v *validator) oneOf(path, s string, choices []string, what string) bool {
	if slices.Contains(choices, s) {
		return true
	}
	v.fail(path, "%q is not %s (use %s)", s, what, orList(choices))
	return false
}

func orList(choices []string) string {
	q := make([]string, len(choices))
	for i, c := range choices {
		q[i] = strconv.Quote(c)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func (v *validator) id(path, id string) {
	switch {
	case id == "":
		v.missing(path, `(lowercase letters, digits and "-", like "loiret-gien")`)
	case len(id) > 64:
		v.fail(path, "is %d characters long; keep it under 64", len(id))
	case !idPattern.MatchString(id):
		v.fail(path, `%q may only use lowercase letters a-z, digits and single "-" between them (like "loiret-gien")`, id)
	}
}

// hours parses opening hours; it returns nil when one of them is wrong.
func (v *validator) hours(path string, hours []string) []operators.Range {
	ranges := make([]operators.Range, 0, len(hours))
	ok := true
	for i, h := range hours {
		r, err := operators.ParseRange(h)
		if err != nil {
			v.fail(path+"["+strconv.Itoa(i)+"]", "%q is not valid opening hours: %v", h, err)
			ok = false
			continue
		}
		ranges = append(ranges, r)
	}
	if !ok {
		return nil
	}
	return ranges
}

func (v *validator) between(path string, n, lo, hi int, what string) {
	if n < lo || n > hi {
		v.fail(path, "%d is not %s (use %d to %d)", n, what, lo, hi)
	}
}

// atLeast checks a duration against its minimum.
func (v *validator) atLeast(path string, d Duration, least time.Duration) {
	if d.D() < least {
		v.fail(path, "%s is too short (at least %s)", d, Duration(least))
	}
}

func (v *validator) atMost(path string, d Duration, most time.Duration) {
	if d.D() > most {
		v.fail(path, "%s is too long (at most %s)", d, Duration(most))
	}
}

// absPath checks a file path; relative ones are allowed on a demo.
func (v *validator) absPath(path, p string, relativeOK bool, example string) {
	if !relativeOK && !filepath.IsAbs(p) {
		v.fail(path, "%q must be an absolute path, like %q", p, example)
	}
}

func (v *validator) webURL(path, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(s, " \t\r\n") {
		v.fail(path, "%q is not a web address (write it like \"https://collector.example/borne/v1/events\")", s)
	}
}

func (v *validator) site(c *Config) {
	s := &c.Site
	v.id("site.id", s.ID)
	v.text("site.name", s.Name, true, `(like "Espace services publics de Gien")`)
	v.text("site.place", s.Place, len(s.Stops) == 0, `(the commune, like "Gien"), unless the kiosk lists its [[site.stops]]`)
	v.text("site.help_phone", s.HelpPhone, true, `(a number to call when something fails, like "02 38 00 00 00")`)

	if len(s.Languages) == 0 {
		v.fail("site.languages", "must list at least one language (use %s)", orList(supportedLanguages))
	}
	for i, l := range s.Languages {
		path := "site.languages[" + strconv.Itoa(i) + "]"
		if !v.oneOf(path, l, supportedLanguages, "a language the kiosk speaks") {
			continue
		}
		if j := slices.Index(s.Languages, l); j < i {
			v.fail(path, "%q is already listed", l)
		}
	}

	if s.Timezone == "" {
		v.fail("site.timezone", `must not be empty (use a name like "Europe/Paris")`)
	} else if loc, err := time.LoadLocation(s.Timezone); err != nil {
		v.fail("site.timezone", `%q is not a known time zone (use a name like "Europe/Paris")`, s.Timezone)
	} else {
		v.loc = loc
	}

	v.hours("site.hours", s.Hours)
	stopsOK := true
	var stopHours [][]operators.Range
	for i, st := range s.Stops {
		path := "site.stops[" + strconv.Itoa(i) + "]"
		v.text(path+".place", st.Place, true, `(the commune of this stop, like "Briare")`)
		if len(st.Hours) == 0 {
			v.missing(path+".hours", `(when the kiosk stands there, like ["tue 09:00-12:00"])`)
			stopsOK = false
			continue
		}
		r := v.hours(path+".hours", st.Hours)
		if r == nil {
			stopsOK = false
		}
		stopHours = append(stopHours, r)
	}
	if stopsOK {
		v.stopHours = stopHours
	}
}

func (v *validator) kiosk(k *Kiosk) {
	v.atLeast("kiosk.idle_reset", k.IdleReset, 10*time.Second)
	v.atLeast("kiosk.dim_after", k.DimAfter, 10*time.Second)
	v.atLeast("kiosk.attract_after", k.AttractAfter, 10*time.Second)
	v.atLeast("kiosk.max_session", k.MaxSession, time.Minute)
	v.atMost("kiosk.max_session", k.MaxSession, 4*time.Hour)
	v.oneOf("kiosk.theme", k.Theme, themes, "a theme")
}

func (v *validator) maintenance(c *Config) {
	m := &c.Maintenance
	if m.PinHash == "" {
		if c.Hardware.Backend != "sim" {
			v.missing("maintenance.pin_hash", "(make one with: borne pin hash)")
		}
	} else if _, err := parsePinHash(m.PinHash); err != nil {
		v.fail("maintenance.pin_hash", "%v", err)
	} else if why := placeholderPin(m.PinHash, c.Hardware.Backend); why != "" {
		v.fail("maintenance.pin_hash", "%s", why)
	}
	v.atLeast("maintenance.relock_after", m.RelockAfter, 10*time.Second)
	v.between("maintenance.max_attempts", m.MaxAttempts, 1, 100, "a number of attempts")
}

func (v *validator) hardware(h *Hardware) {
	v.oneOf("hardware.backend", h.Backend, backends, "a hardware back-end")

	d := &h.Display
	if d.Backlight != "" && (!sysNamePattern.MatchString(d.Backlight) || d.Backlight == "." || d.Backlight == "..") {
		v.fail("hardware.display.backlight", `%q is not a name from /sys/class/backlight (like "intel_backlight")`, d.Backlight)
	}
	v.between("hardware.display.active", d.Active, 0, 100, "a brightness in percent")
	v.between("hardware.display.dim", d.Dim, 0, 100, "a brightness in percent")
	v.between("hardware.display.call", d.Call, 0, 100, "a brightness in percent")
	v.between("hardware.display.ddc_display", d.DDCDisplay, 0, 99, "a display number (0 means none)")
	if d.CallBar < 0.1 || d.CallBar > 0.5 {
		v.fail("hardware.display.call_bar", "%g is not a share of the screen's height for the call bar (use 0.1 to 0.5; 0.2 is a fifth)", d.CallBar)
	}

	if h.Camera.Device == "" {
		v.missing("hardware.camera.device", `(like "/dev/video0")`)
	} else {
		v.absPath("hardware.camera.device", h.Camera.Device, false, "/dev/video0")
	}
	v.between("hardware.camera.preset.pan", h.Camera.Preset.Pan, -180, 180, "an angle in degrees")
	v.between("hardware.camera.preset.tilt", h.Camera.Preset.Tilt, -180, 180, "an angle in degrees")
	v.between("hardware.camera.preset.zoom", h.Camera.Preset.Zoom, 1, 1000, "a zoom level (100 is no zoom)")

	switch q := h.Printer.Queue; {
	case q == "":
		v.missing("hardware.printer.queue", `(the CUPS queue name, like "borne")`)
	case !queuePattern.MatchString(q) || len(q) > 127:
		v.fail("hardware.printer.queue", `%q is not a CUPS queue name (letters, digits, "_" and "-" only)`, q)
	}
	switch s := h.Printer.Server; {
	case s == "":
		v.missing("hardware.printer.server", `(like "localhost:631")`)
	case strings.ContainsAny(s, " \t\r\n"):
		v.fail("hardware.printer.server", `%q is not a server address (like "localhost:631")`, s)
	}

	v.oneOf("hardware.session.runner", h.Session.Runner, runners, "a session runner")
	// A kiosk left silent would look broken, and above 100 the sound
	// server amplifies into distortion.
	v.between("hardware.audio.volume", h.Audio.Volume, 10, 100, "a volume in percent")

	if h.Browser.Command == "" {
		v.missing("hardware.browser.command", `(like "/usr/bin/chromium")`)
	} else {
		v.absPath("hardware.browser.command", h.Browser.Command, false, "/usr/bin/chromium")
	}
	for i, f := range h.Browser.Flags {
		if !strings.HasPrefix(f, "--") || strings.ContainsAny(f, "\r\n\x00") {
			v.fail("hardware.browser.flags["+strconv.Itoa(i)+"]", `%q is not a browser flag (like "--force-device-scale-factor=1.5")`, f)
		}
	}
	for i, e := range h.Session.Environment {
		if !envPattern.MatchString(e) {
			v.fail("hardware.session.environment["+strconv.Itoa(i)+"]", `%q is not a variable name (like "WAYLAND_DISPLAY")`, e)
		}
	}
}

func (v *validator) usage(c *Config) {
	u := &c.Usage
	demo := c.Hardware.Backend == "sim"
	if u.Database == "" {
		v.missing("usage.database", `(like "/var/lib/borne/usage.db")`)
	} else {
		v.absPath("usage.database", u.Database, demo, "/var/lib/borne/usage.db")
	}
	v.atLeast("usage.retention", u.Retention, day)
	if u.MetricsFile != "" {
		v.absPath("usage.metrics_file", u.MetricsFile, demo, "/var/lib/prometheus/node-exporter/borne.prom")
	}
	if u.Sync.URL != "" {
		v.collectorURL(&u.Sync)
		if u.Sync.TokenFile == "" {
			v.missing("usage.sync.token_file", `when usage.sync.url is set (like "/etc/borne/sync.token")`)
		}
	}
	if u.Sync.TokenFile != "" {
		v.absPath("usage.sync.token_file", u.Sync.TokenFile, demo, "/etc/borne/sync.token")
		if v.files {
			v.tokenFile("usage.sync.token_file", u.Sync.TokenFile)
		}
	}
	if u.MetricsFile != "" && !strings.HasSuffix(u.MetricsFile, ".prom") {
		v.fail("usage.metrics_file", "%q must end in .prom: the node exporter's textfile collector reads only those", u.MetricsFile)
	}
	v.atLeast("usage.sync.interval", u.Sync.Interval, time.Minute)
}

// collectorURL checks usage.sync.url: https://, or http:// to this
// machine when allow_loopback_http says so. The token and the events
// would otherwise cross the network in clear (usage.CheckCollectorURL
// applies the same rule when syncing).
func (v *validator) collectorURL(s *Sync) {
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(s.URL, " \t\r\n") {
		v.webURL("usage.sync.url", s.URL)
		return
	}
	if u.Scheme == "https" {
		return
	}
	switch {
	case !s.AllowLoopbackHTTP:
		v.fail("usage.sync.url", "%q: http:// would send the token and the events in clear; use https:// (http:// to this machine needs usage.sync.allow_loopback_http = true)", s.URL)
	case !loopbackHost(u.Hostname()):
		v.fail("usage.sync.url", "%q: http:// is allowed only to this machine (127.0.0.1, localhost, [::1]), even with allow_loopback_http; use https://", s.URL)
	}
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tokenFile checks the file holding the collector's token: it must be
// there, and not readable by every user of the kiosk, since whoever has it
// can send events in the kiosk's name.
func (v *validator) tokenFile(path, p string) {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.fail(path, "%q does not exist: put the collector's token in it, readable by the kiosk's user only (chmod 600)", p)
	case err != nil:
		v.fail(path, "%q cannot be checked: %v", p, pathReason(err))
	case !fi.Mode().IsRegular():
		v.fail(path, "%q is not a regular file", p)
	case fi.Mode().Perm()&0o004 != 0:
		v.fail(path, "%q is readable by every user (mode %04o): make it readable by the kiosk's user only (chmod 600)", p, fi.Mode().Perm())
	}
}

func pathReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (v *validator) operators(c *Config) {
	builtin := operators.BuiltinIDs()
	known := slices.Clone(builtin)
	for i, sp := range c.Operators.Custom {
		path := "operators.custom[" + strconv.Itoa(i) + "]"
		v.id(path+".id", sp.ID)
		if sp.ID != "" {
			if j := slices.IndexFunc(c.Operators.Custom[:i], func(o operators.Spec) bool { return o.ID == sp.ID }); j >= 0 {
				v.fail(path+".id", "%q is already used by operators.custom[%d]", sp.ID, j)
			}
			known = append(known, sp.ID)
		}
		override := slices.Contains(builtin, sp.ID)
		v.text(path+".name", sp.Name, !override, "(the name shown on the tile, unless the id overrides a built-in operator)")
		v.text(path+".summary", sp.Summary, false, "")
		v.texts(path+".helps", sp.Helps)
		v.texts(path+".documents", sp.Documents)
		v.text(path+".phone", sp.Phone, false, "")
		if sp.Website != "" {
			v.webURL(path+".website", sp.Website)
		}
		if len(sp.Hours) == 0 && !override {
			v.missing(path+".hours", `(when it answers calls, like ["mon-fri 09:00-12:00"])`)
		}
		v.hours(path+".hours", sp.Hours)
		for j, d := range sp.Closed {
			if _, err := operators.ParseDate(d); err != nil {
				v.fail(path+".closed["+strconv.Itoa(j)+"]", "%q is not a closing date: %v", d, err)
			}
		}
		for j, f := range sp.Forms {
			fp := path + ".forms[" + strconv.Itoa(j) + "]"
			v.text(fp+".title", f.Title, true, `(the words on its button, like "Demande de RSA")`)
			if f.File == "" {
				v.missing(fp+".file", `(the PDF to print, like "/var/lib/borne/forms/rsa.pdf")`)
			} else {
				v.absPath(fp+".file", f.File, false, "/var/lib/borne/forms/rsa.pdf")
			}
		}
		if len(sp.Launch) > 0 && !filepath.IsAbs(sp.Launch[0]) {
			v.fail(path+".launch[0]", "%q must be an absolute path to a program, like \"/usr/bin/partner-client\"", sp.Launch[0])
		}
		v.visio(c, path, sp)
		langs := make([]string, 0, len(sp.Translations))
		for l := range sp.Translations {
			langs = append(langs, l)
		}
		sort.Strings(langs)
		for _, l := range langs {
			tp := path + ".translations." + l
			if !slices.Contains(supportedLanguages, l) {
				v.add(v.d.keyPos(tp), fmt.Sprintf("%s: %q is not a language the kiosk speaks (use %s)", tp, l, orList(supportedLanguages)))
				continue
			}
			t := sp.Translations[l]
			v.text(tp+".name", t.Name, false, "")
			v.text(tp+".summary", t.Summary, false, "")
			v.texts(tp+".helps", t.Helps)
			v.texts(tp+".documents", t.Documents)
		}
	}

	v.exampleVisios(c)
	for i, id := range c.Operators.Enabled {
		path := "operators.enabled[" + strconv.Itoa(i) + "]"
		if !slices.Contains(known, id) {
			msg := fmt.Sprintf("%q is not a known operator (built-in: %s; add others under [[operators.custom]])", id, strings.Join(builtin, ", "))
			if s := closest(id, known); s != "" {
				msg = fmt.Sprintf("%q is not a known operator: did you mean %q? (built-in: %s; add others under [[operators.custom]])", id, s, strings.Join(builtin, ", "))
			}
			v.fail(path, "%s", msg)
			continue
		}
		if j := slices.Index(c.Operators.Enabled, id); j < i {
			v.fail(path, "%q is already listed", id)
		}
	}
}

// visio checks a custom operator's web visio: one of launch and
// visio_url, https addresses, end addresses that do not end the call as
// soon as it opens.
func (v *validator) visio(c *Config, path string, sp operators.Spec) {
	loopback := c.Hardware.Browser.AllowLoopbackHTTP
	if sp.VisioURL != "" && len(sp.Launch) > 0 {
		v.fail(path+".visio_url", "an operator has launch (a native client) or visio_url (a web visio), not both")
	}
	if sp.VisioURL != "" {
		if err := operators.CheckVisioURL(sp.VisioURL, loopback); err != nil {
			v.fail(path+".visio_url", "%v", err)
		}
	} else if len(sp.VisioEnd) > 0 && !slices.Contains(operators.BuiltinIDs(), sp.ID) {
		v.fail(path+".visio_end", "is set but visio_url is not: write the partner's visio address in visio_url")
	}
	for j, e := range sp.VisioEnd {
		ep := path + ".visio_end[" + strconv.Itoa(j) + "]"
		if err := operators.CheckVisioEnd(e, loopback); err != nil {
			v.fail(ep, "%v", err)
			continue
		}
		if sp.VisioURL != "" && operators.EndMatches(e, sp.VisioURL) {
			v.fail(ep, "%q matches visio_url itself: every call would end as soon as it opens", e)
		}
	}
}

// exampleVisios warns about each operator shown whose visio is still the
// catalog's example address: on a real kiosk its calls go nowhere. A demo
// (hardware.backend = "sim") opens no browser.
func (v *validator) exampleVisios(c *Config) {
	if c.Hardware.Backend == "sim" {
		return
	}
	custom := map[string]int{}
	for i, sp := range c.Operators.Custom {
		custom[sp.ID] = i
	}
	ops, err := operators.Build(c.Operators.Enabled, c.Operators.Custom, v.loc)
	if err != nil {
		return // reported elsewhere
	}
	for _, op := range ops {
		if !op.IsVisio() || !isExample(op.VisioURL) {
			continue
		}
		path := ""
		if i, ok := custom[op.ID]; ok && c.Operators.Custom[i].VisioURL != "" {
			path = "operators.custom[" + strconv.Itoa(i) + "].visio_url"
		} else if i := slices.Index(c.Operators.Enabled, op.ID); i >= 0 {
			path = "operators.enabled[" + strconv.Itoa(i) + "]"
		} else {
			path = "operators.enabled"
		}
		v.warn(path, "operator %q still opens the example address %s: set its partner's real visio_url in [[operators.custom]] with id = %q", op.ID, op.VisioURL, op.ID)
	}
}

// isExample tells whether a visio address is on the catalog's example host.
func isExample(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Hostname() == operators.ExampleVisioHost || strings.HasSuffix(u.Hostname(), "."+operators.ExampleVisioHost))
}
