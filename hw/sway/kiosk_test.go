package sway

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/process"
	"github.com/loiret/borne/hw/sway/swaytest"
	"github.com/loiret/borne/operators"
)

// ShippedConfig is deploy/sway/borne.conf with only its paths changed:
// foot's config, and the shell's command.
func shippedConfig(t *testing.T, dir, footIni, shell string) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/sway/borne.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("/etc/borne/foot.ini", footIni, "/usr/bin/borne run", shell).Replace(string(b))
	if conf == string(b) {
		t.Fatal("the shipped sway config no longer names foot.ini or the shell")
	}
	path := filepath.Join(dir, "sway.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type kioskRig struct {
	t     *testing.T
	s     *swaytest.Sway
	k     *Kiosk
	shell int // the stand-in shell's PID
	c     *Conn
}

// newKioskRig starts sway on the shipped config, with a stand-in shell
// (a script that sleeps in foot), and the kiosk's layout on it.
func newKioskRig(t *testing.T) *kioskRig {
	swaytest.Need(t, "sway", "foot")
	dir := swaytest.Folder(t)
	foot, err := os.ReadFile("../../deploy/foot/foot.ini")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "foot.ini"), foot, 0o644)
	pidfile := filepath.Join(dir, "shell.pid")
	script := filepath.Join(dir, "shell.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho $$ > "+pidfile+"\nexec sleep 600\n"), 0o755)
	s := swaytest.Start(t, shippedConfig(t, dir, filepath.Join(dir, "foot.ini"), script))
	var pid int
	for deadline := time.Now().Add(15 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(pidfile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		if time.Now().After(deadline) {
			t.Fatalf("the shell never ran in foot:\n%s", s.Log())
		}
	}
	k := New(Options{Socket: func() string { return s.Socket }, ShellPID: pid, Bar: 0.2, Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Backoff: Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}})
	t.Cleanup(func() { k.Close() })
	c, err := Dial(context.Background(), s.Socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &kioskRig{t: t, s: s, k: k, shell: pid, c: c}
}

// windows reads the layout: app_id → rectangle.
func (r *kioskRig) windows() map[string]Rect {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	tree, err := r.c.Tree(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]Rect{}
	for _, w := range tree.Windows() {
		out[w.AppID] = w.Rect
	}
	return out
}

// waitLayout waits until the windows are exactly want.
func (r *kioskRig) waitLayout(what string, want map[string]Rect) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := r.windows()
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: windows %v, want %v", what, got, want)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func (r *kioskRig) swaymsg(cmd string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.c.Command(ctx, cmd); err != nil {
		r.t.Fatal(err)
	}
}

var (
	full   = Rect{0, 0, 1280, 720}
	top    = Rect{0, 0, 1280, 576}
	bottom = Rect{0, 576, 1280, 144}
)

func TestKioskLayout(t *testing.T) {
	r := newKioskRig(t)
	r.waitLayout("the shell alone", map[string]Rect{"borne": full})

	// Anything else that opens a window is closed.
	intruder := r.s.Command("foot", "--app-id=intruder", "sleep", "60")
	if err := intruder.Start(); err != nil {
		t.Fatal(err)
	}
	intruder.Wait()
	r.waitLayout("after an intruder", map[string]Rect{"borne": full})

	runner := process.New(process.Options{Environment: []string{"XDG_RUNTIME_DIR", "WAYLAND_DISPLAY"},
		LookupEnv: lookup(r.s.Env()), Attr: swaytest.Attr(), Grace: time.Second})
	sessions := r.k.Sessions(runner)
	// The client's process outlives its window, as a browser can.
	video := operators.Operator{ID: "caf", Launch: []string{"sh", "-c", "foot --app-id=video -o colors.background=ff00ff sleep 600; exec sleep 600"}}
	start := func() hw.Session {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := sessions.Start(ctx, video)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	inCall := map[string]Rect{"borne": bottom, "video": top}

	// The citizen ends the call: the shell's window is whole again before
	// the end is reported.
	s := start()
	r.waitLayout("in a call", inCall)
	r.swaymsg("[app_id=video] fullscreen enable")
	r.waitLayout("after the client went full screen", inCall)
	r.swaymsg("[app_id=borne] fullscreen enable")
	r.waitLayout("after the shell went full screen", inCall)
	go s.End(context.Background())
	waitDone(t, s)
	if got := r.windows()["borne"]; got != full {
		t.Fatalf("the end was reported with the shell at %v", got)
	}
	r.waitLayout("after the call", map[string]Rect{"borne": full})

	// The client's window closes while its process lives on: the session
	// ends.
	s = start()
	r.waitLayout("in a second call", inCall)
	r.swaymsg("[app_id=video] kill")
	if e := waitDone(t, s); e.Err != nil {
		t.Fatalf("a closed window ends the call cleanly; got %v", e.Err)
	}
	r.waitLayout("after the window closed", map[string]Rect{"borne": full})
}

// TestKioskPower: the output is switched off and on with the words of
// the running sway's version.
func TestKioskPower(t *testing.T) {
	r := newKioskRig(t)
	r.waitLayout("the shell alone", map[string]Rect{"borne": full})
	if got := r.k.powerCommand(false); got != "output * dpms off" {
		t.Fatalf("sway 1.7 switches off with %q", got)
	}
	ctx := context.Background()
	if err := r.k.Power(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := r.k.Power(ctx, true); err != nil {
		t.Fatal(err)
	}
	r.k.mu.Lock()
	r.k.version = Version{Major: 1, Minor: 8}
	r.k.mu.Unlock()
	if got := r.k.powerCommand(true); got != "output * power on" {
		t.Fatalf("sway 1.8 switches on with %q", got)
	}
}

func waitDone(t *testing.T, s hw.Session) hw.SessionEnd {
	t.Helper()
	select {
	case e := <-s.Done():
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("the session never ended")
	}
	return hw.SessionEnd{}
}

func lookup(env []string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v, true
			}
		}
		return "", false
	}
}
