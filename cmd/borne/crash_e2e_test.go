package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash tests drive a test build of the real binary (crashtest.go:
// F5 to F9 inject faults) in a real terminal.

var (
	crashBinOnce sync.Once
	crashBin     string
	crashBinErr  error
)

func crashBinary(t *testing.T) string {
	t.Helper()
	crashBinOnce.Do(func() {
		crashBin = filepath.Join(filepath.Dir(binary), "borne-crashtest")
		out, err := exec.Command("go", "build", "-tags", "crashtest", "-o", crashBin, ".").CombinedOutput()
		if err != nil {
			crashBinErr = fmt.Errorf("building the crash test binary: %v\n%s", err, out)
		}
	})
	if crashBinErr != nil {
		t.Fatal(crashBinErr)
	}
	return crashBin
}

// startCrashTerm runs the crash test build in a tmux pane with the given
// environment ("K=V" words).
func startCrashTerm(t *testing.T, env []string, args ...string) *term {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed for the end-to-end tests (make deps installs it)")
	}
	tm := &term{t: t, sock: fmt.Sprintf("borne-crash-%d-%d", os.Getpid(), sockets.Add(1)),
		status: filepath.Join(t.TempDir(), "status")}
	script := "TERM=xterm-256color " + strings.Join(env, " ") + ` "$0" "$@"; echo $? > ` + tm.status + `; sleep 600`
	tm.tmux(append([]string{"new-session", "-d", "-s", "k", "-x", "100", "-y", "30",
		"sh", "-c", script, crashBinary(t)}, args...)...)
	t.Cleanup(func() {
		if tm.alive() {
			// SIGHUP is ignored and a hung loop ignores SIGTERM.
			if pid := tm.pidOrZero(); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		exec.Command("tmux", "-L", tm.sock, "kill-server").Run()
	})
	return tm
}

func (tm *term) pidOrZero() int {
	out, err := exec.Command("tmux", "-L", tm.sock, "display-message", "-p", "-t", "k", "#{pane_pid}").Output()
	if err != nil {
		return 0
	}
	sh, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", sh, sh))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// restored checks the pane is back to a plain terminal: no alternate
// screen, no mouse reporting, a visible cursor, and nothing of a crash.
func (tm *term) restored() {
	tm.t.Helper()
	modes := strings.TrimSpace(tm.tmux("display-message", "-p", "-t", "k",
		"#{alternate_on} #{mouse_any_flag} #{mouse_button_flag} #{mouse_sgr_flag} #{cursor_flag}"))
	if modes != "0 0 0 0 1" {
		tm.t.Errorf("terminal modes after the crash (alt-screen, mouse×3, cursor): %s, want 0 0 0 0 1", modes)
	}
	s := tm.screen()
	for _, bad := range []string{"panic", "goroutine", "crashtest", ".go:", "Caught"} {
		if strings.Contains(s, bad) {
			tm.t.Errorf("the screen shows %q after the crash:\n%s", bad, s)
		}
	}
	if strings.Contains(s, "Touchez le service") {
		tm.t.Errorf("the kiosk's screen stayed after the crash:\n%s", s)
	}
}

// A panic in each place (the update loop, a batched command, a command,
// a goroutine of the shell's) restores the terminal, shows nothing, puts
// the stack in the log and exits 70.
func TestCrashRestoresTheTerminal(t *testing.T) {
	places := map[string]string{
		"F5": "panic in the update loop",
		"F6": "panic in a batched command",
		"F7": "panic in a command",
		"F8": "panic in a goroutine",
	}
	for key, what := range places {
		t.Run(key, func(t *testing.T) {
			cfg, db := testConfig(t)
			log := filepath.Join(filepath.Dir(db), "borne.log")
			tm := startCrashTerm(t, []string{"BORNE_LOG=" + log}, "run", "--config", cfg)
			tm.waitFor("Touchez le service")
			tm.tmux("send-keys", "-t", "k", key)
			if code := tm.exitStatus(); code != exitCrash {
				t.Fatalf("exit status %d, want %d:\n%s", code, exitCrash, tm.screen())
			}
			tm.restored()
			b, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"crashtest: " + what, "goroutine ", "crashtest.go:", "the shell crashed"} {
				if !strings.Contains(string(b), want) {
					t.Errorf("the log lacks %q:\n%s", want, b)
				}
			}
			if strings.Contains(string(b), "\r") {
				t.Error("the log keeps raw-mode carriage returns")
			}
			crashes, _ := os.ReadFile(filepath.Join(filepath.Dir(db), "crashes"))
			if !strings.Contains(string(crashes), "crash ") {
				t.Errorf("the crash is not in the history:\n%s", crashes)
			}
		})
	}
}

// After three crashes within five minutes the shell starts on the
// out-of-service screen with the help phone, and keeps recording; crashes
// older than five minutes do not count.
func TestCrashesLeadToTheSafeScreen(t *testing.T) {
	cfg, db := testConfig(t)
	dir := filepath.Dir(db)
	env := []string{"BORNE_LOG=" + filepath.Join(dir, "borne.log")}
	for i := range crashLimit {
		tm := startCrashTerm(t, env, "run", "--config", cfg)
		tm.waitFor("Touchez le service")
		tm.tmux("send-keys", "-t", "k", "F5")
		if code := tm.exitStatus(); code != exitCrash {
			t.Fatalf("crash %d: exit status %d", i+1, code)
		}
	}
	tm := startCrashTerm(t, env, "run", "--config", cfg)
	s := tm.waitFor(safeReason)
	if !strings.Contains(s, "02 38 00 00 00") {
		t.Fatalf("the safe screen does not give the help phone:\n%s", s)
	}
	tm.tapText(safeReason) // nothing to press
	time.Sleep(200 * time.Millisecond)
	if !strings.Contains(tm.screen(), safeReason) {
		t.Fatalf("a touch left the safe screen:\n%s", tm.screen())
	}
	tm.signal(syscall.SIGTERM)
	if code := tm.exitStatus(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
	var kinds []string
	for _, e := range exportEvents(t, db) {
		kinds = append(kinds, e["kind"].(string))
		if e["kind"] == "out_of_service" && e["detail"].(map[string]any)["reason"] != "crashes" {
			t.Errorf("out_of_service: %v", e)
		}
	}
	want := "shell_started shell_stopped shell_started shell_stopped shell_started shell_stopped shell_started out_of_service shell_stopped"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("events: %s\nwant:   %s", got, want)
	}

	// Three crashes six minutes ago are history.
	old := time.Now().Add(-6 * time.Minute).Unix()
	os.WriteFile(filepath.Join(dir, "crashes"), []byte(fmt.Sprintf("crash %d\ncrash %d\ncrash %d\n", old, old+1, old+2)), 0o640)
	tm = startCrashTerm(t, env, "run", "--config", cfg)
	tm.waitFor("Touchez le service")
	if strings.Contains(tm.screen(), safeReason) {
		t.Fatal("old crashes still count")
	}
	tm.signal(syscall.SIGTERM)
	tm.exitStatus()
}

// The real binary says READY=1 and WATCHDOG=1 to systemd while its loop
// runs, and falls silent when the loop hangs (F9), so systemd kills it.
func TestWatchdogStopsWhenTheLoopHangs(t *testing.T) {
	path, states := notifySocket(t)
	cfg, _ := testConfig(t)
	tm := startCrashTerm(t, []string{"NOTIFY_SOCKET=" + path, "WATCHDOG_USEC=400000"}, "run", "--config", cfg)
	expect(t, states, "READY=1", 10*time.Second)
	tm.waitFor("Touchez le service")
	if n := count(states, "WATCHDOG=1", time.Second); n < 5 {
		t.Fatalf("%d pings in a second, want about 10", n)
	}
	tm.tmux("send-keys", "-t", "k", "F9")
	count(states, "WATCHDOG=1", 250*time.Millisecond)
	if n := count(states, "WATCHDOG=1", 1500*time.Millisecond); n != 0 {
		t.Fatalf("%d pings while the loop hangs", n)
	}
	if !tm.alive() {
		t.Fatal("a hang is not a crash: the process stays until systemd kills it")
	}
}

// freePort returns a loopback address nobody listens on (for a moment).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
