// Package deploy holds the files that turn a Debian 12 box into a kiosk:
// systemd units and drop-ins, the kiosk user, example configs and the
// Debian package's description. Its tests check them with the tools that
// will read them on the box.
package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/loiret/borne/config"
)

func need(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	for _, dir := range []string{"/usr/sbin", "/sbin"} { // root's tools, off some PATHs
		if err != nil {
			p, err = exec.LookPath(filepath.Join(dir, tool))
		}
	}
	if err != nil {
		t.Fatalf("%s is needed (Debian package %s; deploy/dev-deps.sh installs it)", tool, pkg)
	}
	return p
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Every example passes `borne config check` once given the site's PIN,
// and the one installed as
// /etc/borne/borne.toml is a real kiosk's, not the simulator's.
func TestExamplesAreValid(t *testing.T) {
	for _, name := range []string{"fixed-site", "itinerant", "demo"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("examples", name+".toml")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := config.Parse(path, data)
			if name != "demo" {
				// As shipped, its PIN hash is a placeholder the check
				// refuses, and only that; with the site's own, it is valid.
				var errs config.Errors
				if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Msg, "pin_hash: is the example's placeholder") {
					t.Fatalf("%s as shipped: %v", path, err)
				}
				h, herr := config.HashPIN("58203716")
				if herr != nil {
					t.Fatal(herr)
				}
				data = regexp.MustCompile(`(?m)^pin_hash = ".*"$`).ReplaceAllLiteral(data, []byte(`pin_hash = "`+h+`"`))
				c, err = config.Parse(path, data)
			}
			if err != nil {
				t.Fatalf("%s is invalid:\n%v", path, err)
			}
			if _, err := c.ResolveOperators(); err != nil {
				t.Fatal(err)
			}
			switch name {
			case "fixed-site":
				if c.Hardware.Backend != "dbus" || c.Site.Place == "" || c.Remote.Listen != "" {
					t.Errorf("fixed site: backend %q, place %q, remote %q", c.Hardware.Backend, c.Site.Place, c.Remote.Listen)
				}
				if !bytes.Contains(data, []byte("REPLACE IT")) {
					t.Error("the installed config does not say to replace its PIN hash")
				}
			case "itinerant":
				if len(c.Site.Stops) < 2 || c.Site.Place != "" {
					t.Errorf("itinerant: stops %v, place %q", c.Site.Stops, c.Site.Place)
				}
			case "demo":
				if c.Hardware.Backend != "sim" || !filepath.IsAbs(c.Usage.Database) {
					t.Errorf("demo: backend %q, database %q", c.Hardware.Backend, c.Usage.Database)
				}
			}
		})
	}
}

// unit reads a unit file as section → key → values (a key may repeat).
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: %q is not key=value in a section", path, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// The units say what a kiosk needs: restarted forever, watched, on tty1 as
// the kiosk user in a logind session, the console cleaned between runs.
func TestUnitsDirectives(t *testing.T) {
	common := map[string]map[string]string{
		"Unit": {"StartLimitIntervalSec": "0"},
		"Service": {
			"Type": "notify", "Restart": "always", "RestartSec": "2", "WatchdogSec": "30",
			"User": "borne", "Group": "borne", "PAMName": "borne",
			"TTYPath": "/dev/tty1", "StandardInput": "tty-fail",
			"TTYReset": "yes", "TTYVHangup": "yes", "TTYVTDisallocate": "yes",
			"StandardError": "journal", "NoNewPrivileges": "yes",
			// Not ProtectHome=: it hides /run/user, the user manager's bus
			// and sway's Wayland and IPC sockets.
			"InaccessiblePaths": "-/home -/root",
		},
	}
	cases := map[string]struct {
		notify, start, conflicts, wantedBy string
	}{
		"borne.service":       {"main", "/usr/bin/borne run", "borne-kiosk.service", "multi-user.target"},
		"borne-kiosk.service": {"main", "/usr/bin/borne relay -- /usr/bin/sway --config /etc/borne/sway.conf", "borne.service", "graphical.target"},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			u := unit(t, filepath.Join("systemd", name))
			for section, keys := range common {
				for k, v := range keys {
					if got := u[section][k]; !slices.Equal(got, []string{v}) {
						t.Errorf("[%s] %s = %q, want %q", section, k, got, v)
					}
				}
			}
			s := u["Service"]
			if got := s["NotifyAccess"]; !slices.Equal(got, []string{want.notify}) {
				t.Errorf("NotifyAccess = %q, want %q", got, want.notify)
			}
			if got := s["ExecStart"]; !slices.Equal(got, []string{want.start}) {
				t.Errorf("ExecStart = %q, want %q", got, want.start)
			}
			if !slices.Contains(s["Environment"], "BORNE_CONFIG=/etc/borne/borne.toml") {
				t.Errorf("Environment = %q: no BORNE_CONFIG", s["Environment"])
			}
			conflicts := strings.Fields(strings.Join(u["Unit"]["Conflicts"], " "))
			for _, c := range []string{"getty@tty1.service", want.conflicts} {
				if !slices.Contains(conflicts, c) {
					t.Errorf("Conflicts = %q, want %s among them", conflicts, c)
				}
			}
			if got := u["Install"]["WantedBy"]; !slices.Equal(got, []string{want.wantedBy}) {
				t.Errorf("WantedBy = %q, want %q", got, want.wantedBy)
			}
		})
	}
}

// verifyRoot is a filesystem root for systemd-analyze verify: the host's
// own units (the targets ours refer to), ours, and stand-ins for the
// programs they start.
func verifyRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	units := filepath.Join(root, "usr/lib/systemd/system")
	if err := os.MkdirAll(units, 0o755); err != nil {
		t.Fatal(err)
	}
	host := "/usr/lib/systemd/system"
	if _, err := os.Stat(filepath.Join(host, "multi-user.target")); err != nil {
		t.Fatalf("no systemd units in %s (Debian package systemd): %v", host, err)
	}
	copyTree(t, host, units)
	for _, name := range []string{"borne.service", "borne-kiosk.service", "borne-browser-policy.service", "borne-browser-policy.path"} {
		copyFile(t, filepath.Join("systemd", name), filepath.Join(units, name), 0o644)
	}
	for _, bin := range []string{"borne", "sway", "foot"} {
		p := filepath.Join(root, "usr/bin", bin)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// systemd-analyze verify accepts both units without a word; and it does
// notice a mistake in them (so its silence means something).
func TestUnitsVerify(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	root := verifyRoot(t)
	verify := func(units ...string) (string, error) {
		args := append([]string{"verify", "--root=" + root, "--man=no"}, units...)
		out, err := exec.Command(analyze, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := verify("borne.service", "borne-kiosk.service", "borne-browser-policy.service", "borne-browser-policy.path"); err != nil || out != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	body, err := os.ReadFile(filepath.Join("systemd", "borne.service"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(body), "Restart=always", "Restart=forever", 1)
	if err := os.WriteFile(filepath.Join(root, "usr/lib/systemd/system/broken.service"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := verify("broken.service"); !strings.Contains(out, "forever") {
		t.Fatalf("systemd-analyze verify did not notice a wrong Restart=:\n%s", out)
	}
}

// The kiosk user and its folder, made by the same tools and files as on
// the box, in a scratch root.
func TestUserAndFolder(t *testing.T) {
	sysusers := need(t, "systemd-sysusers", "systemd")
	tmpfiles := need(t, "systemd-tmpfiles", "systemd")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf, _ := filepath.Abs(filepath.Join("sysusers", "borne.conf"))
	run(t, ".", sysusers, "--root="+root, conf)

	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	var uid string
	for _, line := range strings.Split(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if f[0] == "borne" {
			uid = f[2]
			if f[5] != "/var/lib/borne" || f[6] != "/usr/sbin/nologin" {
				t.Errorf("borne's passwd line: %q", line)
			}
		}
	}
	if uid == "" {
		t.Fatalf("no borne user:\n%s", passwd)
	}
	group, err := os.ReadFile(filepath.Join(root, "etc/group"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"video", "render", "lp", "input"} {
		found := false
		for _, line := range strings.Split(string(group), "\n") {
			f := strings.Split(line, ":")
			if f[0] == g && slices.Contains(strings.Split(f[len(f)-1], ","), "borne") {
				found = true
			}
		}
		if !found {
			t.Errorf("borne is not in group %s:\n%s", g, group)
		}
	}
	// The package makes the user before unpacking, with the same lines.
	preinst, err := os.ReadFile(filepath.Join("scripts", "preinst"))
	if err != nil {
		t.Fatal(err)
	}
	lines, _ := os.ReadFile(conf)
	if !bytes.Contains(preinst, lines) {
		t.Error("scripts/preinst does not carry sysusers/borne.conf as it is")
	}

	tconf, _ := filepath.Abs(filepath.Join("tmpfiles", "borne.conf"))
	run(t, ".", tmpfiles, "--root="+root, "--create", tconf)
	st, err := os.Stat(filepath.Join(root, "var/lib/borne"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o750 || !st.IsDir() {
		t.Errorf("/var/lib/borne: %v, want a folder 0750", st.Mode())
	}
	if os.Getuid() == 0 {
		if got := ownerUID(st); got != uid {
			t.Errorf("/var/lib/borne belongs to uid %s, want borne's %s", got, uid)
		}
	}
}

// The hardening drop-ins set what a public kiosk needs.
func TestHardeningDropins(t *testing.T) {
	want := map[string]map[string]string{
		"logind/borne.conf": {"NAutoVTs": "0", "ReserveVT": "0", "HandlePowerKey": "ignore", "KillUserProcesses": "yes", "KillOnlyUsers": "borne"},
		"system/borne.conf": {"CtrlAltDelBurstAction": "none"},
	}
	for file, keys := range want {
		u := unit(t, file)
		for k, v := range keys {
			found := false
			for _, s := range u {
				found = found || slices.Equal(s[k], []string{v})
			}
			if !found {
				t.Errorf("%s: %s is not %s", file, k, v)
			}
		}
	}
	sysctl, err := os.ReadFile(filepath.Join("sysctl", "90-borne.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexpLine(sysctl, "kernel.sysrq = 0") {
		t.Errorf("sysctl/90-borne.conf does not switch SysRq off:\n%s", sysctl)
	}
	pam, err := os.ReadFile(filepath.Join("pam", "borne"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"auth      required  pam_deny.so", "session   required  pam_systemd.so"} {
		if !regexpLine(pam, line) {
			t.Errorf("pam/borne lacks %q", line)
		}
	}
}

func regexpLine(data []byte, line string) bool {
	for _, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

// foot reads the kiosk's terminal settings without a complaint: every
// shortcut it switches off is one foot knows.
func TestFootConfig(t *testing.T) {
	foot := need(t, "foot", "foot")
	out, err := exec.Command(foot, "--check-config", "--config="+filepath.Join("foot", "foot.ini")).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("warn")) || bytes.Contains(out, []byte("err")) {
		t.Fatalf("foot --check-config: %v\n%s", err, out)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case d.Type().IsRegular():
			copyFile(t, p, dst, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string, mode fs.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

func ownerUID(st fs.FileInfo) string {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return strconv.Itoa(int(s.Uid))
	}
	return "?"
}
