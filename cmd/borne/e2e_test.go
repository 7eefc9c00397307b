package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/loiret/borne/config"
)

// The end-to-end tests run the real binary in a real terminal (tmux),
// touch it with SGR mouse sequences as a touch screen does, and read the
// usage log back with the binary itself.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "borne-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "borne")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building borne: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var sockets atomic.Int64

// term is one tmux server with one pane running borne under a small
// shell that writes borne's exit status to a file.
type term struct {
	t      *testing.T
	sock   string
	status string
	input  io.Writer // where taps go; nil: the pane's own keyboard
	last   string    // the screen last captured
	since  time.Time // when it was first seen
}

func startTerm(t *testing.T, w, h int, args ...string) *term {
	t.Helper()
	return startTermEnv(t, w, h, nil, args...)
}

// startTermEnv is startTerm with more environment variables for borne.
func startTermEnv(t *testing.T, w, h int, env []string, args ...string) *term {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed for the end-to-end tests (make deps installs it)")
	}
	tm := &term{t: t, sock: fmt.Sprintf("borne-e2e-%d-%d", os.Getpid(), sockets.Add(1)),
		status: filepath.Join(t.TempDir(), "status")}
	script := `TERM=xterm-256color ` + strings.Join(env, " ") + ` "$0" "$@"; echo $? > ` + tm.status + `; sleep 600`
	cmd := append([]string{"new-session", "-d", "-s", "k", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h),
		"sh", "-c", script, binary}, args...)
	tm.tmux(cmd...)
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.sock, "kill-server").Run() })
	return tm
}

func (tm *term) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (tm *term) screen() string {
	s := tm.tmux("capture-pane", "-p", "-t", "k")
	if s != tm.last {
		tm.last, tm.since = s, time.Now()
	}
	return s
}

// steady is how long a screen must stay the same before tapText touches
// it: a new screen ignores touches for a moment (tui's tap guard), as a
// person waits to read it.
const steady = 600 * time.Millisecond

// waitFor waits until the screen shows text and returns the screen.
func (tm *term) waitFor(text string) string {
	tm.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := tm.screen()
		if strings.Contains(s, text) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen never showed %q:\n%s", text, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitUntil waits until the screen satisfies ok.
func (tm *term) waitUntil(what string, ok func(string) bool) {
	tm.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := tm.screen()
		if ok(s) {
			return
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("never %s:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settle waits until the screen has stayed the same a moment and returns
// it.
func (tm *term) settle() string {
	s := tm.screen()
	for time.Since(tm.since) < steady {
		time.Sleep(50 * time.Millisecond)
		s = tm.screen()
	}
	return s
}

// tapText touches the middle of the first place the screen shows text,
// once the screen has stayed the same a moment.
func (tm *term) tapText(text string) {
	tm.t.Helper()
	tm.waitFor(text)
	s := tm.settle()
	if !strings.Contains(s, text) {
		s = tm.waitFor(text)
	}
	for y, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, text); i >= 0 {
			x := len([]rune(line[:i])) + len([]rune(text))/2
			tm.tap(x, y)
			return
		}
	}
}

// tap sends a left press and release in SGR mouse encoding (1-based).
func (tm *term) tap(x, y int) {
	tm.t.Helper()
	press, release := fmt.Sprintf("\x1b[<0;%d;%dM", x+1, y+1), fmt.Sprintf("\x1b[<0;%d;%dm", x+1, y+1)
	if tm.input != nil {
		io.WriteString(tm.input, press+release)
		return
	}
	tm.tmux("send-keys", "-t", "k", "-l", press)
	tm.tmux("send-keys", "-t", "k", "-l", release)
}

// pid is borne's process: the child of the pane's shell.
func (tm *term) pid() int {
	tm.t.Helper()
	sh, err := strconv.Atoi(strings.TrimSpace(tm.tmux("display-message", "-p", "-t", "k", "#{pane_pid}")))
	if err != nil {
		tm.t.Fatal(err)
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut after ")".
		rest := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(rest) > 1 && rest[1] == strconv.Itoa(sh) {
			p, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			return p
		}
	}
	tm.t.Fatalf("borne is not running under the pane's shell %d", sh)
	return 0
}

func (tm *term) signal(sig syscall.Signal) {
	tm.t.Helper()
	if err := syscall.Kill(tm.pid(), sig); err != nil {
		tm.t.Fatalf("kill %v: %v", sig, err)
	}
}

// exitStatus waits for borne to exit and returns its status.
func (tm *term) exitStatus() int {
	tm.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(tm.status); err == nil && len(b) > 0 {
			n, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil {
				return n
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tm.t.Fatalf("borne did not exit:\n%s", tm.screen())
	return -1
}

func (tm *term) alive() bool {
	_, err := os.Stat(tm.status)
	return os.IsNotExist(err)
}

// testConfig is a site whose "essai" operator answers at any hour of any
// day, so the tests can call whatever the date.
func testConfig(t *testing.T) (cfg, db string) {
	t.Helper()
	dir := t.TempDir()
	db = filepath.Join(dir, "usage.db")
	cfg = filepath.Join(dir, "borne.toml")
	body := fmt.Sprintf(`[site]
id = "test-gien"
name = "Espace de test"
place = "Gien"
help_phone = "02 38 00 00 00"

[maintenance]
pin_hash = %q

[hardware]
backend = "sim"

[usage]
database = %q

[operators]
enabled = ["caf"]

[[operators.custom]]
id = "essai"
name = "Appel d'essai"
summary = "Toujours ouvert"
hours = ["mon-sun 00:00-24:00"]
open_on_holidays = true
launch = ["/bin/true"]
`, config.Demo().Maintenance.PinHash, db)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, db
}

func exportEvents(t *testing.T, db string) []map[string]any {
	t.Helper()
	out, err := exec.Command(binary, "logs", "export", "--db", db).Output()
	if err != nil {
		t.Fatalf("logs export: %v", err)
	}
	var evs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return evs
}

func TestE2EWholeCallByTouch(t *testing.T) {
	cfg, db := testConfig(t)
	tm := startTerm(t, 100, 30, "run", "--config", cfg)
	tm.tapText("Appel d'essai")
	tm.waitFor("Horaires des appels vidéo :")
	tm.tapText("Appeler")
	tm.waitFor("Terminer l'appel")
	time.Sleep(1100 * time.Millisecond) // a call of a second at least
	tm.tapText("Terminer l'appel")
	tm.waitFor("Comment s'est passé votre échange ?")
	s := tm.settle()
	// The scores are a row of buttons: touch the 4.
	for y, line := range strings.Split(s, "\n") {
		if strings.Contains(line, "│") && strings.Contains(line, " 1 ") && strings.Contains(line, " 4 ") {
			tm.tap(len([]rune(line[:strings.Index(line, " 4 ")]))+1, y)
			break
		}
	}
	tm.waitFor("Touchez le service")
	tm.signal(syscall.SIGTERM)
	if code := tm.exitStatus(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM:\n%s", code, tm.screen())
	}

	evs := exportEvents(t, db)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e["kind"].(string))
	}
	want := "shell_started operator_viewed session_started session_ended survey shell_stopped"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("events: %s\nwant:   %s", got, want)
	}
	ended := evs[3]
	if ended["outcome"] != "completed" || ended["operator"] != "essai" || ended["duration_ms"].(float64) < 1000 {
		t.Fatalf("session_ended: %v", ended)
	}
	if evs[4]["detail"].(map[string]any)["score"] != float64(4) {
		t.Fatalf("survey: %v", evs[4])
	}
	for i, e := range evs {
		if e["site"] != "test-gien" || e["place"] != "Gien" || e["seq"].(float64) != float64(i+1) {
			t.Fatalf("event %d: %v", i, e)
		}
	}
}

// An elderly person double-taps "Appeler": the second tap, 0.2 s later,
// neither cancels the call being set up nor ends the one started.
func TestE2EDoubleTapOnCallKeepsTheCall(t *testing.T) {
	cfg, db := testConfig(t)
	tm := startTerm(t, 80, 24, "run", "--config", cfg)
	tm.tapText("Appel d'essai")
	tm.tapText("Appeler")
	s := tm.last
	for y, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "Appeler"); i >= 0 {
			x := len([]rune(line[:i])) + 3
			time.Sleep(200 * time.Millisecond)
			tm.tap(x, y)
			break
		}
	}
	tm.waitFor("Terminer l'appel")
	time.Sleep(time.Second)
	if s := tm.screen(); !strings.Contains(s, "Terminer l'appel") {
		t.Fatalf("the call did not last:\n%s", s)
	}
	tm.signal(syscall.SIGTERM)
	tm.exitStatus()
	var kinds []string
	for _, e := range exportEvents(t, db) {
		kinds = append(kinds, e["kind"].(string))
	}
	got := strings.Join(kinds, " ")
	if !strings.Contains(got, "session_started") || strings.Contains(got, "session_ended") {
		t.Fatalf("events: %s", got)
	}
}

func TestE2EKeysAndSignalsDoNotStopIt(t *testing.T) {
	cfg, _ := testConfig(t)
	tm := startTerm(t, 80, 24, "run", "--config", cfg)
	tm.waitFor("Appel d'essai")
	for _, k := range []string{"C-c", "C-z", `C-\`, "C-d", "q", "Escape", "F1", "F4"} {
		tm.tmux("send-keys", "-t", "k", k)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGTSTP} {
		tm.signal(sig)
	}
	time.Sleep(300 * time.Millisecond)
	if !tm.alive() {
		t.Fatalf("borne stopped:\n%s", tm.screen())
	}
	tm.tmux("resize-window", "-t", "k", "-x", "120", "-y", "40")
	tm.waitFor("Touchez le service")
	tm.signal(syscall.SIGTERM)
	if code := tm.exitStatus(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	if s := tm.screen(); strings.Contains(s, "Touchez le service") {
		t.Fatalf("the terminal was not restored:\n%s", s)
	}
}

func TestE2EDemoSaysWhereItsLogIs(t *testing.T) {
	tm := startTerm(t, 100, 30, "demo")
	tm.waitFor("CAF du Loiret")
	tm.signal(syscall.SIGTERM)
	if code := tm.exitStatus(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	s := tm.waitFor("usage log: ")
	i := strings.Index(s, "usage log: ")
	path := strings.TrimSpace(strings.SplitN(s[i+len("usage log: "):], "\n", 2)[0])
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(path)) })
	evs := exportEvents(t, path)
	if len(evs) != 2 || evs[0]["kind"] != "shell_started" || evs[1]["kind"] != "shell_stopped" {
		t.Fatalf("demo log %s: %v", path, evs)
	}
}

func TestE2EMaintenanceOutOfServiceAndBack(t *testing.T) {
	cfg, db := testConfig(t)
	tm := startTerm(t, 100, 30, "run", "--config", cfg)
	tm.waitFor("Appel d'essai")
	tm.tmux("send-keys", "-t", "k", "F12")
	tm.waitFor("Maintenance — entrez le code")
	tm.tmux("send-keys", "-t", "k", "-l", "246810")
	tm.tmux("send-keys", "-t", "k", "Enter")
	tm.tapText("Mettre hors service")
	tm.tapText("Panne technique")
	tm.tapText("Verrouiller")
	s := tm.waitFor("Borne hors service")
	if !strings.Contains(s, "Panne technique, réparation en cours") || !strings.Contains(s, "02 38 00 00 00") {
		t.Fatalf("citizen screen:\n%s", s)
	}
	tm.tapText("Panne technique") // nothing to press
	time.Sleep(200 * time.Millisecond)
	tm.waitFor("Borne hors service")
	for range 5 { // the agents' corner
		tm.tap(1, 0)
	}
	tm.waitFor("Maintenance — entrez le code")
	for _, d := range "246810" {
		tm.tapText(" " + string(d) + " ")
	}
	tm.tapText("Valider")
	tm.tapText("Remettre en service")
	tm.tapText("Verrouiller")
	tm.waitFor("Touchez le service")
	tm.signal(syscall.SIGTERM)
	if code := tm.exitStatus(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	var kinds []string
	for _, e := range exportEvents(t, db) {
		kinds = append(kinds, e["kind"].(string))
	}
	want := "shell_started maintenance_unlocked out_of_service maintenance_locked maintenance_unlocked back_in_service maintenance_locked shell_stopped"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("events: %s\nwant:   %s", got, want)
	}
}

// writeConfig is testConfig with more lines for [kiosk] and more operators.
func writeConfig(t *testing.T, kiosk, operators string) (cfg, db string) {
	t.Helper()
	cfg, db = testConfig(t)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(b), "[hardware]", "[kiosk]\n"+kiosk+"\n\n[hardware]", 1) + operators
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, db
}

func TestE2EIdleResetForgetsTheLastPerson(t *testing.T) {
	cfg, db := writeConfig(t, `idle_reset = "10s"`, "")
	tm := startTerm(t, 100, 30, "run", "--config", cfg)
	tm.tapText("English")
	tm.tapText("Appel d'essai") // no English name in this config: French shows
	tm.waitFor("Video call hours:")
	time.Sleep(11 * time.Second) // nobody touches the kiosk
	s := tm.waitFor("Touchez le service que vous voulez appeler")
	if strings.Contains(s, "Video call hours:") {
		t.Fatalf("the last person's screen is still there:\n%s", s)
	}
	tm.signal(syscall.SIGTERM)
	tm.exitStatus()
	found := false
	for _, e := range exportEvents(t, db) {
		found = found || e["kind"] == "idle_reset"
	}
	if !found {
		t.Fatal("idle_reset not recorded")
	}
}

func TestE2EClosedOperatorCannotBeCalled(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	today := time.Now().In(paris)
	closed := fmt.Sprintf(`
[[operators.custom]]
id = "ferme"
name = "Service fermé"
summary = "Fermé aujourd'hui"
phone = "01 23 45 67 89"
hours = ["mon-sun 00:00-24:00"]
open_on_holidays = true
closed = [%q, %q]
launch = ["/bin/true"]
`, today.Format("2006-01-02"), today.AddDate(0, 0, 1).Format("2006-01-02"))
	cfg, db := writeConfig(t, "", closed)
	tm := startTerm(t, 100, 30, "run", "--config", cfg)
	tm.tapText("Service fermé")
	s := tm.waitFor("Imprimer ses coordonnées")
	if !strings.Contains(s, "Fermé · ouvre") {
		t.Fatalf("the closed operator does not say when it opens:\n%s", s)
	}
	tm.tapText("Appeler")
	time.Sleep(300 * time.Millisecond)
	if s := tm.screen(); strings.Contains(s, "Connexion") || strings.Contains(s, "Terminer l'appel") {
		t.Fatalf("a closed operator was called:\n%s", s)
	}
	tm.tapText("Imprimer ses coordonnées")
	tm.waitFor("Prenez votre document")
	tm.signal(syscall.SIGTERM)
	tm.exitStatus()
	var kinds []string
	for _, e := range exportEvents(t, db) {
		kinds = append(kinds, e["kind"].(string))
	}
	if got := strings.Join(kinds, " "); strings.Contains(got, "session_started") || !strings.Contains(got, "print_job") {
		t.Fatalf("events: %s", got)
	}
}

// A stranger guessing PINs gains nothing by pulling the plug: the count
// and the lock-out are on disk before each check.
func TestE2ELockoutSurvivesKill9(t *testing.T) {
	cfg, _ := testConfig(t)
	tm := startTerm(t, 100, 30, "run", "--config", cfg)
	tm.waitFor("Appel d'essai")
	tm.tmux("send-keys", "-t", "k", "F12")
	tm.waitFor("Maintenance — entrez le code")
	for i := range 5 {
		tm.tmux("send-keys", "-t", "k", "-l", fmt.Sprintf("13579%d", i))
		tm.waitFor("● ● ● ● ● ●")
		tm.tmux("send-keys", "-t", "k", "Enter")
		// Checked: the dots are empty again and nothing is being checked.
		tm.waitUntil("the PIN checked", func(s string) bool {
			return strings.Contains(s, "○ ○ ○ ○ ○ ○") && !strings.Contains(s, "Vérification")
		})
	}
	tm.waitFor("Trop d'essais. Réessayez dans")
	tm.signal(syscall.SIGKILL)
	tm.exitStatus()

	again := startTerm(t, 100, 30, "run", "--config", cfg)
	again.waitFor("Appel d'essai")
	again.tmux("send-keys", "-t", "k", "F12")
	again.waitFor("Trop d'essais. Réessayez dans")
	again.tmux("send-keys", "-t", "k", "-l", "246810")
	again.tmux("send-keys", "-t", "k", "Enter")
	time.Sleep(300 * time.Millisecond)
	if s := again.screen(); strings.Contains(s, "Verrouiller") {
		t.Fatalf("the right PIN opened maintenance during the lock-out:\n%s", s)
	}
	again.signal(syscall.SIGTERM)
	again.exitStatus()
}

// The demo does not outlive its terminal: a hang-up stops it cleanly,
// the terminal restored and its log closed with shell_stopped; closing
// the terminal itself (the pane killed, the pty gone) ends it too.
func TestE2EDemoEndsWithItsTerminal(t *testing.T) {
	db := filepath.Join(t.TempDir(), "usage.db")
	tm := startTerm(t, 100, 30, "demo", "--db", db)
	tm.waitFor("CAF du Loiret")
	tm.signal(syscall.SIGHUP)
	if code := tm.exitStatus(); code != 0 {
		t.Fatalf("exit status %d after SIGHUP", code)
	}
	tm.restored()

	db2 := filepath.Join(t.TempDir(), "usage.db")
	tm = startTerm(t, 100, 30, "demo", "--db", db2)
	tm.waitFor("CAF du Loiret")
	pid := tm.pid()
	tm.tmux("kill-server")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("borne demo (pid %d) outlived its terminal", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, path := range []string{db, db2} {
		evs := exportEvents(t, path)
		if len(evs) != 2 || evs[0]["kind"] != "shell_started" || evs[1]["kind"] != "shell_stopped" {
			t.Errorf("demo log %s: %v", path, evs)
		}
	}
}
