// Package swaytest starts a real headless sway for tests, as the
// unprivileged user nobody (sway 1.7 refuses to run as root), and runs
// Wayland clients, grim and wtype inside it.
package swaytest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Nobody is the user every program of the test's Wayland session runs as.
const Nobody = 65534

// Sway is a headless sway started by a test.
type Sway struct {
	t      testing.TB
	Dir    string // a folder nobody owns, for configs, scripts and pictures
	Run    string // XDG_RUNTIME_DIR, 0700 and nobody's
	Socket string // SWAYSOCK, the same across restarts
	Config string
	extra  []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	log  *bytes.Buffer
	exit chan struct{}
	// pointer is the virtual pointer Tap needs (see Pointer).
	pointer io.Closer
}

// Need fails the test with a clear message when a program is missing (CI
// installs them all).
func Need(t testing.TB, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is needed for this test and is not installed (apt-get install sway foot grim wtype)", p)
		}
	}
}

// Folder makes a folder nobody owns under the system's temporary folder
// (t.TempDir's parents are root's and closed), removed after the test.
func Folder(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "borne-sway-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, Nobody, Nobody); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Start starts sway on config (a path, readable by nobody) with extra
// environment, and waits for its IPC socket.
func Start(t testing.TB, config string, env ...string) *Sway {
	t.Helper()
	Need(t, "sway")
	dir := Folder(t)
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(run, Nobody, Nobody); err != nil {
		t.Fatal(err)
	}
	s := &Sway{t: t, Dir: dir, Run: run, Socket: filepath.Join(run, "sway-ipc.sock"), Config: config, extra: env}
	t.Cleanup(s.Stop)
	s.start()
	return s
}

// Attr makes a process run as nobody.
func Attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: Nobody, Gid: Nobody}, Setpgid: true}
}

// Env is the environment of a Wayland client in this sway.
func (s *Sway) Env() []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + s.Dir,
		"XDG_RUNTIME_DIR=" + s.Run,
		"WAYLAND_DISPLAY=wayland-1",
		"SWAYSOCK=" + s.Socket,
		"LANG=C.UTF-8",
		"TERM=xterm-256color",
	}
}

func (s *Sway) start() {
	s.t.Helper()
	cmd := exec.Command("sway", "-c", s.Config)
	cmd.Env = append(s.Env(), "WLR_BACKENDS=headless", "WLR_LIBINPUT_NO_DEVICES=1", "WLR_RENDERER=pixman")
	cmd.Env = append(cmd.Env, s.extra...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = Attr()
	log := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &syncWriter{w: log}, &syncWriter{w: log}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("sway did not start: %v", err)
	}
	exit := make(chan struct{})
	go func() { cmd.Wait(); close(exit) }()
	s.mu.Lock()
	s.cmd, s.log, s.exit = cmd, log, exit
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(s.Socket); err == nil {
			return
		}
		select {
		case <-exit:
			s.t.Fatalf("sway stopped at start-up:\n%s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("sway made no IPC socket in 10s:\n%s", s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Log is what sway wrote so far.
func (s *Sway) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Stop stops sway and every client it runs.
func (s *Sway) Stop() {
	s.mu.Lock()
	cmd, exit := s.cmd, s.exit
	s.cmd = nil
	if s.pointer != nil {
		s.pointer.Close()
		s.pointer = nil
	}
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exit:
	case <-time.After(5 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exit
	}
	os.Remove(s.Socket)
}

// Restart stops sway and starts it again on the same socket path.
func (s *Sway) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Command starts a program as nobody inside this Wayland session, in its
// own process group, stopped when the test ends.
func (s *Sway) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = s.Env()
	cmd.Dir = s.Dir
	cmd.SysProcAttr = Attr()
	s.t.Cleanup(func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	return cmd
}

// Screenshot saves the whole output as a PNG with grim.
func (s *Sway) Screenshot(path string) error {
	tmp := filepath.Join(s.Dir, fmt.Sprintf("shot-%d.png", time.Now().UnixNano()))
	if out, err := s.run(10*time.Second, "grim", tmp); err != nil {
		return fmt.Errorf("grim: %v: %s", err, out)
	}
	b, err := os.ReadFile(tmp)
	if err != nil {
		return err
	}
	os.Remove(tmp)
	return os.WriteFile(path, b, 0o644)
}

// Type types text (and keys, as wtype's -k NAME arguments) into the
// focused window.
func (s *Sway) Type(args ...string) error {
	if out, err := s.run(10*time.Second, "wtype", args...); err != nil {
		return fmt.Errorf("wtype %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// run runs a program as nobody in the session, killed after d.
func (s *Sway) run(d time.Duration, name string, args ...string) ([]byte, error) {
	cmd := s.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := time.AfterFunc(d, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer t.Stop()
	err := cmd.Wait()
	return out.Bytes(), err
}

// Commander runs sway commands: hw/sway's Conn (swaytest cannot import
// it, whose tests import swaytest).
type Commander interface {
	Command(ctx context.Context, cmd string) error
}

// Tap touches the screen at (x, y), in the output's pixels, the way a
// finger does for the shell: sway's own seat moves its cursor there and
// presses then releases the first button, and the window under it (foot)
// hears a press and a release at that cell (the seat needs a pointer
// device for that: see Pointer). sway
// leaves a coordinate of 0 unchanged, so 0 becomes 1. c is a connection
// to this sway.
func (s *Sway) Tap(c Commander, x, y int) error {
	if err := s.Pointer(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, cmd := range []string{
		fmt.Sprintf("seat seat0 cursor set %d %d", max(x, 1), max(y, 1)),
		"seat seat0 cursor press button1",
		"seat seat0 cursor release button1",
	} {
		if err := c.Command(ctx, cmd); err != nil {
			return fmt.Errorf("tap at %d,%d: %s: %w", x, y, cmd, err)
		}
	}
	return nil
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
