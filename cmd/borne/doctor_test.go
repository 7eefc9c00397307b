//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/audio/audiotest"
	"github.com/loiret/borne/hw/browser"
	"github.com/loiret/borne/hw/cups/cupstest"
	"github.com/loiret/borne/hw/dbustest"
)

// doctorConfig is the example config with the demo's operators, the
// camera and backlight at the places given.
func doctorConfig(t *testing.T, device, backlight string) string {
	t.Helper()
	body := string(siteExample(t))
	body = strings.Replace(body, `device = "/dev/video0"`, `device = "`+device+`"`, 1)
	body = strings.Replace(body, `backlight = "intel_backlight"`, `backlight = "`+backlight+`"`, 1)
	// No CUPS answers there, whatever runs on the machine.
	body = strings.Replace(body, `server = "localhost:631"`, `server = "127.0.0.1:1"`, 1)
	p := filepath.Join(t.TempDir(), "borne.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var doctorLine = regexp.MustCompile(`^(ok|degraded|missing) +[a-z]+ +\S.*$`)

// Against a machine whose services run but whose camera and backlight
// are not where the config says: one line each, the reasons to act on,
// exit status 1.
func TestDoctorCommand(t *testing.T) {
	env := dbustest.New(t)
	dbustest.NewSystemd(t, env.Session)
	logind := dbustest.NewLogind(t, env.System)
	cfg := doctorConfig(t, "/dev/video-borne-test", "borne_test_backlight")

	var out, errb bytes.Buffer
	e := env2(env, &out, &errb)
	code := e.main([]string{"doctor", "--config", cfg})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if code != 1 {
		t.Errorf("exit status %d, want 1; stderr %q", code, errb.String())
	}
	names := []string{}
	for _, l := range lines {
		if !doctorLine.MatchString(l) {
			t.Errorf("line %q is not 'health name reason'", l)
		}
		names = append(names, strings.Fields(l)[1])
	}
	if got := strings.Join(names, " "); got != "systemd logind backlight camera browser policy cups printer sound speaker microphone usage"+strings.Repeat(" operator", 6) {
		t.Errorf("lines for %s", got)
	}
	for _, want := range []string{
		"ok       systemd     user manager, systemd 252",
		"ok       logind      session 2 (seat0, wayland, active)",
		"missing  backlight   no borne_test_backlight",
		"missing  camera      ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errb.String(), "not ok: backlight, camera, policy, cups, printer") {
		t.Errorf("stderr %q", errb.String())
	}
	t.Logf("borne doctor:\n%s%s", out.String(), errb.String())

	// logind gone: said in one line, with what to check.
	out.Reset()
	errb.Reset()
	logind.Stop()
	e.main([]string{"doctor", "--config", cfg})
	if !strings.Contains(out.String(), "missing  logind      org.freedesktop.login1 is not on the system bus: is systemd-logind running?") {
		t.Errorf("without logind:\n%s", out.String())
	}
}

// Everything there: exit status 0.
func TestDoctorAllOK(t *testing.T) {
	env := dbustest.New(t)
	dbustest.NewSystemd(t, env.Session)
	dbustest.NewLogind(t, env.System)
	sys := t.TempDir()
	bl := filepath.Join(sys, "class", "backlight", "intel_backlight")
	os.MkdirAll(bl, 0o755)
	os.WriteFile(filepath.Join(bl, "max_brightness"), []byte("1000\n"), 0o644)
	os.WriteFile(filepath.Join(bl, "brightness"), []byte("800\n"), 0o644)
	v := filepath.Join(sys, "class", "video4linux", "video0")
	os.MkdirAll(v, 0o755)
	os.WriteFile(filepath.Join(v, "name"), []byte("UVC Camera\n"), 0o644)
	dev := filepath.Join(t.TempDir(), "video0")
	os.WriteFile(dev, nil, 0o600)

	cfg, err := config.Load(doctorConfig(t, dev, "intel_backlight"))
	if err != nil {
		t.Fatal(err)
	}
	// The site's real visio, and its policy installed.
	cfg.Operators.Enabled = nil
	cfg.Operators.Custom[0].VisioURL = "https://meet.gien.example.fr/mairie"
	cfg.Operators.Custom[0].VisioEnd = []string{"https://meet.gien.example.fr/"}
	usePolicyFile(t, cfg)
	printing := cupstest.Start(t, cupstest.Options{})
	cfg.Hardware.Printer.Server, cfg.Hardware.Printer.Queue = printing.Addr, printing.Queue
	sound := audiotest.Start(t, audiotest.Options{Mic: audiotest.MicSilent})
	var out, errb bytes.Buffer
	e := env2(env, &out, &errb)
	e.getenv = func(k string) string {
		if k == "PULSE_SERVER" {
			return sound.Addr
		}
		return env.Getenv(k)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	checks, err := e.doctorChecks(ctx, cfg, sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := reportChecks(&out, checks); err != nil {
		t.Errorf("report: %v\n%s", err, out.String())
	}
	for _, c := range checks {
		// The CUPS notifier and cups-pk-helper live on the real system
		// bus: without them printing works, degraded.
		if c.Health != hw.OK && (c.Needed || c.Health == hw.Missing) {
			t.Errorf("%+v", c)
		}
	}
}

func TestDoctorSim(t *testing.T) {
	var out, errb bytes.Buffer
	e := env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if err := reportChecks(&out, []hw.Check{{Name: "printer", Health: hw.Degraded, Reason: "paper\nlow"}}); err != nil {
		t.Errorf("a degraded check that is not needed fails doctor: %v", err)
	}
	if out.String() != "degraded printer     paper low\n" {
		t.Errorf("line %q", out.String())
	}
	out.Reset()
	checks, err := e.doctorChecks(context.Background(), config.Demo(), "")
	if err != nil || len(checks) != 1 || checks[0].Health != hw.OK {
		t.Errorf("sim doctor: %+v, %v", checks, err)
	}
	if code := e.main([]string{"doctor", "--bogus"}); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
}

func env2(d *dbustest.Env, out, errb *bytes.Buffer) env {
	return env{stdin: strings.NewReader(""), stdout: out, stderr: errb, getenv: d.Getenv}
}

// Each operator's video client can run, and none is left on the
// example's address.
func TestDoctorOperators(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("client", "#!/bin/sh\nexit 0\n", 0o755)
	plain := write("plain", "#!/bin/sh\n", 0o644)
	orphan := write("orphan", "#!/no/such/interpreter -x\n", 0o755)
	custom := func(id string, launch ...string) string {
		q := make([]string, len(launch))
		for i, a := range launch {
			q[i] = strconv.Quote(a)
		}
		return fmt.Sprintf("\n[[operators.custom]]\nid = %q\nname = %q\nhours = [\"mon-fri 09:00-12:00\"]\nlaunch = [%s]\n", id, id, strings.Join(q, ", "))
	}
	body := string(siteExample(t))
	body = body[:strings.Index(body, "[operators]")] + "[operators]\nenabled = [\"ok\", \"example\", \"gone\", \"plain\", \"orphan\", \"folder\", \"caf\"]\n" +
		custom("ok", good, "--app=https://visio.partenaire.fr/ok") +
		custom("example", good, "--app=https://visio.example/mairie") +
		custom("gone", filepath.Join(dir, "nothing")) +
		custom("plain", plain) +
		custom("orphan", orphan) +
		custom("folder", dir) +
		custom("caf", good, "https://rdv.visio.example/caf")
	cfg, err := config.Parse("borne.toml", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		health hw.Health
		needed bool
		reason string
	}{
		{hw.OK, true, "ok: " + good},
		{hw.Degraded, false, "example: https://visio.example/mairie is the example's address, not the partner's: set its real one in [[operators.custom]] (id = \"example\")"},
		{hw.Missing, true, "gone: cannot start its video client: " + filepath.Join(dir, "nothing") + " is not installed (no such file)"},
		{hw.Missing, true, "plain: cannot start its video client: " + plain + " is not executable (mode -rw-r--r--)"},
		{hw.Missing, true, "orphan: cannot start its video client: " + orphan + " is a script whose interpreter cannot run: /no/such/interpreter is not installed (no such file)"},
		{hw.Missing, true, "folder: cannot start its video client: " + dir + " is a folder, not a program"},
		{hw.Degraded, false, "caf: https://rdv.visio.example/caf is the example's"},
	}
	checks := operatorChecks(cfg)
	if len(checks) != len(want) {
		t.Fatalf("%d checks for %d operators: %+v", len(checks), len(want), checks)
	}
	for i, w := range want {
		c := checks[i]
		if c.Name != "operator" || c.Health != w.health || c.Needed != w.needed || !strings.HasPrefix(c.Reason, w.reason) {
			t.Errorf("check %d: %+v\nwant %v %v %q", i, c, w.health, w.needed, w.reason)
		}
	}
	var out bytes.Buffer
	if err := reportChecks(&out, checks); err == nil || !strings.Contains(err.Error(), "not ok: operator") {
		t.Errorf("a video client that cannot run does not fail doctor: %v", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !doctorLine.MatchString(l) {
			t.Errorf("line %q is not 'health name reason'", l)
		}
	}
	// Warnings alone do not fail doctor.
	if err := reportChecks(&out, checks[:2]); err != nil {
		t.Errorf("a warning fails doctor: %v", err)
	}
}

// usePolicyFile points the browser policy at a test file holding cfg's.
func usePolicyFile(t *testing.T, cfg *config.Config) string {
	t.Helper()
	old := policyFile
	policyFile = filepath.Join(t.TempDir(), "managed", "borne.json")
	t.Cleanup(func() { policyFile = old })
	ops, err := cfg.ResolveOperators()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := browser.InstallPolicy(policyFile, browser.PolicyJSON(ops)); err != nil {
		t.Fatal(err)
	}
	return policyFile
}
