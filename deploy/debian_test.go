package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bookworm makes a minimal Debian 12 in a folder, as debootstrap leaves a
// fresh machine: no systemd, no dbus, nothing of ours.
func bookworm(t *testing.T) string {
	t.Helper()
	debootstrap := need(t, "debootstrap", "debootstrap")
	if os.Geteuid() != 0 {
		t.Skip("installing into a Debian root needs root (chroot); CI runs as root")
	}
	root := filepath.Join(t.TempDir(), "bookworm")
	// debootstrap's own default mirror, unless the site names one.
	args := []string{"--variant=minbase", "bookworm", root}
	if mirror := os.Getenv("BORNE_DEBIAN_MIRROR"); mirror != "" {
		args = append(args, mirror)
	}
	out, err := exec.Command(debootstrap, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, tail(out, 2000))
	}
	return root
}

// inRoot runs a shell command inside root, with its own /proc (the
// maintainer scripts need one, as on a box) in a mount namespace of its
// own, so that nothing stays mounted on the host.
func inRoot(t *testing.T, root, script string) (string, error) {
	t.Helper()
	cmd := exec.Command("unshare", "--fork", "--pid", "--mount-proc="+filepath.Join(root, "proc"),
		"chroot", root, "/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", "LANG=C.UTF-8"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustInRoot(t *testing.T, root, script string) string {
	t.Helper()
	out, err := inRoot(t, root, script)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, tail([]byte(out), 3000))
	}
	return out
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// The package on a fresh Debian 12, then that machine booted with its own
// systemd: the kiosk as the site and the technician get it.
func TestFreshDebian12(t *testing.T) {
	root := bookworm(t)
	deb := buildPackage(t)
	copyFile(t, deb, filepath.Join(root, "tmp/borne.deb"), 0o644)
	install(t, root)
	nspawn := boot(t, root)
	bootKiosk(t, nspawn, root)
}

// apt pulls in what the package needs, the maintainer scripts run without
// a word of error, and the box has the kiosk user, its folder, the config
// only it can read, Ctrl+Alt+Del masked and the user manager lingering;
// the installed binary checks the installed config. Removing keeps the
// usage log; reinstalling over it keeps an edited config.
func install(t *testing.T, root string) {
	out := mustInRoot(t, root, "apt-get update -q && apt-get install -y -q --no-install-recommends /tmp/borne.deb")
	for _, bad := range []string{"not found", "rror", "arning: ", "Failed"} {
		if strings.Contains(out, bad) {
			t.Errorf("the install said %q:\n%s", bad, tail([]byte(out), 3000))
		}
	}
	checks := map[string]string{
		"getent passwd borne | cut -d: -f6,7":               "/var/lib/borne:/usr/sbin/nologin",
		"id -nG borne | tr ' ' '\\n' | sort | xargs":        "borne input lp render video",
		"stat -c '%U:%G %a' /var/lib/borne":                 "borne:borne 750",
		"stat -c '%U:%G %a' /etc/borne":                     "root:borne 750",
		"stat -c '%U:%G %a' /etc/borne/borne.toml":          "root:borne 640",
		"stat -c '%U:%G %a' /etc/borne/sync.token":          "root:borne 640",
		"readlink /etc/systemd/system/ctrl-alt-del.target":  "/dev/null",
		"test -e /var/lib/systemd/linger/borne && echo yes": "yes",
		"borne version | cut -d' ' -f1":                     "borne",
		// The sound server in the kiosk user's session, up before the kiosk.
		"test -e /etc/systemd/user/sockets.target.wants/pipewire-pulse.socket && echo yes":                      "yes",
		"test -e /etc/systemd/user/pipewire.service.wants/wireplumber.service && echo yes":                      "yes",
		`grep -c "^After=user@$(id -u borne).service$" /etc/systemd/system/borne-kiosk.service.d/50-sound.conf`: "1",
	}
	for script, want := range checks {
		if got := strings.TrimSpace(mustInRoot(t, root, script)); got != want {
			t.Errorf("%s: %q, want %q", script, got, want)
		}
	}
	// The installed config waits for the site's PIN (README, step
	// "maintenance PIN"): refused until then, valid after.
	if out, err := inRoot(t, root, "borne config check /etc/borne/borne.toml"); err == nil || !strings.Contains(out, "maintenance.pin_hash: is the example's placeholder") {
		t.Errorf("the installed config's placeholder PIN hash: %v\n%s", err, out)
	}
	mustInRoot(t, root, `h=$(echo 58203716 | borne pin hash) && sed -i "s|^pin_hash = .*|pin_hash = \"$h\"|" /etc/borne/borne.toml`)
	mustInRoot(t, root, "setpriv --reuid=borne --regid=borne --init-groups borne config check --config /etc/borne/borne.toml")
	if out, err := inRoot(t, root, "setpriv --reuid=nobody --regid=nogroup --clear-groups cat /etc/borne/borne.toml"); err == nil {
		t.Errorf("another user reads the config:\n%s", out)
	}

	mustInRoot(t, root, `sed -i 's/^name = .*/name = "Espace services publics de Gien"/' /etc/borne/borne.toml &&
		touch /var/lib/borne/usage.db && chown borne:borne /var/lib/borne/usage.db`)
	mustInRoot(t, root, "apt-get remove -y -q borne")
	if got := mustInRoot(t, root, "ls /var/lib/borne; test -e /etc/systemd/system/ctrl-alt-del.target || echo unmasked"); !strings.Contains(got, "usage.db") || !strings.Contains(got, "unmasked") {
		t.Errorf("after remove: %q", got)
	}
	if got := mustInRoot(t, root, "test -e /etc/systemd/system/borne-kiosk.service.d/50-sound.conf || echo gone"); !strings.Contains(got, "gone") {
		t.Errorf("the sound drop-in stays after remove: %q", got)
	}
	mustInRoot(t, root, "apt-get install -y -q --no-install-recommends /tmp/borne.deb")
	if got := mustInRoot(t, root, "grep '^name = ' /etc/borne/borne.toml"); !strings.Contains(got, "Gien") {
		t.Errorf("the site's config was replaced on reinstall: %q", got)
	}
}

// machine is the Debian root booted by systemd-nspawn, its console in a
// tmux pane.
type machine struct {
	t    *testing.T
	sock string
	root string
	unit string // the kiosk's unit: borne.service or borne-kiosk.service
	init int    // the machine's systemd, as the host numbers it
}

// boot starts the machine with borne.service enabled on the demo config
// and checks what the Operations section promises: the shell on the
// console in a logind session, the kiosk user's own manager, a restart
// after kill -9, no way out by the keyboard, a restart when the interface
// hangs, and every start in the usage log.
func boot(t *testing.T, root string) (nspawn string) {
	nspawn = need(t, "systemd-nspawn", "systemd-container")
	if out, err := exec.Command(nspawn, "--quiet", "--keep-unit", "--register=no", "-D", root, "--pipe", "/bin/true").CombinedOutput(); err != nil {
		t.Skipf("this machine cannot run containers (%v: %s); the boot checks need one", err, tail(out, 500))
	}
	// A container has no tty1: the kiosk takes the console nspawn gives,
	// which the console getty would otherwise hold.
	mustInRoot(t, root, `cp /usr/share/doc/borne/examples/demo.toml /etc/borne/borne.toml &&
		chown root:borne /etc/borne/borne.toml && chmod 0640 /etc/borne/borne.toml &&
		systemctl mask console-getty.service && systemctl enable borne.service &&
		mkdir -p /etc/systemd/system/borne.service.d &&
		printf '[Service]\nTTYPath=/dev/console\n' > /etc/systemd/system/borne.service.d/console.conf`)
	m := startMachine(t, nspawn, root, "borne.service")
	m.waitScreen("the kiosk on the console", 90*time.Second, "Touchez le service")
	m.findInit(root)

	if s := m.sh("loginctl list-sessions --no-legend"); !strings.Contains(s, "borne seat0") {
		t.Errorf("no logind session of borne on seat0: %q", s)
	}
	if s := strings.TrimSpace(m.sh("systemctl is-active user@$(id -u borne).service")); s != "active" {
		t.Errorf("the kiosk user's manager is %q", s)
	}

	pid := m.prop("MainPID")
	m.sh("kill -9 " + pid)
	m.waitStarted(1, 30*time.Second)
	m.waitScreen("the kiosk back after kill -9", 30*time.Second, "Touchez le service")

	// Once it runs: keys typed while the console has no reader wait in
	// the container's console, which a real tty1 does not do.
	pid = m.prop("MainPID")
	for _, k := range []string{"C-c", "C-z", `C-\`, "C-d", "q", "Escape"} {
		m.tmux("send-keys", "-t", "k", k)
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if got := m.prop("MainPID"); got != pid || m.prop("NRestarts") != "1" {
		t.Errorf("the keyboard stopped the shell: MainPID %s → %s, NRestarts %s", pid, got, m.prop("NRestarts"))
	}
	m.waitScreen("the kiosk after the keys", 5*time.Second, "Touchez le service")

	// A frozen interface: systemd's watchdog ends it (30 s) and starts it.
	m.sh("kill -STOP " + pid)
	m.waitStarted(2, 90*time.Second)
	if j := m.sh("journalctl -u " + m.unit + " --no-pager"); !strings.Contains(j, "Watchdog timeout") {
		t.Errorf("the restart was not the watchdog's:\n%s", tail([]byte(j), 2000))
	}
	m.waitScreen("the kiosk back after the watchdog", 30*time.Second, "Touchez le service")

	if n := strings.Count(m.sh("borne logs export --db /var/lib/borne/usage.db"), `"kind":"shell_started"`); n != 3 {
		t.Errorf("%d shell_started events for three starts", n)
	}
	m.stop()
	return nspawn
}

func startMachine(t *testing.T, nspawn, root, unit string) *machine {
	t.Helper()
	m := &machine{t: t, sock: fmt.Sprintf("borne-boot-%d-%s", os.Getpid(), unit), root: root, unit: unit}
	m.tmux("new-session", "-d", "-s", "k", "-x", "100", "-y", "30",
		nspawn+" --keep-unit --register=no -D "+root+" -b; sleep 600")
	t.Cleanup(m.stop)
	return m
}

// bootKiosk runs the kiosk the other way, borne-kiosk.service: sway on
// wlroots' headless back-end (a container has no screen) on the shipped
// sway.conf, foot, the shell.
// systemd hears READY=1 through borne relay, the unit's main process, kill
// -9 of the shell brings the whole chain back, and a stop reaches the
// shell, which says so in its log.
func bootKiosk(t *testing.T, nspawn, root string) {
	mustInRoot(t, root, `apt-get install -y -q --no-install-recommends sway foot >/dev/null &&
		systemctl disable borne.service && systemctl enable borne-kiosk.service &&
		mkdir -p /etc/systemd/system/borne-kiosk.service.d &&
		printf '[Service]\nTTYPath=/dev/console\nStandardInput=null\nEnvironment=WLR_BACKENDS=headless WLR_RENDERER=pixman WLR_LIBINPUT_NO_DEVICES=1\n' \
			> /etc/systemd/system/borne-kiosk.service.d/headless.conf`)
	m := startMachine(t, nspawn, root, "borne-kiosk.service")
	deadline := time.Now().Add(90 * time.Second)
	for m.init == 0 || m.tryProp("ActiveState") != "active" {
		if time.Now().After(deadline) {
			t.Fatalf("borne-kiosk.service never started:\n%s", m.screen())
		}
		time.Sleep(time.Second)
		if m.init == 0 {
			m.tryFindInit(root)
		}
	}
	chain := m.sh(`for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline; echo; done`)
	for _, c := range []string{"/usr/bin/borne relay -- /usr/bin/sway --config /etc/borne/sway.conf", "/usr/bin/foot --config=/etc/borne/foot.ini --app-id=borne", "/usr/bin/borne run"} {
		if !strings.Contains(chain, c) {
			t.Errorf("no %q among the machine's processes:\n%s", c, chain)
		}
	}
	m.sh(`for p in /proc/[0-9]*; do case "$(tr '\0' ' ' < $p/cmdline)" in "/usr/bin/borne run "*) kill -9 ${p#/proc/};; esac; done`)
	m.waitStarted(1, 30*time.Second)
	m.sh("systemctl stop borne-kiosk.service")
	if got := m.prop("Result"); got != "success" {
		t.Errorf("stopped with result %q", got)
	}
	events := strings.Split(strings.TrimSpace(m.sh("borne logs export --db /var/lib/borne/usage.db")), "\n")
	if last := events[len(events)-1]; !strings.Contains(last, `"kind":"shell_stopped"`) {
		t.Errorf("the shell did not hear the stop; last event: %s", last)
	}
}

func (m *machine) tmux(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", m.sock}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (m *machine) screen() string { return m.tmux("capture-pane", "-p", "-t", "k") }

func (m *machine) waitScreen(what string, within time.Duration, text string) {
	m.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := m.screen()
		if strings.Contains(s, text) {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("never %s:\n%s", what, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// findInit finds the machine's systemd: the child of the systemd-nspawn
// that runs this root (another test run may boot its own).
func (m *machine) findInit(root string) {
	m.t.Helper()
	if !m.tryFindInit(root) {
		m.t.Fatalf("no systemd inside the machine of %s", root)
	}
}

func (m *machine) tryFindInit(root string) bool {
	out, err := nspawnOf(root)
	if err != nil {
		return false
	}
	for _, p := range strings.Fields(string(out)) {
		kids, _ := exec.Command("pgrep", "-P", p).Output()
		for _, k := range strings.Fields(string(kids)) {
			if comm, _ := os.ReadFile("/proc/" + k + "/comm"); strings.TrimSpace(string(comm)) == "systemd" {
				m.init, _ = strconv.Atoi(k)
				return true
			}
		}
	}
	return false
}

// sh runs a shell command inside the running machine.
func (m *machine) sh(script string) string {
	m.t.Helper()
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(m.init), "-a", "--", "/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		m.t.Fatalf("in the machine, %s: %v\n%s", script, err, out)
	}
	return string(out)
}

// tryProp is prop while the machine boots: systemd's bus may not be up
// yet just after its process appears, and that is no failure.
func (m *machine) tryProp(name string) string {
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(m.init), "-a", "--",
		"systemctl", "show", "-p", name, "--value", m.unit).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func (m *machine) prop(name string) string {
	m.t.Helper()
	return strings.TrimSpace(m.sh("systemctl show -p " + name + " --value " + m.unit))
}

// waitStarted waits for the n-th restart to be up: started and READY=1,
// which the shell sends with its first frame.
func (m *machine) waitStarted(n int, within time.Duration) {
	m.t.Helper()
	deadline := time.Now().Add(within)
	want := fmt.Sprintf("ActiveState=active\nNRestarts=%d\nSubState=running", n)
	for {
		got := strings.TrimSpace(m.sh("systemctl show -p NRestarts -p ActiveState -p SubState " + m.unit + " | sort"))
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s is %q, not %q:\n%s\n%s", m.unit, got, want, m.screen(), m.sh("journalctl -b --no-pager | tail -30"))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// nspawnOf lists the systemd-nspawn processes that run root.
func nspawnOf(root string) ([]byte, error) {
	return exec.Command("pgrep", "-f", "^[^ ]*systemd-nspawn .*-D "+regexp.QuoteMeta(root)+" ").Output()
}

// stop powers the machine off and waits until its nspawn is gone, so that
// the root can boot again; then it kills what is left.
func (m *machine) stop() {
	if m.init != 0 {
		exec.Command("nsenter", "-t", strconv.Itoa(m.init), "-a", "--", "systemctl", "poweroff").Run()
		m.init = 0
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := nspawnOf(m.root); err != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	exec.Command("tmux", "-L", m.sock, "kill-server").Run()
}
