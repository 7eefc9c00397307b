package process

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
)

func op(args ...string) operators.Operator { return operators.Operator{ID: "caf", Launch: args} }

func waitEnd(t *testing.T, s hw.Session, within time.Duration) hw.SessionEnd {
	t.Helper()
	select {
	case e := <-s.Done():
		return e
	case <-time.After(within):
		t.Fatalf("the session did not end within %v", within)
	}
	return hw.SessionEnd{}
}

// alive tells a running process from a gone or dead one (a zombie
// waiting for init counts as dead).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

func TestEnds(t *testing.T) {
	r := New(Options{Grace: 300 * time.Millisecond})
	ctx := context.Background()

	s, err := r.Start(ctx, op("sh", "-c", "exit 0"))
	if err != nil {
		t.Fatal(err)
	}
	if e := waitEnd(t, s, 5*time.Second); e.Err != nil {
		t.Fatalf("a client that exits by itself: %v", e.Err)
	}

	s, _ = r.Start(ctx, op("sh", "-c", "exit 3"))
	if e := waitEnd(t, s, 5*time.Second); e.Err == nil || !strings.Contains(e.Err.Error(), "exit status 3") {
		t.Fatalf("a client that fails: %v", e.Err)
	}

	// A client that ignores SIGTERM, with a grandchild: End kills the
	// whole group after the grace period, and the end is the shell's.
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pid")
	s, _ = r.Start(ctx, op("sh", "-c", `trap '' TERM; sleep 60 & echo $! > `+pidfile+`; wait; wait`))
	var grandchild int
	for deadline := time.Now().Add(5 * time.Second); grandchild == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(pidfile)
		grandchild, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	start := time.Now()
	if err := s.End(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("SIGKILL came after %v, before the grace period", d)
	}
	if e := waitEnd(t, s, 5*time.Second); e.Err != nil {
		t.Fatalf("an end the shell asked for: %v", e.Err)
	}
	time.Sleep(50 * time.Millisecond)
	if alive(grandchild) {
		syscall.Kill(grandchild, syscall.SIGKILL)
		t.Fatal("the client's child outlived the session")
	}
}

func TestMaxSessionAndReset(t *testing.T) {
	r := New(Options{MaxSession: 200 * time.Millisecond, Slack: 100 * time.Millisecond, Grace: 200 * time.Millisecond})
	s, err := r.Start(context.Background(), op("sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	if e := waitEnd(t, s, 5*time.Second); !errors.Is(e.Err, hw.ErrSessionTimeout) {
		t.Fatalf("end %v, want the timeout", e.Err)
	}

	r = New(Options{})
	a, _ := r.Start(context.Background(), op("sleep", "60"))
	b, _ := r.Start(context.Background(), op("sleep", "60"))
	if err := r.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitEnd(t, a, time.Second)
	waitEnd(t, b, time.Second)
}

func TestPreflightAndEnvironment(t *testing.T) {
	r := New(Options{Environment: []string{"WAYLAND_DISPLAY", "ABSENT"},
		LookupEnv: func(k string) (string, bool) {
			switch k {
			case "WAYLAND_DISPLAY":
				return "wayland-1", true
			case "PATH":
				return os.Getenv("PATH"), true
			}
			return "", false
		}})
	if err := r.Preflight(context.Background(), op("no-such-client-anywhere")); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("preflight of a missing client: %v", err)
	}
	if _, err := r.Start(context.Background(), op()); err == nil {
		t.Fatal("an operator without launch started")
	}
	out := filepath.Join(t.TempDir(), "env")
	s, err := r.Start(context.Background(), op("sh", "-c", "env > "+out))
	if err != nil {
		t.Fatal(err)
	}
	waitEnd(t, s, 5*time.Second)
	b, _ := os.ReadFile(out)
	env := string(b)
	if !strings.Contains(env, "WAYLAND_DISPLAY=wayland-1") || strings.Contains(env, "ABSENT") || strings.Contains(env, "NOTIFY_SOCKET") {
		t.Fatalf("the client's environment:\n%s", env)
	}
	if s.(*Session).PID() <= 0 {
		t.Fatal("no PID")
	}
}
