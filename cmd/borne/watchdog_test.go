package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// notifySocket listens where a unit's NOTIFY_SOCKET would be and passes on
// each state it receives.
func notifySocket(t *testing.T) (path string, states <-chan string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "notify") // short: a socket path has 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch := make(chan string, 1000)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return path, ch
}

// expect waits for state, failing after d.
func expect(t *testing.T, states <-chan string, state string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case s := <-states:
			if s == state {
				return
			}
		case <-deadline:
			t.Fatalf("no %s within %v", state, d)
		}
	}
}

// count counts state during d.
func count(states <-chan string, state string, d time.Duration) int {
	n := 0
	deadline := time.After(d)
	for {
		select {
		case s := <-states:
			if s == state {
				n++
			}
		case <-deadline:
			return n
		}
	}
}

// loopModel is a program whose Update can be made to hang.
type loopModel struct{ hang chan struct{} }

type hangMsg struct{}

func (m loopModel) Init() tea.Cmd { return nil }
func (m loopModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if _, ok := msg.(hangMsg); ok {
		<-m.hang
	}
	return m, nil
}
func (m loopModel) View() tea.View { return tea.NewView("kiosk") }

// READY=1 once the loop runs, then WATCHDOG=1 while it answers; none while
// Update hangs, and again once it is back.
func TestWatchdogFollowsTheLoop(t *testing.T) {
	path, states := notifySocket(t)
	getenv := func(k string) string {
		switch k {
		case "NOTIFY_SOCKET":
			return path
		case "WATCHDOG_USEC":
			return "200000" // a ping every 50 ms
		case "WATCHDOG_PID":
			return strconv.Itoa(os.Getpid())
		}
		return ""
	}
	wd := newWatchdog(getenv, t.Logf)
	if wd.every != 50*time.Millisecond {
		t.Fatalf("every %v", wd.every)
	}
	m := loopModel{hang: make(chan struct{})}
	p := tea.NewProgram(m, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithoutSignalHandler(),
		tea.WithFilter(func(_ tea.Model, msg tea.Msg) tea.Msg {
			if wd.answer(msg) {
				return nil
			}
			return msg
		}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { p.Run(); close(done) }()
	go wd.run(ctx, p.Send)

	expect(t, states, "READY=1", 2*time.Second)
	if n := count(states, "WATCHDOG=1", 500*time.Millisecond); n < 5 {
		t.Fatalf("%d pings in 500 ms while the loop runs, want about 10", n)
	}

	p.Send(hangMsg{})
	count(states, "WATCHDOG=1", 120*time.Millisecond) // the ping already answered
	if n := count(states, "WATCHDOG=1", 600*time.Millisecond); n != 0 {
		t.Fatalf("%d pings while Update hangs", n)
	}

	close(m.hang)
	expect(t, states, "WATCHDOG=1", time.Second)
	p.Quit()
	<-done
}

// WATCHDOG_PID names the unit's main process: the shell, or under sway an
// ancestor; a variable from elsewhere leaves the watchdog off.
func TestWatchdogEvery(t *testing.T) {
	env := func(usec, pid string) func(string) string {
		return func(k string) string {
			switch k {
			case "WATCHDOG_USEC":
				return usec
			case "WATCHDOG_PID":
				return pid
			}
			return ""
		}
	}
	self, parent := strconv.Itoa(os.Getpid()), strconv.Itoa(os.Getppid())
	cases := []struct {
		usec, pid string
		want      time.Duration
	}{
		{"30000000", self, 7500 * time.Millisecond},
		{"30000000", "", 7500 * time.Millisecond},
		{"30000000", parent, 7500 * time.Millisecond},
		{"30000000", "999999999", 0},
		{"", self, 0},
		{"soon", self, 0},
		{"0", self, 0},
	}
	for _, c := range cases {
		if got := watchdogEvery(env(c.usec, c.pid)); got != c.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, want %v", c.usec, c.pid, got, c.want)
		}
	}
	if sdNotifier(env("", "")) != nil {
		t.Error("a notifier without NOTIFY_SOCKET")
	}
}
