// Package dbustest runs the kiosk's D-Bus back-ends against the real
// thing, minus the machine: private dbus-daemon processes standing in for
// the system and session buses, and fake services in Go that own the real
// names (org.freedesktop.systemd1, org.freedesktop.login1,
// com.ddcutil.DdcutilService, org.freedesktop.portal.Desktop), export the
// real paths and signatures, record every call and emit the real signals.
//
// The production code runs unchanged: New points DBUS_SYSTEM_BUS_ADDRESS
// and DBUS_SESSION_BUS_ADDRESS at the private daemons. Buses and fakes can
// be killed and brought back to test what the kiosk does when its
// services come and go.
package dbustest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Bus is one private dbus-daemon. Its address stays the same across
// Kill and Start, as /run/dbus/system_bus_socket does across a restart of
// the real one.
type Bus struct {
	Kind string // "system" or "session"
	// Addr is the address clients use: the socket path without the
	// daemon's guid, so it stays valid when the daemon is restarted.
	Addr string

	t    testing.TB
	dir  string
	sock string
	conf string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *bytes.Buffer
}

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>%s</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
`

// StartBus starts a private bus daemon of the given kind; it is killed
// when the test ends.
func StartBus(t testing.TB, kind string) *Bus {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Fatalf("dbus-daemon is needed for these tests (Debian package dbus-daemon): %v", err)
	}
	// Socket paths are limited to 108 bytes: t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "borne-bus-")
	if err != nil {
		t.Fatal(err)
	}
	b := &Bus{Kind: kind, t: t, dir: dir, sock: filepath.Join(dir, "bus"), conf: filepath.Join(dir, "bus.conf")}
	b.Addr = "unix:path=" + b.sock
	if err := os.WriteFile(b.conf, []byte(fmt.Sprintf(busConfig, kind, b.sock)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Kill()
		os.RemoveAll(dir)
	})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	return b
}

// Start starts the daemon again after Kill (or the first time).
func (b *Bus) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return fmt.Errorf("%s bus already running", b.Kind)
	}
	os.Remove(b.sock)
	cmd := exec.Command("dbus-daemon", "--nofork", "--print-address=1", "--config-file="+b.conf)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	b.stderr = new(bytes.Buffer)
	cmd.Stderr = b.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dbus-daemon: %w", err)
	}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		for s.Scan() { // keep the pipe drained
		}
	}()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	select {
	case l, ok := <-line:
		if !ok || !strings.HasPrefix(l, "unix:") {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("dbus-daemon gave no address: %s", b.stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("dbus-daemon did not start: %s", b.stderr.String())
	}
	b.cmd, b.exited = cmd, exited
	return nil
}

// Kill kills the daemon outright, as when the bus dies: every connection
// to it breaks.
func (b *Bus) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Kill()
	<-b.exited
	b.cmd, b.exited = nil, nil
}

// Running tells whether the daemon is up.
func (b *Bus) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cmd != nil
}

// Dial opens a private connection to the bus, closed at the end of the
// test.
func (b *Bus) Dial() (*dbus.Conn, error) {
	return dial(b.Addr)
}

func dial(addr string, opts ...dbus.ConnOption) (*dbus.Conn, error) {
	conn, err := dbus.Dial(addr, opts...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Env is a whole test machine: a system bus and a session bus, with the
// environment pointing at them.
type Env struct {
	System, Session *Bus
}

// New starts both buses and points the D-Bus environment variables at
// them for the rest of the test (so the test cannot be parallel).
func New(t testing.TB) *Env {
	t.Helper()
	e := &Env{System: StartBus(t, "system"), Session: StartBus(t, "session")}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", e.System.Addr)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", e.Session.Addr)
	return e
}

// Getenv answers like os.Getenv on a machine whose buses are e's: for
// code under test that takes its environment as a function.
func (e *Env) Getenv(name string) string {
	switch name {
	case "DBUS_SYSTEM_BUS_ADDRESS":
		return e.System.Addr
	case "DBUS_SESSION_BUS_ADDRESS":
		return e.Session.Addr
	}
	return os.Getenv(name)
}

// Eventually waits until cond holds, checking often, and fails the test
// with what when timeout passes first.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
