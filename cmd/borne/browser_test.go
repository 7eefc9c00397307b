package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/browser"
)

// A site's config with its real visio addresses.
func visioConfig(t *testing.T, url string) string {
	t.Helper()
	body := strings.Replace(string(siteExample(t)), `visio_url = "https://visio.example/mairie"`, `visio_url = "`+url+`"`, 1)
	body = strings.Replace(body, `visio_end = ["https://visio.example/static/close"]`, `visio_end = ["https://meet.gien.example.fr/static/close*"]`, 1)
	body = strings.Replace(body, `enabled = ["caf", "cpam", "carsat", "adil", "cdad", "mairie"]`, `enabled = ["mairie"]`, 1)
	p := filepath.Join(t.TempDir(), "borne.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBrowserPolicyCommand(t *testing.T) {
	cfg := visioConfig(t, "https://meet.gien.example.fr/mairie")
	old := policyFile
	policyFile = filepath.Join(t.TempDir(), "policies", "managed", "borne.json")
	t.Cleanup(func() { policyFile = old })

	code, out, errOut := runMain(t, "", "config", "browser-policy", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var pol map[string]any
	if err := json.Unmarshal([]byte(out), &pol); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got := pol["URLAllowlist"]; !slices.Equal(toStrings(got), []string{"https://.meet.gien.example.fr"}) {
		t.Errorf("URLAllowlist %v", got)
	}

	// config check: no warning for a site on its real addresses.
	if code, _, errOut := runMain(t, "", "config", "check", "--config", cfg); code != 0 || errOut != "" {
		t.Errorf("config check: %d %q", code, errOut)
	}

	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := health(browserChecks(context.Background(), c), "policy"); got != hw.Degraded {
		t.Errorf("policy not installed: %v", got)
	}
	if code, out, errOut := runMain(t, "", "config", "browser-policy", "--config", cfg, "--install"); code != 0 || !strings.Contains(out, "installed") {
		t.Fatalf("install: %d %q %q", code, out, errOut)
	}
	fi, err := os.Stat(policyFile)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("installed policy: %v %v", fi, err)
	}
	if got := health(browserChecks(context.Background(), c), "policy"); got != hw.OK {
		t.Errorf("policy installed: %v", got)
	}
	if _, out, _ := runMain(t, "", "config", "browser-policy", "--config", cfg, "--install"); !strings.Contains(out, "already") {
		t.Errorf("second install: %q", out)
	}

	// The config changes: doctor says the installed policy is not its.
	c2, err := config.Load(visioConfig(t, "https://visio.partner.example.org/gien"))
	if err != nil {
		t.Fatal(err)
	}
	checks := browserChecks(context.Background(), c2)
	if got := health(checks, "policy"); got != hw.Degraded {
		t.Errorf("policy of another config: %v", got)
	}

	// The example's addresses: config check warns (exit 0), doctor fails.
	ex := filepath.Join(t.TempDir(), "borne.toml")
	os.WriteFile(ex, siteExample(t), 0o600)
	code, _, errOut = runMain(t, "", "config", "check", "--config", ex)
	if code != 0 || strings.Count(errOut, "(warning)") != 6 || !strings.Contains(errOut, `operator "caf" still opens the example address https://visio.example/caf`) {
		t.Errorf("config check of the example: %d\n%s", code, errOut)
	}
	cex, _ := config.Load(ex)
	missing := 0
	for _, c := range operatorChecks(cex) {
		if c.Health == hw.Missing && c.Needed && strings.Contains(c.Reason, "visio.example") {
			missing++
		}
	}
	if missing != 6 {
		t.Errorf("doctor on the example's addresses: %d operators fail, want 6: %+v", missing, operatorChecks(cex))
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func health(checks []hw.Check, name string) hw.Health {
	for _, c := range checks {
		if c.Name == name {
			return c.Health
		}
	}
	return "absent"
}

// Web visios open in the browser on the runner that really runs clients:
// systemd's, or the shell's children even on the simulated back-end (the
// process runner replaced the sessions the browser had wrapped); the
// simulated runner alone keeps them.
func TestVisioWrapsTheFinalRunner(t *testing.T) {
	for _, tc := range []struct {
		runner  string
		browser bool
	}{{"process", true}, {"systemd", false}} {
		cfg := config.Demo()
		cfg.Hardware.Backend, cfg.Hardware.Session.Runner = "sim", tc.runner
		cfg.Usage.Database = filepath.Join(t.TempDir(), "usage.db")
		t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
		h, err := kioskHardware(cfg, func(string) string { return "" }, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		_, isBrowser := h.Sessions.(*browser.Sessions)
		if isBrowser != tc.browser {
			t.Errorf("runner %q: sessions %T, browser wanted: %v", tc.runner, h.Sessions, tc.browser)
		}
		h.Close()
	}
}
