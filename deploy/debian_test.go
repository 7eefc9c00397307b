package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// bookworm makes a minimal Debian 12 in a folder, as debootstrap leaves a
// fresh machine: no systemd, no dbus, nothing of ours.
func bookworm(t *testing.T) string {
	t.Helper()
	debootstrap := need(t, "debootstrap", "debootstrap")
	if os.Geteuid() != 0 {
		t.Skip("installing into a Debian root needs root (chroot); CI runs as root")
	}
	// Not t.TempDir: /proc is mounted inside, and the folder must not be
	// removed unless it is unmounted.
	dir, err := os.MkdirTemp("", "borne-bookworm-")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "bookworm")
	mirror := os.Getenv("BORNE_DEBIAN_MIRROR")
	if mirror == "" {
		mirror = "http://deb.debian.org/debian"
	}
	out, err := exec.Command(debootstrap, "--variant=minbase", "bookworm", root, mirror).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("debootstrap: %v\n%s", err, tail(out, 2000))
	}
	// Maintainer scripts (systemd-tmpfiles) need /proc, as on a box.
	proc := filepath.Join(root, "proc")
	if out, err := exec.Command("mount", "-t", "proc", "proc", proc).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("mount proc: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", proc).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s (left in place)", proc, err, out)
			return
		}
		os.RemoveAll(dir)
	})
	return root
}

// inRoot runs a shell command inside root and returns what it printed.
func inRoot(t *testing.T, root, script string) (string, error) {
	t.Helper()
	cmd := exec.Command("chroot", root, "/bin/sh", "-c", script)
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

// The package on a fresh Debian 12: apt pulls in what it needs, the
// maintainer scripts run without a word of error, and the box has the
// kiosk user, its folder, the config only it can read, Ctrl+Alt+Del
// masked and the user manager lingering; the installed binary checks the
// installed config. Removing keeps the usage log; reinstalling over it
// keeps an edited config.
func TestInstallOnFreshDebian12(t *testing.T) {
	root := bookworm(t)
	deb := buildPackage(t)
	copyFile(t, deb, filepath.Join(root, "tmp/borne.deb"), 0o644)

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
	}
	for script, want := range checks {
		if got := strings.TrimSpace(mustInRoot(t, root, script)); got != want {
			t.Errorf("%s: %q, want %q", script, got, want)
		}
	}
	// The kiosk user reads its config and finds it valid.
	mustInRoot(t, root, "setpriv --reuid=borne --regid=borne --init-groups borne config check --config /etc/borne/borne.toml")
	if out, err := inRoot(t, root, "su -s /bin/sh -c 'cat /etc/borne/borne.toml' nobody"); err == nil {
		t.Errorf("another user reads the config:\n%s", out)
	}

	// The site edits its config, and a usage log exists; removing the
	// package keeps the log, reinstalling keeps the edit.
	mustInRoot(t, root, `sed -i 's/^name = .*/name = "Espace services publics de Gien"/' /etc/borne/borne.toml &&
		touch /var/lib/borne/usage.db && chown borne:borne /var/lib/borne/usage.db`)
	mustInRoot(t, root, "apt-get remove -y -q borne")
	if got := mustInRoot(t, root, "ls /var/lib/borne; test -e /etc/systemd/system/ctrl-alt-del.target || echo unmasked"); !strings.Contains(got, "usage.db") || !strings.Contains(got, "unmasked") {
		t.Errorf("after remove: %q", got)
	}
	mustInRoot(t, root, "apt-get install -y -q --no-install-recommends /tmp/borne.deb")
	if got := mustInRoot(t, root, "grep '^name = ' /etc/borne/borne.toml"); !strings.Contains(got, "Gien") {
		t.Errorf("the site's config was replaced on reinstall: %q", got)
	}
}
