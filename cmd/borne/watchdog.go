package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	tea "charm.land/bubbletea/v2"
)

// The systemd watchdog restarts a shell whose interface hangs. Pinging it
// from a timer would only prove the timer runs; so each WATCHDOG=1 is sent
// only after the program's own loop (the goroutine that runs Update and
// View) has answered the previous ping. A blocked Update stops the pings,
// and systemd kills the shell WatchdogSec after the last one.

// watchdogPing goes through the program's loop; the filter answers it
// before Update sees it.
type watchdogPing struct{}

// notifier sends one sd_notify state ("READY=1", "WATCHDOG=1").
type notifier func(state string) error

// sdNotifier returns the notifier for $NOTIFY_SOCKET, or nil when the
// shell does not run under a unit that listens.
func sdNotifier(getenv func(string) string) notifier {
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // an abstract socket
	}
	addr := &net.UnixAddr{Name: path, Net: "unixgram"}
	return func(state string) error {
		c, err := net.DialUnix("unixgram", nil, addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte(state))
		return err
	}
}

// watchdogEvery is how often the shell must prove it is alive: a quarter of
// $WATCHDOG_USEC (systemd asks for half at least; a quarter bounds the
// time from a hang to the restart at 1.25 WatchdogSec). Zero means no
// watchdog. $WATCHDOG_PID names the unit's main process: the shell itself
// under the console unit, the compositor that runs the terminal that runs
// the shell under the kiosk unit (sway); a variable inherited from anything else is
// not the shell's.
func watchdogEvery(getenv func(string) string) time.Duration {
	usec, err := strconv.ParseUint(getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec == 0 {
		return 0
	}
	if s := getenv("WATCHDOG_PID"); s != "" {
		pid, err := strconv.Atoi(s)
		if err != nil || !selfOrAncestor(pid) {
			return 0
		}
	}
	return time.Duration(usec) * time.Microsecond / 4
}

// selfOrAncestor tells whether pid is this process or one it descends from.
func selfOrAncestor(pid int) bool {
	p := os.Getpid()
	for range 16 {
		if p == pid {
			return true
		}
		if p <= 1 {
			return false
		}
		p = parentOf(p)
	}
	return false
}

func parentOf(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid …: comm may hold spaces and parentheses.
	f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(string(f[1]))
	return ppid
}

type watchdog struct {
	notify notifier
	every  time.Duration
	acks   chan struct{}
	log    func(msg string, args ...any)
}

func newWatchdog(getenv func(string) string, log func(string, ...any)) *watchdog {
	return &watchdog{notify: sdNotifier(getenv), every: watchdogEvery(getenv), acks: make(chan struct{}, 1), log: log}
}

// answer is called by the program's filter, on the loop's goroutine.
func (w *watchdog) answer(msg tea.Msg) bool {
	if _, ok := msg.(watchdogPing); !ok {
		return false
	}
	select {
	case w.acks <- struct{}{}:
	default:
	}
	return true
}

// run says READY=1 once the loop answers its first ping (the first frame
// is drawn by then), then WATCHDOG=1 each period in which the loop answered.
// At most one ping waits in the loop: send blocks while the loop is stuck.
func (w *watchdog) run(ctx context.Context, send func(tea.Msg)) {
	if w.notify == nil {
		return
	}
	ping := func() { go send(watchdogPing{}) }
	ping()
	select {
	case <-w.acks:
	case <-ctx.Done():
		return
	}
	w.say("READY=1")
	if w.every == 0 {
		return
	}
	w.say("WATCHDOG=1")
	ping()
	t := time.NewTicker(w.every)
	defer t.Stop()
	late := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case <-w.acks:
			w.say("WATCHDOG=1")
			ping()
			late = false
		default:
			if !late {
				w.log("the interface has not answered the watchdog for " + w.every.String() + "; systemd restarts the shell if it does not answer soon")
				late = true
			}
		}
	}
}

func (w *watchdog) say(state string) {
	if err := w.notify(state); err != nil {
		w.log(fmt.Sprintf("sd_notify %s: %v", state, err))
	}
}

// stopping tells systemd the shell is on its way out, so a slow stop is
// not taken for a hang.
func (w *watchdog) stopping() {
	if w.notify != nil {
		w.notify("STOPPING=1")
	}
}
