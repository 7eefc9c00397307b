package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"

	"github.com/loiret/borne/hw/browser"
	"github.com/loiret/borne/operators"
)

func TestPolicyKeys(t *testing.T) {
	ops := []operators.Operator{
		{ID: "caf", VisioURL: "https://visio.caf.example.fr/loiret/room?x=1", VisioEnd: []string{"https://visio.caf.example.fr/static/close*", "https://merci.caf.example.fr/"}},
		{ID: "cpam", VisioURL: "https://meet.example:8443/cpam"},
		{ID: "native", Launch: []string{"/usr/bin/partner"}},
		{ID: "local", VisioURL: "http://127.0.0.1:8080/visio"},
	}
	var got map[string]any
	if err := json.Unmarshal(browser.PolicyJSON(ops), &got); err != nil {
		t.Fatal(err)
	}
	origins := []any{"http://127.0.0.1:8080", "https://meet.example:8443", "https://merci.caf.example.fr", "https://visio.caf.example.fr"}
	want := map[string]any{
		"URLBlocklist":               []any{"*", "devtools://*", "view-source:*", "file://*"},
		"URLAllowlist":               []any{"http://127.0.0.1:8080", "https://.meet.example:8443", "https://.merci.caf.example.fr", "https://.visio.caf.example.fr"},
		"VideoCaptureAllowedUrls":    origins,
		"AudioCaptureAllowedUrls":    origins,
		"DownloadRestrictions":       3.0,
		"AllowFileSelectionDialogs":  false,
		"PrintingEnabled":            false,
		"DeveloperToolsAvailability": 1.0, // 2 refuses the DevTools protocol itself
		"RemoteDebuggingAllowed":     true,
		"IncognitoModeAvailability":  1.0,
		"BrowserSignin":              0.0,
		"PasswordManagerEnabled":     false,
		"AutofillAddressEnabled":     false,
		"AutofillCreditCardEnabled":  false,
		"TranslateEnabled":           false,
		"ExtensionInstallBlocklist":  []any{"*"},
		"SyncDisabled":               true,
		"BrowserGuestModeEnabled":    false,
		"DefaultPopupsSetting":       2.0,
		"ScreenCaptureAllowed":       false,
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	// No operator is a web visio: nothing can be opened at all.
	var none map[string]any
	json.Unmarshal(browser.PolicyJSON(nil), &none)
	if a, ok := none["URLAllowlist"].([]any); !ok || len(a) != 0 {
		t.Errorf("no visio: URLAllowlist %v", none["URLAllowlist"])
	}
}

// The policy as the real browser reads it: chrome://policy, read through
// the DevTools protocol, lists each key with the config's value and the
// status OK; and the DevTools window's own pages are blocked.
func TestPolicyLoaded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<title>visio</title>") }))
	defer srv.Close()
	ops := []operators.Operator{{ID: "caf", VisioURL: srv.URL + "/visio", VisioEnd: []string{"https://merci.example.fr/"}}}
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.json")
	os.WriteFile(pol, browser.PolicyJSON(ops), 0o644)
	cmd := filepath.Join(dir, "chromium")
	os.WriteFile(cmd, []byte(wrapper), 0o755)
	profile := filepath.Join(dir, "profile")
	os.Mkdir(profile, 0o700)
	s, _ := browser.New(nil, browser.Options{Command: cmd, Flags: []string{"--headless=new", "--no-sandbox"}, ProfileRoot: filepath.Join(dir, "root")})
	argv := s.Argv(ops[0], profile)
	c := exec.Command(argv[0], argv[1:]...)
	c.Env = append(os.Environ(), "BORNE_TEST_POLICY="+pol, "HOME="+dir)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// The whole browser goes before its profile folder does: its helper
	// processes outlive the main one for a moment, writing in the profile.
	defer killGroup(c)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws := waitPort(t, ctx, profile)
	actx, cancelA := remote.NewAllocator(ctx, ws, remote.NoModifyURL)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	var want map[string]any
	json.Unmarshal(browser.PolicyJSON(ops), &want)
	text := pageText(t, bctx, "chrome://policy", func(text string) bool {
		return len(policyTable(text)) >= len(want) // every row drawn
	})
	values := policyTable(text)
	for k, w := range want {
		v, ok := values[k]
		if !ok {
			t.Errorf("%s: not listed by chrome://policy", k)
			continue
		}
		// Chromium 156 still applies the two autofill keys, marked
		// deprecated.
		if v.status != "OK" && !(v.status == "Deprecated" && strings.HasPrefix(k, "Autofill")) {
			t.Errorf("%s: status %q", k, v.status)
		}
		var g any
		if err := json.Unmarshal([]byte(v.value), &g); err != nil || !reflect.DeepEqual(g, w) {
			t.Errorf("%s: chrome://policy shows %s, want %v", k, v.value, w)
		}
	}
	if t.Failed() {
		t.Logf("chrome://policy:\n%s", text)
	}
	if blocked := pageText(t, bctx, "devtools://devtools/bundled/inspector.html", func(s string) bool { return strings.Contains(s, "blocked") }); !strings.Contains(blocked, "blocked") {
		t.Errorf("the DevTools window's pages open: %q", blocked)
	}
}

func waitPort(t *testing.T, ctx context.Context, profile string) string {
	t.Helper()
	for ctx.Err() == nil {
		b, _ := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		if port, path, ok := strings.Cut(strings.TrimSpace(string(b)), "\n"); ok {
			return "ws://127.0.0.1:" + port + path
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no DevToolsActivePort")
	return ""
}

// pageText opens url in a new tab and returns its text, shadow roots
// included, once done says it is all there.
func pageText(t *testing.T, bctx context.Context, url string, done func(string) bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Targets(bctx); err != nil {
		t.Fatal(err)
	}
	res, err := cdp.Call(ctx, chromedp.FromContext(bctx).Browser, target.CreateTarget, target.CreateTargetParams{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := chromedp.NewContext(bctx, chromedp.WithTargetID(res.TargetID))
	defer tcancel()
	const walk = `(function(){const out=[];const walk=(n)=>{if(n.shadowRoot)walk(n.shadowRoot);for(const c of n.childNodes){if(c.nodeType===3){const t=c.textContent.trim();if(t)out.push(t)}else walk(c)}};if(document.body)walk(document.body);return out.join("\n|\n")})()`
	var text string
	for ctx.Err() == nil {
		text, err = chromedp.Run(tctx, chromedp.Evaluate[string](walk))
		if err == nil && done(text) {
			return text
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %q (%v)", url, text, err)
	return ""
}

type shown struct{ value, status string }

// policyTable reads chrome://policy's rows: a name, its value, then
// Platform | Machine | Mandatory | status.
func policyTable(text string) map[string]shown {
	f := strings.Split(text, "\n|\n")
	out := map[string]shown{}
	for i := 0; i+5 < len(f); i++ {
		if f[i+2] == "Platform" && f[i+3] == "Machine" && f[i+4] == "Mandatory" {
			out[f[i]] = shown{value: f[i+1], status: f[i+5]}
		}
	}
	return out
}

// killGroup ends the process group c leads and waits, a few seconds at
// most, until none of it is left.
func killGroup(c *exec.Cmd) {
	pid := c.Process.Pid
	syscall.Kill(-pid, syscall.SIGKILL)
	c.Wait()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if syscall.Kill(-pid, 0) == syscall.ESRCH {
			return
		}
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}
