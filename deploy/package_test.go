package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// wantContents is the whole package: path → mode and owner. Nothing else
// may be in it.
var wantContents = map[string]string{
	"./etc/":                                             "drwxr-xr-x root/root",
	"./etc/borne/":                                       "drwxr-x--- root/borne",
	"./etc/borne/borne.toml":                             "-rw-r----- root/borne",
	"./etc/borne/foot.ini":                               "-rw-r--r-- root/root",
	"./etc/borne/sway.conf":                              "-rw-r--r-- root/root",
	"./etc/borne/sync.token":                             "-rw-r----- root/borne",
	"./etc/chromium/":                                    "drwxr-xr-x root/root",
	"./etc/chromium/policies/":                           "drwxr-xr-x root/root",
	"./etc/chromium/policies/managed/":                   "drwxr-xr-x root/root",
	"./etc/pam.d/":                                       "drwxr-xr-x root/root",
	"./etc/pam.d/borne":                                  "-rw-r--r-- root/root",
	"./usr/":                                             "drwxr-xr-x root/root",
	"./usr/bin/":                                         "drwxr-xr-x root/root",
	"./usr/bin/borne":                                    "-rwxr-xr-x root/root",
	"./usr/lib/":                                         "drwxr-xr-x root/root",
	"./usr/lib/sysctl.d/":                                "drwxr-xr-x root/root",
	"./usr/lib/sysctl.d/90-borne.conf":                   "-rw-r--r-- root/root",
	"./usr/lib/systemd/":                                 "drwxr-xr-x root/root",
	"./usr/lib/systemd/logind.conf.d/":                   "drwxr-xr-x root/root",
	"./usr/lib/systemd/logind.conf.d/borne.conf":         "-rw-r--r-- root/root",
	"./usr/lib/systemd/system.conf.d/":                   "drwxr-xr-x root/root",
	"./usr/lib/systemd/system.conf.d/borne.conf":         "-rw-r--r-- root/root",
	"./usr/lib/systemd/system/":                          "drwxr-xr-x root/root",
	"./usr/lib/systemd/system/borne-browser-policy.path": "-rw-r--r-- root/root",
	"./usr/lib/systemd/system/borne-browser-policy.service": "-rw-r--r-- root/root",
	"./usr/lib/systemd/system/borne-kiosk.service":          "-rw-r--r-- root/root",
	"./usr/lib/systemd/system/borne.service":                "-rw-r--r-- root/root",
	"./usr/lib/systemd/user-preset/":                        "drwxr-xr-x root/root",
	"./usr/lib/systemd/user-preset/80-borne.preset":         "-rw-r--r-- root/root",
	"./usr/lib/sysusers.d/":                                 "drwxr-xr-x root/root",
	"./usr/lib/sysusers.d/borne.conf":                       "-rw-r--r-- root/root",
	"./usr/lib/tmpfiles.d/":                                 "drwxr-xr-x root/root",
	"./usr/lib/tmpfiles.d/borne.conf":                       "-rw-r--r-- root/root",
	"./usr/share/":                                          "drwxr-xr-x root/root",
	"./usr/share/doc/":                                      "drwxr-xr-x root/root",
	"./usr/share/doc/borne/":                                "drwxr-xr-x root/root",
	"./usr/share/doc/borne/examples/":                       "drwxr-xr-x root/root",
	"./usr/share/doc/borne/examples/demo.toml":              "-rw-r--r-- root/root",
	"./usr/share/doc/borne/examples/fixed-site.toml":        "-rw-r--r-- root/root",
	"./usr/share/doc/borne/examples/itinerant.toml":         "-rw-r--r-- root/root",
	"./var/":           "drwxr-xr-x root/root",
	"./var/lib/":       "drwxr-xr-x root/root",
	"./var/lib/borne/": "drwxr-x--- borne/borne",
}

var wantConffiles = []string{"/etc/borne/borne.toml", "/etc/borne/foot.ini", "/etc/borne/sway.conf", "/etc/borne/sync.token", "/etc/pam.d/borne"}

// buildPackage runs `make deb` into a scratch folder and returns the .deb.
func buildPackage(t *testing.T) string {
	t.Helper()
	need(t, "make", "make")
	need(t, "dpkg-deb", "dpkg")
	out := t.TempDir()
	run(t, "..", "make", "deb", "DEB_DIR="+out, "DEB_VERSION=1.2.3+test")
	debs, _ := filepath.Glob(filepath.Join(out, "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb made %v", debs)
	}
	return debs[0]
}

// contents reads `dpkg-deb -c`: path → "mode owner/group".
func contents(t *testing.T, deb string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, ".", "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c: %q", line)
		}
		got[f[len(f)-1]] = f[0] + " " + f[1]
	}
	return got
}

func TestPackage(t *testing.T) {
	deb := buildPackage(t)
	if st, err := os.Stat(deb); err == nil {
		t.Logf("%s: %d bytes", filepath.Base(deb), st.Size())
	}

	got := contents(t, deb)
	for path, want := range wantContents {
		if got[path] != want {
			t.Errorf("%s: %q, want %q", path, got[path], want)
		}
	}
	for path := range got {
		if _, ok := wantContents[path]; !ok {
			t.Errorf("%s is in the package and should not be", path)
		}
	}

	field := func(name string) string {
		return strings.TrimSpace(run(t, ".", "dpkg-deb", "-f", deb, name))
	}
	if v := field("Version"); v != "1.2.3+test" {
		t.Errorf("Version %q", v)
	}
	deps := field("Depends")
	for _, d := range []string{"systemd", "libpam-systemd", "dbus-user-session", "pipewire", "pipewire-pulse", "wireplumber"} {
		if !slices.Contains(strings.Split(strings.ReplaceAll(deps, " ", ""), ","), d) {
			t.Errorf("Depends %q lacks %s", deps, d)
		}
	}
	// The kiosk unit runs sway (cage showed one window at a time: the video
	// client hid the call bar).
	recs := strings.Split(strings.ReplaceAll(field("Recommends"), " ", ""), ",")
	if !slices.Contains(recs, "sway") || !slices.Contains(recs, "foot") || slices.Contains(recs, "cage") {
		t.Errorf("Recommends %q: want sway and foot, and no cage", recs)
	}

	control := t.TempDir()
	run(t, ".", "dpkg-deb", "-e", deb, control)
	conffiles, err := os.ReadFile(filepath.Join(control, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	cf := strings.Fields(string(conffiles))
	slices.Sort(cf)
	if !slices.Equal(cf, wantConffiles) {
		t.Errorf("conffiles %q, want %q", cf, wantConffiles)
	}
	for _, script := range []string{"preinst", "postinst", "prerm", "postrm"} {
		p := filepath.Join(control, script)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("no %s: %v", script, err)
		}
		if st.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable", script)
		}
		run(t, ".", "sh", "-n", p)
	}
	postinst, _ := os.ReadFile(filepath.Join(control, "postinst"))
	for _, step := range []string{
		"systemd-sysusers borne.conf",
		"systemd-tmpfiles --create borne.conf",
		"chown root:borne /etc/borne /etc/borne/borne.toml /etc/borne/sync.token",
		"chmod 0640 /etc/borne/borne.toml /etc/borne/sync.token",
		"systemctl mask ctrl-alt-del.target",
		"touch /var/lib/systemd/linger/borne",
	} {
		if !strings.Contains(string(postinst), step) {
			t.Errorf("postinst does not %q", step)
		}
	}
	preinst, _ := os.ReadFile(filepath.Join(control, "preinst"))
	if !strings.Contains(string(preinst), "u borne - ") {
		t.Error("preinst does not make the kiosk user before the files owned by it unpack")
	}

	// What is inside works: the binary runs, the installed config is valid.
	root := t.TempDir()
	run(t, ".", "dpkg-deb", "-x", deb, root)
	if out := run(t, ".", filepath.Join(root, "usr/bin/borne"), "version"); !strings.HasPrefix(out, "borne ") {
		t.Errorf("borne version: %q", out)
	}
	// The config names the token by its place on the box: point it at
	// the unpacked one, whose mode the check looks at too.
	cfg, err := os.ReadFile(filepath.Join(root, "etc/borne/borne.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.ReplaceAll(string(cfg), `"/etc/borne/sync.token"`, `"`+filepath.Join(root, "etc/borne/sync.token")+`"`))
	check := filepath.Join(t.TempDir(), "borne.toml")
	if err := os.WriteFile(check, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	// As installed, its placeholder PIN hash is refused, with its place;
	// with the site's own PIN (README, step "maintenance PIN") it is valid.
	borne := filepath.Join(root, "usr/bin/borne")
	out, err := exec.Command(borne, "config", "check", check).CombinedOutput()
	if err == nil || !strings.Contains(string(out), check+":") || !strings.Contains(string(out), "maintenance.pin_hash: is the example's placeholder") {
		t.Errorf("the installed config's placeholder PIN hash: %v\n%s", err, out)
	}
	hash := exec.Command(borne, "pin", "hash")
	hash.Stdin = strings.NewReader("58203716\n")
	h, err := hash.Output()
	if err != nil {
		t.Fatalf("borne pin hash: %v", err)
	}
	cfg = regexp.MustCompile(`(?m)^pin_hash = ".*"$`).ReplaceAllLiteral(cfg, []byte(`pin_hash = "`+strings.TrimSpace(string(h))+`"`))
	if err := os.WriteFile(check, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, ".", borne, "config", "check", "--config", check)
}

// `make install DESTDIR=…` puts the same files as the package, with the
// same modes (owners are set on the box, not in a staging folder).
func TestMakeInstallMatchesPackage(t *testing.T) {
	dest := t.TempDir()
	run(t, "..", "make", "install", "DESTDIR="+dest)
	var files []string
	err := filepath.Walk(dest, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dest, p)
		if rel == "." {
			return nil
		}
		name := "./" + rel
		if info.IsDir() {
			name += "/"
		}
		want, ok := wantContents[name]
		if !ok {
			t.Errorf("make install put %s, which the package does not have", name)
			return nil
		}
		files = append(files, name)
		if mode := strings.Fields(want)[0]; info.Mode().String() != mode && !info.IsDir() {
			t.Errorf("%s: mode %s, want %s", name, info.Mode(), mode)
		}
		if want := strings.Fields(want)[0]; info.IsDir() && strings.HasSuffix(want, "---") && info.Mode().Perm() != 0o750 {
			t.Errorf("%s: mode %s, want %s", name, info.Mode(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range wantContents {
		if !strings.HasPrefix(want, "d") && !slices.Contains(files, path) {
			t.Errorf("make install did not put %s", path)
		}
	}
}
