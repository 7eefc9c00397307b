package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/tui"
	"github.com/loiret/borne/usage"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// The crash history counts panics, and runs that never said how they
// ended (killed by the watchdog, kill -9, a power cut), within five
// minutes; clean stops are not crashes, and old crashes are forgotten.
func TestCrashHistory(t *testing.T) {
	c := crashFile{path: filepath.Join(t.TempDir(), "crashes"), log: quietLog()}
	t0 := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	if got := c.start(at(0)); len(got) != 0 {
		t.Fatalf("first start: %v", got)
	}
	c.end(at(time.Minute), nil)
	if got := c.start(at(2 * time.Minute)); len(got) != 0 {
		t.Fatalf("after a clean stop: %v", got)
	}
	c.end(at(2*time.Minute+time.Second), errCrash)
	if got := c.start(at(2*time.Minute + 3*time.Second)); len(got) != 1 || !got[0].Equal(at(2*time.Minute+time.Second)) {
		t.Fatalf("after a panic: %v", got)
	}
	// Killed: no end at all; counted when the next run starts.
	if got := c.start(at(2*time.Minute + 40*time.Second)); len(got) != 2 || !got[1].Equal(at(2*time.Minute+40*time.Second)) {
		t.Fatalf("after a kill: %v", got)
	}
	// A failure other than a crash (a back-end that would not start)
	// writes nothing: it counts like a kill.
	c.end(at(2*time.Minute+41*time.Second), errors.New("hardware.backend: no"))
	if got := c.start(at(2*time.Minute + 45*time.Second)); len(got) != crashLimit {
		t.Fatalf("third crash: %v", got)
	}
	c.end(at(3*time.Minute), nil)
	// Five minutes after the first of them, it is forgotten.
	if got := c.start(at(7*time.Minute + 2*time.Second)); len(got) != 2 {
		t.Fatalf("window: %v", got)
	}
	c.end(at(8*time.Minute), nil)
	if got := c.start(at(20 * time.Minute)); len(got) != 0 {
		t.Fatalf("long after: %v", got)
	}
	b, _ := os.ReadFile(c.path)
	if strings.Count(string(b), "\n") != 1 {
		t.Fatalf("the history keeps what it no longer needs:\n%s", b)
	}

	// A line cut short by a power cut is skipped.
	os.WriteFile(c.path, []byte("crash 1800001190\nsta"), 0o640)
	if got := c.start(at(20*time.Minute + time.Second)); len(got) != 1 {
		t.Fatalf("torn file: %v", got)
	}
	// A folder that cannot be written does not stop the kiosk.
	bad := crashFile{path: filepath.Join(t.TempDir(), "missing", "crashes"), log: quietLog()}
	if got := bad.start(t0); len(got) != 0 {
		t.Fatalf("unwritable: %v", got)
	}
	bad.end(t0, errCrash)
}

// Under a compositor the shell's standard error is the terminal on screen:
// its log goes to the journal's stream socket instead, as an entry
// stream named "borne".
func TestJournalStream(t *testing.T) {
	dir, err := os.MkdirTemp("", "journal")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	old := journalStreamPath
	journalStreamPath = filepath.Join(dir, "stdout")
	defer func() { journalStreamPath = old }()
	ln, err := net.Listen("unix", journalStreamPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(bufio.NewReader(c))
		got <- string(b)
	}()
	f, err := journalStream("borne")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("panic: boom\ngoroutine 1 [running]:\n")
	f.Close()
	want := "borne\n\n6\n0\n0\n0\n0\npanic: boom\ngoroutine 1 [running]:\n"
	if s := <-got; s != want {
		t.Fatalf("journal got %q, want %q", s, want)
	}
}

// $BORNE_LOG wins; else a standard error that is not a terminal (the
// journal under the console unit, a pipe in this test) is the log.
func TestOpenLogSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "borne.log")
	e := env{getenv: func(k string) string {
		if k == "BORNE_LOG" {
			return path
		}
		return ""
	}}
	f := e.openLogSink()
	if f.Name() != path {
		t.Fatalf("log: %s, want %s", f.Name(), path)
	}
	f.Close()
	e.getenv = func(string) string { return "" }
	if f := e.openLogSink(); f != os.Stderr && f.Name() != os.DevNull {
		t.Fatalf("log: %s", f.Name())
	}
}

// After five minutes on the safe screen the shell stops cleanly, so that
// systemd starts it afresh in service; not while an agent is in
// maintenance, whom it waits for.
func TestLeaveSafeMode(t *testing.T) {
	cfg := config.Demo()
	ops, err := cfg.ResolveOperators()
	if err != nil {
		t.Fatal(err)
	}
	unlock := func(context.Context, string) (usage.Attempt, error) { return usage.Attempt{}, nil }
	m := tui.New(tui.Deps{Config: cfg, Operators: ops, HW: noHardware(), Logger: quietLog(),
		Maint: tui.Maintenance{Unlock: unlock}})
	var recorded []string
	s := newSupervisor(env{getenv: func(string) string { return "" }}, newGuard(os.Stderr, quietLog()), quietLog(),
		[]time.Time{time.Now(), time.Now(), time.Now()}, func(kind string, _ map[string]any) { recorded = append(recorded, kind) })
	if s.safe != 3 {
		t.Fatalf("three crashes: safe = %d", s.safe)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.p = tea.NewProgram(m, tea.WithContext(ctx)) // never runs: Send returns at once
	filter := s.filter(tui.Filter)

	if msg := filter(m, leaveSafeMode{}); msg != (tui.StopMsg{}) {
		t.Fatalf("on the safe screen: %#v, want a stop", msg)
	}
	if len(recorded) != 1 || recorded[0] != usage.KindBackInService {
		t.Fatalf("recorded %v", recorded)
	}

	pad, _ := m.Update(tea.KeyPressMsg{Code: tea.KeyF12})
	if pad.(tui.Model).Screen() != "pin" {
		t.Fatalf("F12 opened %q", pad.(tui.Model).Screen())
	}
	if msg := filter(pad, leaveSafeMode{}); msg != nil {
		t.Fatalf("an agent at the PIN pad was thrown out: %#v", msg)
	}
	if msg := filter(m, watchdogPing{}); msg != nil {
		t.Fatalf("a watchdog ping reached the interface: %#v", msg)
	}
}

// No crash history can keep the kiosk out of service or hold up its
// start: whatever is at the path is read without blocking, a little at
// most, lines from the future count for nothing, and the file is
// replaced by a plain one at the start.
func TestCrashHistoryFromHostileFiles(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	future := ""
	for i := range 3 {
		future += "crash " + strconv.FormatInt(now.Add(time.Duration(400*24+i)*time.Hour).Unix(), 10) + "\n"
	}
	write := func(data string) func(string) error {
		return func(p string) error { return os.WriteFile(p, []byte(data), 0o640) }
	}
	cases := map[string]func(string) error{
		"empty":                  write(""),
		"garbled":                write("\x00\xff crash crash\nstart -\n"),
		"future-dated":           write(future),
		"huge":                   write(strings.Repeat("crash 1\n", 1<<18)),
		"a FIFO":                 func(p string) error { return syscall.Mkfifo(p, 0o640) },
		"a dangling symlink":     func(p string) error { return os.Symlink(p+".nowhere", p) },
		"a symlink to /dev/zero": func(p string) error { return os.Symlink("/dev/zero", p) },
		"/dev/zero itself":       func(p string) error { return syscall.Mknod(p, syscall.S_IFCHR|0o640, 1<<8|5) },
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			c := crashFile{path: filepath.Join(t.TempDir(), "crashes"), log: quietLog()}
			if err := mk(c.path); err != nil {
				t.Fatal(err)
			}
			done := make(chan []time.Time, 1)
			go func() { done <- c.start(now) }()
			select {
			case got := <-done:
				if len(got) != 0 {
					t.Errorf("crashes %v from %s", got, name)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the start hangs on the crash history")
			}
			fi, err := os.Lstat(c.path)
			if err != nil || !fi.Mode().IsRegular() || fi.Size() > 100 {
				t.Fatalf("after the start: %v %v", fi, err)
			}
			// Three clean restarts later: in service all along.
			for i := range 3 {
				at := now.Add(time.Duration(i+1) * time.Minute)
				c.end(at, nil)
				if got := c.start(at.Add(time.Second)); len(got) != 0 {
					t.Fatalf("restart %d: crashes %v", i, got)
				}
			}
		})
	}
	// end never writes through a link, nor waits on a FIFO.
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, nil, 0o640)
	c := crashFile{path: filepath.Join(dir, "crashes"), log: quietLog()}
	os.Symlink(target, c.path)
	c.end(now, errCrash)
	if b, _ := os.ReadFile(target); len(b) != 0 {
		t.Errorf("end wrote through a symlink: %q", b)
	}
	fifo := crashFile{path: filepath.Join(dir, "fifo"), log: quietLog()}
	syscall.Mkfifo(fifo.path, 0o640)
	ended := make(chan struct{})
	go func() { fifo.end(now, errCrash); close(ended) }()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("end hangs on a FIFO")
	}
}

// A clock stepped back makes the history's lines future: they are no
// crashes.
func TestCrashHistoryClockSteppedBack(t *testing.T) {
	c := crashFile{path: filepath.Join(t.TempDir(), "crashes"), log: quietLog()}
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 3 {
		c.start(t0.Add(time.Duration(i) * time.Second))
		c.end(t0.Add(time.Duration(i)*time.Second+time.Millisecond), errCrash)
	}
	if got := c.start(t0.Add(10 * time.Second)); len(got) != crashLimit {
		t.Fatalf("three crashes: %v", got)
	}
	c.end(t0.Add(11*time.Second), nil)
	if got := c.start(t0.Add(-2 * time.Hour)); len(got) != 0 {
		t.Errorf("after the clock went back two hours: %v", got)
	}
}

// The real kiosk, its state files replaced by a FIFO and /dev/zero: it
// draws its first frame and takes a PIN as ever.
func TestRunWithHostileStateFiles(t *testing.T) {
	cfg, db := testConfig(t)
	dir := filepath.Dir(db)
	if err := syscall.Mkfifo(filepath.Join(dir, "crashes"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "maintenance-attempts")); err != nil {
		t.Fatal(err)
	}
	tm := startTerm(t, 100, 30, "run", "--config", cfg)
	tm.waitFor("Touchez le service")
	tm.tmux("send-keys", "-t", "k", "F12")
	tm.waitFor("entrez le code")
	// The unreadable attempts file counts as one lock-out, 30 s at most.
	tm.waitUntil("the pad says it is locked, then unlocks", func(s string) bool {
		return !strings.Contains(s, "Vérification")
	})
	if fi, err := os.Lstat(filepath.Join(dir, "maintenance-attempts")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the attempts file was not rewritten: %v %v", fi, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "crashes")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the crash history was not rewritten: %v %v", fi, err)
	}
}

func TestPINCheckHonoursItsDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	block := make(chan struct{})
	defer close(block)
	start := time.Now()
	_, err := withDeadline(ctx, func() (usage.Attempt, error) { <-block; return usage.Attempt{OK: true}, nil })
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("err %v after %v", err, time.Since(start))
	}
}
