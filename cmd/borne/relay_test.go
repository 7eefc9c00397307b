package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// said is one sd_notify datagram and the process that sent it, as the
// kernel vouches (SO_PASSCRED): what systemd looks at.
type said struct {
	state string
	pid   int32
}

func credSocket(t *testing.T) (string, <-chan said) {
	t.Helper()
	dir, err := os.MkdirTemp("", "notify")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	raw.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) })
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan said, 1000)
	go func() {
		buf, oob := make([]byte, 4096), make([]byte, 1024)
		for {
			n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			if err != nil {
				close(ch)
				return
			}
			s := said{state: string(buf[:n]), pid: -1}
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) > 0 {
				if cred, err := unix.ParseUnixCredentials(&msgs[0]); err == nil {
					s.pid = cred.Pid
				}
			}
			ch <- s
		}
	}()
	return path, ch
}

// The kiosk unit's chain: the relay, a process in between (sway and foot
// on a box, a shell here), then the kiosk. systemd hears READY=1 and the
// watchdog's pings from the relay itself, the only process it believes
// once PAM has moved the unit's processes into the user's session; SIGTERM
// to the relay stops the kiosk cleanly and the relay ends with its status.
func TestRelaySpeaksAsTheMainProcess(t *testing.T) {
	path, states := credSocket(t)
	cfg, _ := testConfig(t)
	tm := startTermEnv(t, 100, 30, []string{"NOTIFY_SOCKET=" + path, "WATCHDOG_USEC=400000"},
		"relay", "--", "/bin/sh", "-c", `"$0" run --config "$1"; exit $?`, binary, cfg)
	tm.waitFor("Touchez le service")
	relay := int32(tm.pid())
	heard := map[string]int{}
	deadline := time.After(2 * time.Second)
	for done := false; !done; {
		select {
		case s := <-states:
			if s.pid != relay {
				t.Fatalf("%q came from pid %d, not the relay's %d", s.state, s.pid, relay)
			}
			heard[s.state]++
		case <-deadline:
			done = true
		}
	}
	if heard["READY=1"] != 1 || heard["WATCHDOG=1"] < 5 {
		t.Fatalf("heard %v: want READY=1 once and about ten pings a second", heard)
	}
	tm.signal(syscall.SIGTERM)
	if code := tm.exitStatus(); code != 0 {
		t.Fatalf("the relay ended with %d after SIGTERM", code)
	}
}

// The relay ends as its command did: its exit status, or 128 + the signal
// that killed it; without NOTIFY_SOCKET it only runs the command.
func TestRelayExitStatus(t *testing.T) {
	for script, want := range map[string]int{"exit 0": 0, "exit 3": 3, "kill -KILL $$": 128 + 9} {
		err := exec.Command(binary, "relay", "--", "/bin/sh", "-c", script).Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Errorf("%s: relay ended with %d, want %d", script, code, want)
		}
	}
	if err := exec.Command(binary, "relay", "/bin/true").Run(); err == nil {
		t.Error("relay without -- ran")
	}
}
