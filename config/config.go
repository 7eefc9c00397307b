// Package config loads and validates the kiosk's TOML configuration.
package config

import (
	"time"

	"github.com/loiret/borne/operators"
)

// Duration is a time.Duration written as "90s", "3m", "45m" or "395d".
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is the whole configuration file.
type Config struct {
	Site        Site        `toml:"site"`
	Kiosk       Kiosk       `toml:"kiosk"`
	Maintenance Maintenance `toml:"maintenance"`
	Hardware    Hardware    `toml:"hardware"`
	Usage       Usage       `toml:"usage"`
	Operators   Operators   `toml:"operators"`
	Remote      Remote      `toml:"remote"`

	// Path is the file the config was read from ("" for the embedded demo).
	Path string `toml:"-"`
	// Warnings are what `borne config check` reports without failing, with
	// their place: problems that turn an optional feature off (remote
	// help's keys), enabled operators whose visio is still the example.
	Warnings Errors `toml:"-"`

	loc       *time.Location      // Site.Timezone, loaded by Parse
	stopHours [][]operators.Range // Site.Stops[i].Hours, parsed by Parse
}

type Site struct {
	ID        string   `toml:"id"`
	Name      string   `toml:"name"`
	Place     string   `toml:"place"`
	HelpPhone string   `toml:"help_phone"`
	Languages []string `toml:"languages"`
	Timezone  string   `toml:"timezone"`
	Hours     []string `toml:"hours"`
	Stops     []Stop   `toml:"stops"`
}

// Stop is one stop of an itinerant kiosk.
type Stop struct {
	Place string   `toml:"place"`
	Hours []string `toml:"hours"`
}

type Kiosk struct {
	IdleReset    Duration `toml:"idle_reset"`
	DimAfter     Duration `toml:"dim_after"`
	AttractAfter Duration `toml:"attract_after"`
	MaxSession   Duration `toml:"max_session"`
	Theme        string   `toml:"theme"`
}

type Maintenance struct {
	PinHash     string   `toml:"pin_hash"`
	RelockAfter Duration `toml:"relock_after"`
	MaxAttempts int      `toml:"max_attempts"`
}

type Hardware struct {
	Backend string        `toml:"backend"`
	Display DisplayConfig `toml:"display"`
	Camera  CameraConfig  `toml:"camera"`
	Printer PrinterConfig `toml:"printer"`
	Session SessionConfig `toml:"session"`
	Audio   AudioConfig   `toml:"audio"`
	Browser BrowserConfig `toml:"browser"`
}

// AudioConfig is the sound server's setting: the speaker's level, which
// every call ends by going back to.
type AudioConfig struct {
	Volume int `toml:"volume"`
}

// BrowserConfig is the browser the shell opens for operators with a
// visio_url.
type BrowserConfig struct {
	Command string   `toml:"command"` // absolute path; default /usr/bin/chromium
	Flags   []string `toml:"flags"`   // extra command-line flags
	// AllowLoopbackHTTP lets visio addresses use http on 127.0.0.1: tests.
	AllowLoopbackHTTP bool `toml:"allow_loopback_http"`
}

type DisplayConfig struct {
	Backlight  string `toml:"backlight"`
	Active     int    `toml:"active"`
	Dim        int    `toml:"dim"`
	Call       int    `toml:"call"`
	DDCDisplay int    `toml:"ddc_display"`
	// CallBar is the share of the screen's height the shell keeps, across
	// the bottom, while a video client shows above it (under sway).
	CallBar float64 `toml:"call_bar"`
}

type CameraConfig struct {
	Device string `toml:"device"`
	Preset Preset `toml:"preset"`
}

type Preset struct {
	Pan  int `toml:"pan"`
	Tilt int `toml:"tilt"`
	Zoom int `toml:"zoom"`
}

type PrinterConfig struct {
	Queue  string `toml:"queue"`
	Server string `toml:"server"`
}

type SessionConfig struct {
	Environment []string `toml:"environment"`
	// Runner runs the video clients: "systemd" (the kiosk user's systemd
	// manager, in production) or "process" (children of the shell, for a
	// laptop and for tests).
	Runner string `toml:"runner"`
}

type Usage struct {
	Database    string   `toml:"database"`
	Retention   Duration `toml:"retention"`
	MetricsFile string   `toml:"metrics_file"`
	Sync        Sync     `toml:"sync"`
}

type Sync struct {
	URL       string   `toml:"url"`
	TokenFile string   `toml:"token_file"`
	Interval  Duration `toml:"interval"`
	// AllowLoopbackHTTP permits an http:// url to this machine only
	// (127.0.0.0/8, localhost, [::1]): tests and a collector on the box.
	AllowLoopbackHTTP bool `toml:"allow_loopback_http"`
}

type Operators struct {
	Enabled []string         `toml:"enabled"`
	Custom  []operators.Spec `toml:"custom"`
}

// Remote is remote help over SSH: a technician whose key is listed sees
// the kiosk's screen, read-only. Off while Listen is empty.
type Remote struct {
	Listen         string   `toml:"listen"`
	AuthorizedKeys []string `toml:"authorized_keys"`
	HostKey        string   `toml:"host_key"`

	// Off says why remote help is off although Listen is set: a key line
	// it cannot honour, a host key others can read ("" when none). The
	// config is valid all the same; Config.Warnings says where.
	Off string `toml:"-"`
}

// ExampleVisios are the ids of the operators shown whose visio_url is still
// on the catalog's example host; none on a demo.
func (c *Config) ExampleVisios() []string {
	var ids []string
	if c.Hardware.Backend == "sim" {
		return nil
	}
	ops, err := c.ResolveOperators()
	if err != nil {
		return nil
	}
	for _, op := range ops {
		if op.IsVisio() && isExample(op.VisioURL) {
			ids = append(ids, op.ID)
		}
	}
	return ids
}
