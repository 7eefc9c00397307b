package config

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	toml "github.com/pelletier/go-toml/v2"
	"golang.org/x/crypto/argon2"

	"github.com/loiret/borne/operators"
)

// testHash is a site's own hash (PIN 731904).
const testHash = "$argon2id$v=19$m=19456,t=5,p=1$BUilHq4hiUwcT3UWftt99w$SmmUEiOwL2+rorPKvqjPwFloDiCbH3hileyna0mjKJs"

// base is the smallest valid config of a real kiosk. Cases add lines after
// it (from line 9) or replace one of its lines.
const base = `[site]
id = "loiret-gien"
name = "Espace services publics de Gien"
place = "Gien"
help_phone = "02 38 00 00 00"

[maintenance]
pin_hash = "` + testHash + `"
`

// inSite inserts lines into [site], from line 6.
func inSite(lines string) string {
	return strings.Replace(base, "help_phone = \"02 38 00 00 00\"\n", "help_phone = \"02 38 00 00 00\"\n"+lines, 1)
}

// replace swaps one line of base.
func replace(old, new string) string {
	if !strings.Contains(base, old) {
		panic("not in base: " + old)
	}
	return strings.Replace(base, old, new, 1)
}

const customMairie = `[[operators.custom]]
id = "mairie"
name = "Mairie"
hours = ["mon-fri 09:00-12:00"]
`

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		at   string // line:col
		want string // in the message
	}{
		{"syntax error", base + "[kiosk\nidle_reset = \"90s\"\n", "9:7", "TOML syntax error"},
		{"syntax error in a value", base + "[kiosk]\nidle_reset = 90s\n", "10:16", "TOML syntax error"},
		{"unknown top-level key", "colour = \"blue\"\n" + base, "1:1", "colour: unknown key"},
		{"unknown top-level table", base + "[kisok]\ntheme = \"default\"\n", "9:1", `kisok: unknown key (did you mean "kiosk"?)`},
		{"unknown nested key", base + "[kiosk]\nidle = \"90s\"\n", "10:1", `kiosk.idle: unknown key (did you mean "idle_reset"?)`},
		{"unknown key in an array of tables", base + customMairie + "colour = \"red\"\n", "13:1", "operators.custom[0].colour: unknown key"},
		{"wrong type", base + "[hardware.display]\nactive = \"high\"\n", "10:10", `hardware.display.active: must be a whole number without quotes, not text ("high")`},
		{"table expected", "kiosk = \"fast\"\n" + base, "1:9", "kiosk: must be a table, not text"},
		{"list expected", inSite("hours = \"mon-fri 09:00-12:00\"\n"), "6:9", "site.hours: must be a list of texts"},
		{"number for a duration", base + "[kiosk]\nidle_reset = 90\n", "10:14", `kiosk.idle_reset: must be a duration in quotes, like "90s", not a whole number (90)`},
		{"bad duration", base + "[kiosk]\nidle_reset = \"90x\"\n", "10:14", `kiosk.idle_reset: "90x" is not a duration (use 90s, 3m, 2h or 395d)`},
		{"negative duration", base + "[kiosk]\nmax_session = \"-5m\"\n", "10:15", `kiosk.max_session: "-5m" is negative`},
		{"duration too short", base + "[kiosk]\nidle_reset = \"5s\"\n", "10:14", "kiosk.idle_reset: 5s is too short (at least 10s)"},
		{"zero duration", base + "[usage]\nretention = \"0s\"\n", "10:13", "usage.retention: 0s is too short (at least 1d)"},
		{"duration overflows", base + "[kiosk]\nidle_reset = \"99999999h\"\n", "10:14", `kiosk.idle_reset: "99999999h" is too long (at most 3650d, ten years)`},
		{"session too long", base + "[kiosk]\nmax_session = \"5h\"\n", "10:15", "kiosk.max_session: 5h is too long (at most 4h)"},
		{"bad timezone", inSite("timezone = \"Europe/Pari\"\n"), "6:12", `site.timezone: "Europe/Pari" is not a known time zone`},
		{"bad hours", inSite("hours = [\"mon-fri 09:00-12:00\", \"mon-fry 13:30-17:00\"]\n"), "6:33", `site.hours[1]: "mon-fry 13:30-17:00" is not valid opening hours`},
		{"bad closed date", base + customMairie + "closed = [\"2026-12-24\", \"24/12/2026\"]\n", "13:25", `operators.custom[0].closed[1]: "24/12/2026" is not a closing date`},
		{"bad custom hours", base + "[[operators.custom]]\nid = \"mairie\"\nname = \"Mairie\"\nhours = [\"lundi matin\"]\n", "12:10", `operators.custom[0].hours[0]: "lundi matin" is not valid opening hours`},
		{"unknown operator", base + "[operators]\nenabled = [\"caf\", \"cfa\"]\n", "10:19", `operators.enabled[1]: "cfa" is not a known operator: did you mean "caf"?`},
		{"duplicate operator", base + "[operators]\nenabled = [\"caf\", \"cpam\", \"caf\"]\n", "10:27", `operators.enabled[2]: "caf" is already listed`},
		{"duplicate custom id", base + customMairie + customMairie, "14:6", `operators.custom[1].id: "mairie" is already used by operators.custom[0]`},
		{"custom without name", base + "[[operators.custom]]\nid = \"mairie\"\nhours = [\"mon-fri 09:00-12:00\"]\n", "9:1", "operators.custom[0].name is required"},
		{"custom without hours", base + "[[operators.custom]]\nid = \"mairie\"\nname = \"Mairie\"\n", "9:1", "operators.custom[0].hours is required"},
		{"bad custom id", base + "[[operators.custom]]\nid = \"Mairie Gien\"\nname = \"Mairie\"\nhours = [\"mon 09:00-12:00\"]\n", "10:6", `operators.custom[0].id: "Mairie Gien" may only use lowercase letters`},
		{"relative launch path", base + customMairie + "launch = [\"chromium\", \"--kiosk\"]\n", "13:11", `operators.custom[0].launch[0]: "chromium" must be an absolute path`},
		{"unknown translation", base + customMairie + "[operators.custom.translations.de]\nname = \"Rathaus\"\n", "13:1", `operators.custom[0].translations.de: "de" is not a language the kiosk speaks`},
		{"not a boolean", base + customMairie + "open_on_holidays = \"yes\"\n", "13:20", `operators.custom[0].open_on_holidays: must be true or false, not text ("yes")`},
		{"bad theme", base + "[kiosk]\ntheme = \"dark\"\n", "10:9", `kiosk.theme: "dark" is not a theme (use "default" or "high-contrast")`},
		{"bad backend", base + "[hardware]\nbackend = \"usb\"\n", "10:11", `hardware.backend: "usb" is not a hardware back-end (use "dbus" or "sim")`},
		{"brightness 150", base + "[hardware.display]\ndim = 150\n", "10:7", "hardware.display.dim: 150 is not a brightness in percent (use 0 to 100)"},
		{"volume 0", base + "[hardware.audio]\nvolume = 0\n", "10:10", "hardware.audio.volume: 0 is not a volume in percent (use 10 to 100)"},
		{"volume 130", base + "[hardware.audio]\nvolume = 130\n", "10:10", "hardware.audio.volume: 130 is not a volume in percent (use 10 to 100)"},
		{"pan in an inline table", base + "[hardware.camera]\npreset = { pan = 200 }\n", "10:18", "hardware.camera.preset.pan: 200 is not an angle in degrees"},
		{"pin_hash not PHC", replace(`pin_hash = "`+testHash+`"`, `pin_hash = "$2y$10$abcdefghijklmnopqrstuv"`), "8:12", "maintenance.pin_hash: is not an argon2id hash"},
		{"pin_hash too weak", replace("m=19456", "m=4096"), "8:12", "maintenance.pin_hash: is too weak: m=4096 is below 19456"},
		{"pin_hash bad base64", replace("BUilHq4hiUwcT3UWftt99w", "BUilHq4hiUwcT3UWftt99!"), "8:12", "is not an argon2id hash"},
		{"missing site.id", "# Gien\n  [site]\n" + strings.SplitN(base, "\n", 3)[2], "2:3", "site.id is required"},
		{"empty site.id", replace(`id = "loiret-gien"`, `id = ""`), "2:6", "site.id is required"},
		{"bad site.id", replace(`id = "loiret-gien"`, `id = "Loiret Gien"`), "2:6", `site.id: "Loiret Gien" may only use lowercase letters`},
		{"missing pin_hash with dbus", strings.SplitN(base, "\n[maintenance]", 2)[0] + "\n", "1:1", "maintenance.pin_hash is required (make one with: borne pin hash)"},
		{"missing pin_hash in its table", replace(`pin_hash = "`+testHash+`"`, "max_attempts = 5"), "7:1", "maintenance.pin_hash is required"},
		{"max_attempts 0", base + "max_attempts = 0\n", "9:16", "maintenance.max_attempts: 0 is not a number of attempts (use 1 to 100)"},
		{"sync url without token_file", base + "[usage.sync]\nurl = \"https://collector.example/e\"\n", "9:1", "usage.sync.token_file is required when usage.sync.url is set"},
		{"sync url not http", base + "[usage.sync]\nurl = \"ftp://collector.example/e\"\ntoken_file = \"/etc/borne/sync.token\"\n", "10:7", `usage.sync.url: "ftp://collector.example/e" is not a web address`},
		{"sync url in clear", base + "[usage.sync]\nurl = \"http://collector.example/e\"\ntoken_file = \"/etc/borne/sync.token\"\n", "10:7", `usage.sync.url: "http://collector.example/e": http:// would send the token and the events in clear; use https://`},
		{"sync url in clear to loopback", base + "[usage.sync]\nurl = \"http://127.0.0.1:8440/e\"\ntoken_file = \"/etc/borne/sync.token\"\n", "10:7", `usage.sync.allow_loopback_http = true`},
		{"sync url in clear elsewhere", base + "[usage.sync]\nurl = \"http://10.1.2.3:8440/e\"\ntoken_file = \"/etc/borne/sync.token\"\nallow_loopback_http = true\n", "10:7", `http:// is allowed only to this machine`},
		{"sync url in clear to a look-alike", base + "[usage.sync]\nurl = \"http://localhost.evil.example/e\"\ntoken_file = \"/etc/borne/sync.token\"\nallow_loopback_http = true\n", "10:7", `http:// is allowed only to this machine`},
		{"relative database", base + "[usage]\ndatabase = \"usage.db\"\n", "10:12", `usage.database: "usage.db" must be an absolute path`},
		{"bad language", inSite("languages = [\"fr\", \"de\"]\n"), "6:20", `site.languages[1]: "de" is not a language the kiosk speaks (use "fr" or "en")`},
		{"no language", inSite("languages = []\n"), "6:13", "site.languages: must list at least one language"},
		{"duplicate language", inSite("languages = [\"en\", \"en\"]\n"), "6:20", `site.languages[1]: "en" is already listed`},
		{"bad queue name", base + "[hardware.printer]\nqueue = \"my printer\"\n", "10:9", `hardware.printer.queue: "my printer" is not a CUPS queue name`},
		{"bad variable name", base + "[hardware.session]\nenvironment = [\"DISPLAY\", \"XDG RUNTIME\"]\n", "10:27", `hardware.session.environment[1]: "XDG RUNTIME" is not a variable name`},
		{"NUL in name", replace(`name = "Espace services publics de Gien"`, `name = "Espace\u0000"`), "3:8", "site.name: contains a NUL character"},
		{"name too long", replace(`name = "Espace services publics de Gien"`, `name = "`+strings.Repeat("é", 300)+`"`), "3:8", "site.name: is 600 bytes long; keep it under 500"},
		{"stop without hours", strings.Replace(base, "place = \"Gien\"\n", "", 1) + "[[site.stops]]\nplace = \"Briare\"\n", "8:1", "site.stops[0].hours is required"},
		{"no place and no stops", strings.Replace(base, "place = \"Gien\"\n", "", 1), "1:1", "site.place is required"},
		{"number too large", base + "[hardware.display]\nactive = 99999999999999999999\n", "10:10", "hardware.display.active: "},
		{"duplicate key", base + "[kiosk]\ntheme = \"default\"\ntheme = \"default\"\n", "11:1", "kiosk.theme: "},
		{"columns count characters", base + customMairie + `documents = ["Pièce d'identité", "\u0000"]` + "\n", "13:34", "operators.custom[0].documents[1]: contains a NUL character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("borne.toml", []byte(tc.doc))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Errorf("config returned with an error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not an Errors: %v", err, err)
			}
			if len(errs) != 1 {
				t.Fatalf("want 1 error, got %d:\n%v", len(errs), err)
			}
			e := errs[0]
			if got := fmt.Sprintf("%d:%d", e.Line, e.Col); got != tc.at {
				t.Errorf("at %s, want %s: %v", got, tc.at, e)
			}
			if !strings.Contains(e.Msg, tc.want) {
				t.Errorf("message %q does not contain %q", e.Msg, tc.want)
			}
			if want := "borne.toml:" + tc.at + ": "; !strings.HasPrefix(e.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", e.Error(), want)
			}
		})
	}
}

func TestPositions(t *testing.T) {
	d, err := readDoc([]byte("a = 1\n[b]\nc = \"é\" # é\nd = [\"é\", \"x\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]pos{
		"a": {1, 5}, "b": {2, 1}, "b.c": {3, 5}, "b.d": {4, 5}, "b.d[1]": {4, 11},
		"b.zz": {2, 1}, "b.d[7]": {4, 5}, "zz.yy": {1, 1},
	} {
		if got := d.posOf(path); got != want {
			t.Errorf("posOf(%s) = %v, want %v", path, got, want)
		}
	}
	// The decoder counts columns in bytes.
	off := d.lineColOffset(4, 12)
	if got := d.offsetPos(off); got != (pos{4, 11}) {
		t.Errorf("lineColOffset(4, 12) = %d, at %v", off, got)
	}
	if got := d.pathAt(off); got != "b.d[1]" {
		t.Errorf("pathAt = %q", got)
	}
}

// The decoder's own errors keep their position and name their key. (Parse
// meets them only for what its schema check leaves to the decoder.)
func TestDecodeErrorConversion(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"[kiosk]\nidle = 1\n", "f.toml:2:1: kiosk.idle: unknown key"},
		{"[hardware.display]\nactive = \"high\"\n", "f.toml:2:10: hardware.display.active: "},
		{"[site]\nname = \"é\"\n[hardware.camera]\npreset = { \"é\" = 1 }\n", "f.toml:4:12: hardware.camera.preset.é: unknown key"},
	}
	for _, tc := range cases {
		d, err := readDoc([]byte(tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		var c Config
		err = decode([]byte(tc.doc), &c, true)
		if err == nil {
			t.Fatalf("%q: no decode error", tc.doc)
		}
		errs := decodeError("f.toml", d, err)
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.doc, errs, tc.want)
		}
	}
}

func TestParseReportsAllErrors(t *testing.T) {
	doc := base + `[kiosk]
idle = "90s"
theme = "dark"

[hardware.display]
dim = 150

[operators]
enabled = ["caf", "nope"]
`
	_, err := Parse("borne.toml", []byte(doc))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`borne.toml:10:1: kiosk.idle: unknown key (did you mean "idle_reset"?)`,
		`borne.toml:11:9: kiosk.theme: "dark" is not a theme (use "default" or "high-contrast")`,
		`borne.toml:14:7: hardware.display.dim: 150 is not a brightness in percent (use 0 to 100)`,
		`borne.toml:17:19: operators.enabled[1]: "nope" is not a known operator`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], want[i])
		}
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 10 {
		t.Errorf("errors.As gives %v, want the first error", e)
	}
}

func TestParseReportsAllTypeErrors(t *testing.T) {
	doc := base + `[kiosk]
idle_reset = "soon"
max_session = 45
colour = "blue"
`
	_, err := Parse("borne.toml", []byte(doc))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	for i, at := range []int{10, 11, 12} {
		if errs[i].Line != at {
			t.Errorf("error %d at line %d, want %d: %v", i, errs[i].Line, at, errs[i])
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("borne.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"languages", c.Site.Languages, []string{"fr", "en"}},
		{"timezone", c.Site.Timezone, "Europe/Paris"},
		{"idle_reset", c.Kiosk.IdleReset.D(), 90 * time.Second},
		{"dim_after", c.Kiosk.DimAfter.D(), 3 * time.Minute},
		{"attract_after", c.Kiosk.AttractAfter.D(), 5 * time.Minute},
		{"max_session", c.Kiosk.MaxSession.D(), 45 * time.Minute},
		{"theme", c.Kiosk.Theme, "default"},
		{"relock_after", c.Maintenance.RelockAfter.D(), 3 * time.Minute},
		{"max_attempts", c.Maintenance.MaxAttempts, 5},
		{"backend", c.Hardware.Backend, "dbus"},
		{"active", c.Hardware.Display.Active, 100},
		{"dim", c.Hardware.Display.Dim, 20},
		{"call", c.Hardware.Display.Call, 100},
		{"device", c.Hardware.Camera.Device, "/dev/video0"},
		{"zoom", c.Hardware.Camera.Preset.Zoom, 100},
		{"queue", c.Hardware.Printer.Queue, "borne"},
		{"server", c.Hardware.Printer.Server, "localhost:631"},
		{"environment", c.Hardware.Session.Environment, []string{"WAYLAND_DISPLAY", "DISPLAY", "XDG_RUNTIME_DIR", "PULSE_SERVER"}},
		{"database", c.Usage.Database, "/var/lib/borne/usage.db"},
		{"retention", c.Usage.Retention.D(), 395 * 24 * time.Hour},
		{"interval", c.Usage.Sync.Interval.D(), 15 * time.Minute},
		{"enabled", c.Operators.Enabled, operators.BuiltinIDs()},
		{"path", c.Path, ""},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if len(c.Operators.Enabled) != 6 {
		t.Errorf("enabled = %v, want the 6 built-in operators", c.Operators.Enabled)
	}
}

// Written values win over defaults, zero ones included.
func TestExplicitValuesKept(t *testing.T) {
	c, err := Parse("borne.toml", []byte(base+`[hardware.display]
dim = 0
[hardware.camera]
preset = { zoom = 250 }
[hardware.session]
environment = []
[operators]
enabled = []
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hardware.Display.Dim != 0 || c.Hardware.Camera.Preset.Zoom != 250 ||
		len(c.Hardware.Session.Environment) != 0 || len(c.Operators.Enabled) != 0 {
		t.Errorf("explicit values replaced by defaults: %+v %+v", c.Hardware, c.Operators)
	}
	if c.Hardware.Display.Active != 100 {
		t.Errorf("active = %d, want the default 100", c.Hardware.Display.Active)
	}
}

func TestDuration(t *testing.T) {
	good := []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"90s", 90 * time.Second, "1m30s"},
		{"3m", 3 * time.Minute, "3m"},
		{"2h", 2 * time.Hour, "2h"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"395d", 395 * 24 * time.Hour, "395d"},
		{"1d12h", 36 * time.Hour, "36h"},
		{"1d", 24 * time.Hour, "1d"},
		{"500ms", 500 * time.Millisecond, "500ms"},
		{"0", 0, "0s"},
		{"3650d", 3650 * 24 * time.Hour, "3650d"},
		{" 45m ", 45 * time.Minute, "45m"},
	}
	for _, g := range good {
		var d Duration
		if err := d.UnmarshalText([]byte(g.in)); err != nil {
			t.Errorf("%q: %v", g.in, err)
			continue
		}
		if d.D() != g.want {
			t.Errorf("%q = %v, want %v", g.in, d.D(), g.want)
		}
		out, err := d.MarshalText()
		if err != nil || string(out) != g.out {
			t.Errorf("%q marshals to %q, %v; want %q", g.in, out, err, g.out)
		}
		var back Duration
		if err := back.UnmarshalText(out); err != nil || back != d {
			t.Errorf("%q does not round trip: %q gives %v, %v", g.in, out, back, err)
		}
	}
	bad := map[string]string{
		"":         "empty",
		"90":       "is not a duration",
		"90x":      `"90x" is not a duration (use 90s, 3m, 2h or 395d)`,
		"-5s":      "negative",
		"-1d":      "negative",
		"1d-5h":    "is not a duration",
		"d":        "is not a duration",
		"1.5d":     "is not a duration",
		"five":     "is not a duration",
		"9999999d": "too long",
		// Too big for Go's durations, or past ten years: never "not a
		// duration", which would send the technician looking for a typo.
		"99999999h":               `"99999999h" is too long (at most 3650d, ten years)`,
		"99999999999999999999d":   "is too long",
		"99999999999999999999s":   "is too long",
		"3651d":                   "is too long",
		"3650d1s":                 "is too long",
		"1d99999999999999999999h": "is too long",
		"1.5.5h":                  "is not a duration",
	}
	for in, want := range bad {
		var d Duration
		err := d.UnmarshalText([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", in, err, want)
		}
	}

	// Through the TOML library, both ways.
	type doc struct {
		D Duration `toml:"d"`
	}
	b, err := toml.Marshal(doc{D: Duration(395 * 24 * time.Hour)})
	if err != nil || !bytes.Contains(b, []byte(`'395d'`)) && !bytes.Contains(b, []byte(`"395d"`)) {
		t.Fatalf("marshal: %s, %v", b, err)
	}
	var back doc
	if err := toml.Unmarshal(b, &back); err != nil || back.D.D() != 395*24*time.Hour {
		t.Errorf("unmarshal %s: %v, %v", b, back.D, err)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "borne.toml", Line: 12, Col: 14, Msg: "kiosk.idle_reset: bad"}
	if got := e.Error(); got != "borne.toml:12:14: kiosk.idle_reset: bad" {
		t.Errorf("got %q", got)
	}
	e = &Error{File: "/etc/borne/borne.toml", Msg: "cannot read the config file: there is no such file"}
	if got := e.Error(); got != "/etc/borne/borne.toml: cannot read the config file: there is no such file" {
		t.Errorf("got %q", got)
	}
	es := Errors{{File: "a", Line: 1, Col: 2, Msg: "x"}, {File: "a", Line: 3, Col: 4, Msg: "y"}}
	if got := es.Error(); got != "a:1:2: x\na:3:4: y" {
		t.Errorf("got %q", got)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "borne.toml")
	if err := os.WriteFile(path, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != path || c.Site.ID != "loiret-gien" {
		t.Errorf("Path %q, id %q", c.Path, c.Site.ID)
	}

	missing := filepath.Join(dir, "nope.toml")
	_, err = Load(missing)
	var e *Error
	if !errors.As(err, &e) || e.Line != 0 || e.File != missing {
		t.Fatalf("Load(missing) = %v", err)
	}
	if want := missing + ": cannot read the config file: there is no such file"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}

	_, err = Load(dir)
	if err == nil || !strings.Contains(err.Error(), dir+": cannot read the config file: it is a folder") {
		t.Errorf("Load(dir) = %v", err)
	}

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte(base+"[kiosk]\ntheme = \"dark\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if err == nil || !strings.HasPrefix(err.Error(), bad+":10:9: kiosk.theme") {
		t.Errorf("Load(bad) = %v", err)
	}
}

func TestDemo(t *testing.T) {
	if _, err := Parse("demo.toml", DemoTOML()); err != nil {
		t.Fatalf("the embedded demo config is invalid:\n%v", err)
	}
	c := Demo()
	if c.Site.ID != "demo" || c.Site.Place != "Gien" || c.Hardware.Backend != "sim" || c.Usage.Database != "borne-demo.db" {
		t.Errorf("demo config: %+v", c)
	}
	if !slices.Equal(c.Operators.Enabled, operators.BuiltinIDs()) {
		t.Errorf("demo enables %v, want every built-in operator", c.Operators.Enabled)
	}
	// The demo PIN is 246810, with the strength the config asks for.
	h, err := parsePinHash(c.Maintenance.PinHash)
	if err != nil {
		t.Fatal(err)
	}
	for pin, want := range map[string]bool{"246810": true, "246811": false} {
		key := argon2.IDKey([]byte(pin), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
		if got := subtle.ConstantTimeCompare(key, h.key) == 1; got != want {
			t.Errorf("PIN %s matches: %v, want %v", pin, got, want)
		}
	}
	ops, err := c.ResolveOperators()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range ops {
		ids = append(ids, o.ID)
	}
	if want := append(operators.BuiltinIDs(), "mairie", "essai"); !slices.Equal(ids, want) {
		t.Errorf("operators %v, want %v", ids, want)
	}
	// Each call gives a Config of its own.
	Demo().Site.Name = "changed"
	if Demo().Site.Name == "changed" {
		t.Error("Demo shares its Config")
	}
}

func TestExample(t *testing.T) {
	// As it is, its placeholder PIN hash is refused, and that only.
	_, err := Parse("example.toml", Example())
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Error(), "maintenance.pin_hash: is the example's placeholder") {
		t.Fatalf("the example config as it is: %v", err)
	}
	at := bytes.Index(Example(), []byte(examplePinHash))
	line := bytes.Count(Example()[:at], []byte("\n")) + 1
	if errs[0].Line != line || errs[0].Col != len(`pin_hash = "`) {
		t.Errorf("the placeholder is said at %d:%d, it is at %d:%d", errs[0].Line, errs[0].Col, line, len(`pin_hash = "`))
	}
	// With the site's own hash, valid.
	ex := bytes.Replace(Example(), []byte(examplePinHash), []byte(testHash), 1)
	c, err := Parse("example.toml", ex)
	if err != nil {
		t.Fatalf("the example config is invalid:\n%v", err)
	}
	if c.Hardware.Backend != "dbus" || c.Maintenance.PinHash == "" {
		t.Errorf("example: backend %q, pin_hash %q", c.Hardware.Backend, c.Maintenance.PinHash)
	}
	if !bytes.Contains(ex, []byte("REPLACE IT")) {
		t.Error("the example does not say to replace its pin_hash")
	}
	if _, err := c.ResolveOperators(); err != nil {
		t.Error(err)
	}

	// The itinerant stops are commented out; uncommented, they are valid
	// too, and then every key of Config is written in the example.
	stops := bytes.ReplaceAll(ex, []byte("\n# [[site.stops]]"), []byte("\n[[site.stops]]"))
	stops = bytes.ReplaceAll(stops, []byte("\n# place = "), []byte("\nplace = "))
	stops = bytes.ReplaceAll(stops, []byte("\n# hours = "), []byte("\nhours = "))
	c, err = Parse("example.toml", stops)
	if err != nil {
		t.Fatalf("the example with its stops is invalid:\n%v", err)
	}
	if len(c.Site.Stops) != 2 {
		t.Fatalf("stops = %v", c.Site.Stops)
	}
	d, err := readDoc(stops)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range missingKeys(d.root, reflect.TypeFor[Config](), "") {
		// launch and visio_url exclude each other: launch is shown
		// commented out.
		if p == "operators.custom[0].launch" && bytes.Contains(ex, []byte("\n# launch = [\"/")) {
			continue
		}
		t.Errorf("the example does not show %s", p)
	}
}

// missingKeys lists the toml keys of t that n does not write.
func missingKeys(n *node, t reflect.Type, path string) []string {
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return nil
	}
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		for name, f := range tomlFields(t) {
			child := n.fields[name]
			if child == nil {
				out = append(out, joinPath(path, name))
				continue
			}
			out = append(out, missingKeys(child, f.Type, joinPath(path, name))...)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			if len(n.elems) == 0 {
				return []string{path + "[]"}
			}
			for i, e := range n.elems {
				out = append(out, missingKeys(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	case reflect.Map:
		if len(n.order) == 0 {
			return []string{path + ".*"}
		}
		for _, k := range n.order {
			out = append(out, missingKeys(n.fields[k], t.Elem(), joinPath(path, k))...)
		}
	}
	return out
}

const itinerant = `[site]
id = "loiret-bus"
name = "Bus France services"
help_phone = "02 38 00 00 00"

[[site.stops]]
place = "Briare"
hours = ["tue 09:00-12:00"]

[[site.stops]]
place = "Châtillon-sur-Loire"
hours = ["thu 14:00-17:00", "fri 09:00-12:00"]

[hardware]
backend = "sim"
`

func TestPlaceAt(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, paris)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}

	fixed, err := Parse("borne.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if got := fixed.PlaceAt(at("2026-12-01 10:00")); got != "Gien" {
		t.Errorf("fixed kiosk: %q", got)
	}

	c, err := Parse("bus.toml", []byte(itinerant))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		now  time.Time
		want string
	}{
		{at("2026-12-01 10:00"), "Briare"},                        // Tuesday, during the stop
		{at("2026-12-01 09:00"), "Briare"},                        // its first minute
		{at("2026-12-01 12:00"), "Briare"},                        // just after: still the last stop
		{at("2026-12-02 15:00"), "Briare"},                        // Wednesday: the last stop was Tuesday's
		{at("2026-12-03 15:00"), "Châtillon-sur-Loire"},           // Thursday afternoon
		{at("2026-12-03 10:00"), "Briare"},                        // Thursday morning, before the stop
		{at("2026-12-07 08:00"), "Châtillon-sur-Loire"},           // Monday: Friday's stop
		{at("2026-12-01 08:59"), "Châtillon-sur-Loire"},           // Tuesday before the stop: Friday's
		{time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC), "Briare"}, // 09:30 in Gien
	}
	for _, tc := range cases {
		if got := c.PlaceAt(tc.now); got != tc.want {
			t.Errorf("PlaceAt(%v) = %q, want %q", tc.now, got, tc.want)
		}
	}

	// A Config built by hand, with stops it cannot read: the first stop.
	hand := &Config{Site: Site{Stops: []Stop{{Place: "A"}, {Place: "B", Hours: []string{"nonsense"}}}}}
	if got := hand.PlaceAt(at("2026-12-01 10:00")); got != "A" {
		t.Errorf("hand-made config: %q", got)
	}
	hand.Site.Stops[1].Hours = []string{"tue 09:00-12:00"}
	if got := hand.PlaceAt(at("2026-12-01 10:00")); got != "B" {
		t.Errorf("hand-made config: %q", got)
	}
}

func TestLocation(t *testing.T) {
	c, err := Parse("borne.toml", []byte(inSite("timezone = \"America/Cayenne\"\n")))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Location().String(); got != "America/Cayenne" {
		t.Errorf("Location() = %s", got)
	}
	if c.Location() != c.Location() {
		t.Error("Location() is not cached")
	}
	if got := (&Config{}).Location().String(); got != "Europe/Paris" {
		t.Errorf("zero Config: %s", got)
	}
	if got := (&Config{Site: Site{Timezone: "Nowhere/Else"}}).Location(); got != time.UTC {
		t.Errorf("unknown zone: %s", got)
	}
}

// Every hash the repository ships is refused in a real kiosk's config,
// with its position; the demo's stays usable on simulated hardware.
func TestPlaceholderPinHashes(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "deploy", "examples", "*.toml"))
	files = append(files, "example.toml", "demo.toml")
	if len(files) < 4 {
		t.Fatalf("examples: %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "pin_hash = "); ok {
				if h := strings.Trim(v, `"`); placeholderPin(h, "dbus") == "" {
					t.Errorf("%s ships pin_hash %s, which a real kiosk's config may keep", f, h)
				}
			}
		}
	}
	for _, c := range []struct {
		hash, backend, want string
	}{
		{examplePinHash, "dbus", "8:12: maintenance.pin_hash: is the example's placeholder, not this site's: make the site's own with: borne pin hash"},
		{installedPinHash, "dbus", "8:12: maintenance.pin_hash: is the example's placeholder"},
		{installedPinHash, "sim", "8:12: maintenance.pin_hash: is the example's placeholder"},
		{demoPinHash, "dbus", "8:12: maintenance.pin_hash: is the demo's, whose PIN is public: on a real kiosk make the site's own with: borne pin hash"},
		{demoPinHash, "sim", ""},
		{testHash, "dbus", ""},
	} {
		doc := replace(testHash, c.hash) + "\n[hardware]\nbackend = \"" + c.backend + "\"\n[usage]\ndatabase = \"/var/lib/borne/usage.db\"\n"
		_, err := Parse("f.toml", []byte(doc))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), "f.toml:"+c.want)) {
			t.Errorf("%s on %s: %v, want %q", c.hash[30:40], c.backend, err, c.want)
		}
	}
	if _, err := Parse("demo.toml", demoTOML); err != nil {
		t.Errorf("the demo: %v", err)
	}
}

func TestPinHash(t *testing.T) {
	good := demoPinHash
	bad := map[string]string{
		"":     "not an argon2id hash",
		"1234": "not an argon2id hash",
		strings.Replace(good, "argon2id", "argon2i", 1):             "not an argon2id hash",
		strings.Replace(good, "v=19", "v=16", 1):                    "version",
		strings.Replace(good, "t=2", "t=1", 1):                      "t=1 is below 2",
		strings.Replace(good, "p=1", "p=0", 1):                      "p=0 is below 1",
		strings.Replace(good, "m=19456", "m=99999999", 1):           "too slow",
		strings.Replace(good, ",p=1", "", 1):                        "not an argon2id hash",
		strings.Replace(good, "t=2", "t=2,t=3", 1):                  "not an argon2id hash",
		strings.Replace(good, "$bxk33AoFRy6tYly+qjt2YA", "$bxk", 1): "salt shorter",
	}
	if _, err := parsePinHash(good); err != nil {
		t.Errorf("good hash: %v", err)
	}
	for in, want := range bad {
		_, err := parsePinHash(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", in, err, want)
		}
	}
}

// The demo backend allows what a real kiosk does not.
func TestSimAllowances(t *testing.T) {
	doc := strings.SplitN(base, "\n[maintenance]", 2)[0] + "\n[hardware]\nbackend = \"sim\"\n[usage]\ndatabase = \"demo.db\"\n"
	c, err := Parse("borne.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if c.Maintenance.PinHash != "" || c.Usage.Database != "demo.db" {
		t.Errorf("%+v", c)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add(demoTOML)
	f.Add(exampleTOML)
	f.Add([]byte(itinerant))
	f.Add([]byte(base + "[kiosk]\nidle_reset = \"90x\"\ntheme = 3\n[[kiosk.x]]\n"))
	f.Add([]byte("a = 1\n[a]\nb = 2\n[[site.stops]]\n[site]\nstops = 3\n"))
	f.Add([]byte("site.id = 'x'\nsite = { name = 'y' }\n"))
	f.Add([]byte("[operators]\nenabled = [[\"caf\"], {a = 1}]\n[[operators.custom]]\ntranslations = { en = { name = \"\\u0000\" } }\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.toml", data)
		if err == nil {
			if c == nil || c.Location() == nil {
				t.Fatal("no config and no error")
			}
			_ = c.PlaceAt(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %T is not an Errors: %v", err, err)
		}
		lines := bytes.Split(data, []byte("\n"))
		for _, e := range errs {
			if e.Line == 0 {
				continue
			}
			if e.Line < 1 || e.Line > len(lines) {
				t.Fatalf("line %d outside the file (%d lines): %v", e.Line, len(lines), e)
			}
			if max := utf8.RuneCount(lines[e.Line-1]) + 1; e.Col < 1 || e.Col > max {
				t.Fatalf("column %d outside line %d (%d columns): %v", e.Col, e.Line, max, e)
			}
			if e.Msg == "" {
				t.Fatal("empty message")
			}
		}
	})
}

func TestForms(t *testing.T) {
	base := "[site]\nid = \"t\"\nname = \"T\"\nplace = \"Gien\"\nhelp_phone = \"02\"\n[hardware]\nbackend = \"sim\"\n[[operators.custom]]\nid = \"caf\"\n"
	c, err := Parse("f.toml", []byte(base+"forms = [{ title = \"RSA\", file = \"/srv/rsa.pdf\" }]\n"))
	if err != nil {
		t.Fatal(err)
	}
	ops, err := c.ResolveOperators()
	if err != nil || len(ops[0].Forms) != 1 || ops[0].Forms[0].Title != "RSA" {
		t.Fatalf("forms: %+v %v", ops[0].Forms, err)
	}
	for _, bad := range []struct{ line, want string }{
		{"forms = [{ title = \"RSA\", file = \"rsa.pdf\" }]", "f.toml:10:34: "},
		{"forms = [{ file = \"/srv/rsa.pdf\" }]", "title"},
		{"forms = [{ title = \"RSA\" }]", "file"},
		{"forms = [{ title = \"RSA\", file = \"/srv/rsa.pdf\", pages = 2 }]", "pages"},
	} {
		_, err := Parse("f.toml", []byte(base+bad.line+"\n"))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v", bad.line, err)
		}
	}
}

// The call bar's share and the session runner are checked with their
// position; their defaults are a fifth and systemd.
func TestCallBarAndRunner(t *testing.T) {
	c, err := Parse("borne.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hardware.Display.CallBar != 0.2 || c.Hardware.Session.Runner != "systemd" {
		t.Fatalf("defaults: call_bar %g, runner %q", c.Hardware.Display.CallBar, c.Hardware.Session.Runner)
	}
	c, err = Parse("borne.toml", []byte(base+"[hardware.display]\ncall_bar = 0.25\n[hardware.session]\nrunner = \"process\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hardware.Display.CallBar != 0.25 || c.Hardware.Session.Runner != "process" {
		t.Fatalf("read: call_bar %g, runner %q", c.Hardware.Display.CallBar, c.Hardware.Session.Runner)
	}
	_, err = Parse("borne.toml", []byte(base+"[hardware.display]\ncall_bar = 0.9\n[hardware.session]\nrunner = \"proces\"\n"))
	want := []string{
		"borne.toml:10:12: hardware.display.call_bar: 0.9 is not a share",
		`borne.toml:12:10: hardware.session.runner: "proces" is not a session runner`,
	}
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %v", err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("%q, want prefix %q", lines[i], want[i])
		}
	}
	if !strings.Contains(lines[1], `"process"`) {
		t.Errorf("the choices are not named: %q", lines[1])
	}
}

func TestSyncOverHTTPToThisMachineOnly(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8440/v1/events", "http://localhost/v1/events", "http://[::1]:8440/v1/events"} {
		doc := base + fmt.Sprintf("[usage.sync]\nurl = %q\ntoken_file = \"/etc/borne/sync.token\"\nallow_loopback_http = true\n", u)
		c, err := Parse("t.toml", []byte(doc))
		if err != nil {
			t.Errorf("%s with allow_loopback_http: %v", u, err)
			continue
		}
		if !c.Usage.Sync.AllowLoopbackHTTP {
			t.Errorf("%s: allow_loopback_http not read", u)
		}
	}
}

func TestVisioConfig(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		at   string
		want string
	}{
		{"both launch and visio", base + customMairie + "launch = [\"/usr/bin/partner\"]\nvisio_url = \"https://meet.example/m\"\n", "14:13", "launch (a native client) or visio_url (a web visio), not both"},
		{"http visio", base + customMairie + "visio_url = \"http://meet.example/m\"\n", "13:13", "must use https"},
		{"loopback http without the test switch", base + customMairie + "visio_url = \"http://127.0.0.1:8080/m\"\n", "13:13", "allow_loopback_http"},
		{"end without visio", base + customMairie + "visio_end = [\"https://meet.example/close\"]\n", "13:13", "visio_url is not"},
		{"end that ends every call", base + customMairie + "visio_url = \"https://meet.example/m\"\nvisio_end = [\"https://meet.example/\", \"https://meet.example/m\"]\n", "14:39", "matches visio_url itself"},
		{"star in the host", base + customMairie + "visio_url = \"https://meet.example/m\"\nvisio_end = [\"https://*.example/close\"]\n", "14:14", "only stand in the path"},
		{"relative browser", base + "[hardware.browser]\ncommand = \"chromium\"\n", "10:11", "must be an absolute path"},
		{"not a flag", base + "[hardware.browser]\nflags = [\"kiosk\"]\n", "10:10", "is not a browser flag"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("borne.toml", []byte(c.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			var es Errors
			errors.As(err, &es)
			for _, e := range es {
				if strings.Contains(e.Msg, c.want) {
					if got := fmt.Sprintf("%d:%d", e.Line, e.Col); got != c.at {
						t.Errorf("at %s, want %s: %v", got, c.at, e)
					}
					return
				}
			}
			t.Errorf("no error saying %q: %v", c.want, err)
		})
	}

	ok := base + "[hardware.browser]\nallow_loopback_http = true\n" + customMairie + "visio_url = \"http://127.0.0.1:8080/m\"\nvisio_end = [\"http://127.0.0.1:8080/bye*\"]\n"
	c, err := Parse("borne.toml", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hardware.Browser.Command != "/usr/bin/chromium" {
		t.Errorf("browser command %q", c.Hardware.Browser.Command)
	}
	// Every built-in operator is still on the example address: one
	// warning each, at its place in the file; the site's own is real.
	if w := c.Warnings; len(w) != len(operators.BuiltinIDs()) || !strings.Contains(w[0].Error(), "borne.toml:") || !strings.Contains(w[0].Error(), `operator "caf" still opens the example address`) {
		t.Errorf("warnings: %q", w)
	}
	if got := c.ExampleVisios(); len(got) != len(operators.BuiltinIDs()) || slices.Contains(got, "mairie") {
		t.Errorf("example visios: %v", got)
	}
	real := base + "[operators]\nenabled = [\"caf\"]\n[[operators.custom]]\nid = \"caf\"\nvisio_url = \"https://meet.caf.example.fr/loiret\"\n"
	if c, err = Parse("borne.toml", []byte(real)); err != nil || len(c.Warnings) != 0 {
		t.Errorf("a real address: %v %q", err, c.Warnings)
	}
	withExample := base + "[operators]\nenabled = [\"mairie\"]\n" + customMairie + "visio_url = \"https://visio.example/mairie\"\n"
	if c, err = Parse("borne.toml", []byte(withExample)); err != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Error(), "borne.toml:15:13: operators.custom[0].visio_url") {
		t.Errorf("a custom example: %v %q", err, c.Warnings)
	}
}
