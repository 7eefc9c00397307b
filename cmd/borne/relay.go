package main

// `borne relay -- COMMAND…` is the main process of the kiosk unit. Under a
// unit with PAMName=, pam_systemd moves the unit's processes into the
// kiosk user's session scope, and systemd then takes sd_notify messages
// only from the main process itself: the shell, two processes below it
// (sway, then foot), could never say READY=1, and the unit never started.
// The relay runs the command with NOTIFY_SOCKET pointing at a socket of its
// own, and says what the shell says, as the main process. It passes
// SIGTERM on (to the shell first, so that it stops cleanly, then to the
// command) and ends with the command's status. The command dies with the
// relay; what is left of the session, logind ends (KillOnlyUsers=borne).

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// relayed are the states the relay passes on: the shell's, nothing else.
var relayed = []string{"READY=1", "WATCHDOG=1", "STOPPING=1"}

// exitStatus ends borne with a command's own status, silently.
type exitStatus int

func (e exitStatus) Error() string { return "exit status " + strconv.Itoa(int(e)) }

func (e env) relayCmd(args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		return helpFor("relay", nil)
	}
	ignoreTerminal()
	if len(args) < 2 || args[0] != "--" {
		return usagef("relay: usage: borne relay -- COMMAND [ARGS…]")
	}
	up := sdNotifier(e.getenv)
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	if up != nil {
		sock, closeSock, err := relaySocket(up, e.getenv)
		if err != nil {
			return fmt.Errorf("relay: %w", err)
		}
		defer closeSock()
		cmd.Env = append(withoutVars(cmd.Env, "NOTIFY_SOCKET", "WATCHDOG_PID"),
			"NOTIFY_SOCKET="+sock, "WATCHDOG_PID="+strconv.Itoa(os.Getpid()))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	exited := make(chan struct{})
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		stopTree(cmd.Process, exited, relayStopGrace)
	}()
	err := cmd.Wait()
	close(exited)
	signal.Stop(term)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return exitStatus(128 + int(ws.Signal()))
		}
		return exitStatus(ee.ExitCode())
	}
	return fmt.Errorf("relay: %w", err)
}

// relayStopGrace is how long the shell has to stop by itself before the
// command is told to stop (systemd's TimeoutStopSec is 10 s).
const relayStopGrace = 5 * time.Second

// stopTree sends SIGTERM to the innermost processes below p (the shell,
// not sway or foot, whose end would pull its terminal from under it),
// then, if p has not ended within grace, to p.
func stopTree(p *os.Process, exited <-chan struct{}, grace time.Duration) {
	for _, pid := range leaves(p.Pid) {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	select {
	case <-exited:
	case <-time.After(grace):
		p.Signal(syscall.SIGTERM)
	}
}

// leaves lists the processes below root that have no children of their own.
func leaves(root int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if ppid := parentOf(pid); ppid > 0 {
			children[ppid] = append(children[ppid], pid)
		}
	}
	var out []int
	var walk func(int)
	walk = func(pid int) {
		if len(children[pid]) == 0 {
			out = append(out, pid)
			return
		}
		for _, c := range children[pid] {
			walk(c)
		}
	}
	walk(root)
	return out
}

// relaySocket listens on a datagram socket in a folder only this user can
// enter, and passes the relayed states it receives to up.
func relaySocket(up notifier, getenv func(string) string) (path string, closeFn func(), err error) {
	base := getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "borne-notify-")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			for _, state := range strings.Split(string(buf[:n]), "\n") {
				if isRelayed(state) {
					up(state)
				}
			}
		}
	}()
	return path, func() { conn.Close(); os.RemoveAll(dir) }, nil
}

func isRelayed(state string) bool { return slices.Contains(relayed, state) }

func withoutVars(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}
