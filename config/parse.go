package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on boxes without the tzdata package

	toml "github.com/pelletier/go-toml/v2"

	"github.com/loiret/borne/operators"
)

// maxFileSize bounds what Load reads: a config is a few kilobytes.
const maxFileSize = 1 << 20

// Load reads, checks and returns the config in the file at path. Its errors
// are an Errors; a file that cannot be read gives one *Error with Line 0.
// Unlike Parse, it also checks the files the config names on this machine
// (usage.sync.token_file).
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	c, err := parse(path, data, true)
	if err != nil {
		return nil, err
	}
	c.Path = path
	return c, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, readError(err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, errors.New("cannot read the config file: it is a folder")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, readError(err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("cannot read the config file: it is larger than %d bytes", maxFileSize)
	}
	return data, nil
}

func readError(err error) error {
	var reason string
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reason = "there is no such file"
	case errors.Is(err, fs.ErrPermission):
		reason = "permission denied (the kiosk's user must be able to read it)"
	case errors.As(err, &pe):
		reason = pe.Err.Error()
	default:
		reason = err.Error()
	}
	return errors.New("cannot read the config file: " + reason)
}

// Parse reads a config from data: strict TOML (unknown keys are errors),
// then defaults for absent keys, then validation. file names the data in
// errors. Its errors are an Errors listing every problem found, in file
// order, except that a TOML syntax error stops everything at the first.
func Parse(file string, data []byte) (*Config, error) {
	return parse(file, data, false)
}

// parse is Parse; with files, it also checks the files the config names
// that must exist on this machine (the sync token), as Load does.
func parse(file string, data []byte, files bool) (*Config, error) {
	d, err := readDoc(data)
	if err != nil {
		var se *syntaxError
		errors.As(err, &se)
		return nil, Errors{{File: file, Line: se.at.line, Col: se.at.col, Msg: "TOML syntax error: " + se.msg}}
	}

	var errs Errors
	add := func(p problem) {
		errs = append(errs, &Error{File: file, Line: p.at.line, Col: p.at.col, Msg: p.msg})
	}
	strict := true
	if !d.odd {
		sc := schemaCheck{d: d}
		sc.check(d.root, reflect.TypeFor[Config](), "")
		for _, p := range sc.unknown {
			add(p)
		}
		if len(sc.wrong) > 0 {
			for _, p := range sc.wrong {
				add(p)
			}
			return nil, errs.capped(file, 0)
		}
		strict = len(sc.unknown) == 0
	}

	var c Config
	if err := decode(data, &c, strict); err != nil {
		var sm *toml.StrictMissingError
		if !errors.As(err, &sm) {
			return nil, append(errs, decodeError(file, d, err)...).capped(file, 0)
		}
		// Report the unknown keys, and go on checking the rest.
		errs = append(errs, decodeError(file, d, err)...)
		c = Config{}
		if err := decode(data, &c, false); err != nil {
			return nil, append(errs, decodeError(file, d, err)...).capped(file, 0)
		}
	}

	setDefaults(&c, d)
	v := validator{file: file, d: d, files: files}
	v.validate(&c)
	errs = append(errs, v.errs...)
	if len(errs) > 0 || v.dropped > 0 {
		return nil, errs.capped(file, v.dropped)
	}
	c.loc = v.loc
	c.stopHours = v.stopHours
	c.Warnings = v.warns.sorted()
	return &c, nil
}

// decode runs the TOML library's decoder. It also turns a panic of the
// library into an error, so that a strange file cannot crash the kiosk.
func decode(data []byte, c *Config, strict bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the TOML decoder failed on this file: %v", r)
		}
	}()
	dec := toml.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	return dec.Decode(c)
}

// decodeError converts the decoder's errors into *Error values.
func decodeError(file string, d *doc, err error) Errors {
	var sm *toml.StrictMissingError
	if errors.As(err, &sm) {
		var errs Errors
		for i := range sm.Errors {
			errs = append(errs, fromDecodeError(file, d, &sm.Errors[i], "unknown key"))
		}
		return errs
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		return Errors{fromDecodeError(file, d, de, strings.TrimPrefix(de.Error(), "toml: "))}
	}
	return Errors{{File: file, Msg: err.Error()}}
}

func fromDecodeError(file string, d *doc, de *toml.DecodeError, msg string) *Error {
	off := d.lineColOffset(de.Position())
	var p pos
	var key string
	if off != noOffset {
		p, key = d.offsetPos(off), d.pathAt(off)
	}
	if key == "" {
		key = strings.Join(de.Key(), ".")
	}
	if key != "" {
		msg = key + ": " + msg
	}
	return &Error{File: file, Line: p.line, Col: p.col, Msg: msg}
}

// Defaults for keys a config leaves out.
var (
	defaultLanguages   = []string{"fr", "en"}
	defaultEnvironment = []string{"WAYLAND_DISPLAY", "DISPLAY", "XDG_RUNTIME_DIR", "PULSE_SERVER"}
)

// setDefaults fills in every key the document does not write.
func setDefaults(c *Config, d *doc) {
	str := func(path string, p *string, v string) {
		if !d.has(path) {
			*p = v
		}
	}
	num := func(path string, p *int, v int) {
		if !d.has(path) {
			*p = v
		}
	}
	dur := func(path string, p *Duration, v time.Duration) {
		if !d.has(path) {
			*p = Duration(v)
		}
	}
	list := func(path string, p *[]string, v []string) {
		if !d.has(path) {
			*p = slices.Clone(v)
		}
	}
	list("site.languages", &c.Site.Languages, defaultLanguages)
	str("site.timezone", &c.Site.Timezone, "Europe/Paris")

	dur("kiosk.idle_reset", &c.Kiosk.IdleReset, 90*time.Second)
	dur("kiosk.dim_after", &c.Kiosk.DimAfter, 3*time.Minute)
	dur("kiosk.attract_after", &c.Kiosk.AttractAfter, 5*time.Minute)
	dur("kiosk.max_session", &c.Kiosk.MaxSession, 45*time.Minute)
	str("kiosk.theme", &c.Kiosk.Theme, "default")

	dur("maintenance.relock_after", &c.Maintenance.RelockAfter, 3*time.Minute)
	num("maintenance.max_attempts", &c.Maintenance.MaxAttempts, 5)

	h := &c.Hardware
	str("hardware.backend", &h.Backend, "dbus")
	num("hardware.display.active", &h.Display.Active, 100)
	num("hardware.display.dim", &h.Display.Dim, 20)
	num("hardware.display.call", &h.Display.Call, 100)
	if !d.has("hardware.display.call_bar") {
		h.Display.CallBar = 0.2
	}
	str("hardware.camera.device", &h.Camera.Device, "/dev/video0")
	num("hardware.camera.preset.zoom", &h.Camera.Preset.Zoom, 100)
	str("hardware.printer.queue", &h.Printer.Queue, "borne")
	str("hardware.printer.server", &h.Printer.Server, "localhost:631")
	list("hardware.session.environment", &h.Session.Environment, defaultEnvironment)
	str("hardware.session.runner", &h.Session.Runner, "systemd")
	num("hardware.audio.volume", &h.Audio.Volume, 70)
	str("hardware.browser.command", &h.Browser.Command, "/usr/bin/chromium")

	str("usage.database", &c.Usage.Database, "/var/lib/borne/usage.db")
	dur("usage.retention", &c.Usage.Retention, 395*day)
	dur("usage.sync.interval", &c.Usage.Sync.Interval, 15*time.Minute)

	list("operators.enabled", &c.Operators.Enabled, operators.BuiltinIDs())

	str("remote.host_key", &c.Remote.HostKey, "/var/lib/borne/ssh_host_ed25519_key")
}
