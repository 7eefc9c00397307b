package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
)

// doctorWait bounds the whole examination: a service that does not answer
// in that time is reported as such.
const doctorWait = 10 * time.Second

// doctorCmd prints one line per service and device, and fails unless
// everything the config needs is ok.
func (e env) doctorCmd(args []string) error {
	fs := newFlags("doctor")
	path := fs.String("config", "", configUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), doctorWait)
	defer cancel()
	checks, err := e.doctorChecks(ctx, cfg, "")
	if err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	checks = append(checks, usageChecks(ctx, cfg)...) // jobs.go
	if cfg.Hardware.Backend != "sim" {                // simulated calls start nothing
		checks = append(checks, operatorChecks(cfg)...) // doctor_ops.go
	}
	if c, ok := remoteCheck(cfg); ok {
		checks = append(checks, c)
	}
	return reportChecks(e.stdout, checks)
}

// remoteCheck says whether remote help can serve, when the config asks
// for it: a key line it cannot honour or a host key others can read turn
// it off (the kiosk runs without it).
func remoteCheck(cfg *config.Config) (hw.Check, bool) {
	r := cfg.Remote
	if r.Listen == "" {
		return hw.Check{}, false
	}
	c := hw.Check{Name: "remote help", Health: hw.OK, Reason: fmt.Sprintf("on %s, %d keys", r.Listen, len(r.AuthorizedKeys))}
	if r.Off != "" {
		c.Health, c.Reason = hw.Degraded, "off: "+r.Off
		for _, w := range cfg.Warnings {
			if strings.Contains(w.Msg, "remote help is off") {
				c.Reason = "off: " + w.Error()
				break
			}
		}
	}
	return c, true
}

// doctorChecks examines what cfg uses; sysRoot "" is /sys.
func (e env) doctorChecks(ctx context.Context, cfg *config.Config, sysRoot string) ([]hw.Check, error) {
	switch cfg.Hardware.Backend {
	case "sim":
		return []hw.Check{{Name: "hardware", Health: hw.OK, Reason: `simulated (hardware.backend = "sim")`}}, nil
	case "dbus":
		checks, err := dbusDoctor(ctx, cfg, e.getenv, sysRoot)
		if err != nil {
			return nil, err
		}
		printing, err := cupsDoctor(ctx, cfg)
		if err != nil {
			return nil, err
		}
		checks = append(checks, browserChecks(ctx, cfg)...)
		return append(append(checks, printing...), audioDoctor(ctx, e.getenv)...), nil
	}
	return nil, fmt.Errorf("hardware.backend %q: no doctor for it", cfg.Hardware.Backend)
}

// reportChecks prints the checks as aligned lines; an error when a needed
// one is not ok.
//
//	ok       camera      /dev/video0 (UVC Camera)
//	missing  logind      org.freedesktop.login1 is not on the system bus: is systemd-logind running?
func reportChecks(w io.Writer, checks []hw.Check) error {
	width := 12
	for _, c := range checks {
		width = max(width, len(c.Name)+2)
	}
	var bad []string
	for _, c := range checks {
		reason := strings.Join(strings.Fields(c.Reason), " ")
		fmt.Fprintf(w, "%-9s%-*s%s\n", c.Health, width, c.Name, reason)
		if c.Needed && c.Health != hw.OK {
			bad = append(bad, c.Name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("doctor: not ok: %s", strings.Join(bad, ", "))
	}
	return nil
}
