package browser_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/browser"
	"github.com/loiret/borne/operators"
)

// recorder is a runner that records what it is asked to start.
type recorder struct {
	started   []operators.Operator
	preflight []operators.Operator
}

func (r *recorder) Start(ctx context.Context, op operators.Operator) (hw.Session, error) {
	r.started = append(r.started, op)
	return nil, errors.New("not started")
}

func (r *recorder) Preflight(ctx context.Context, op operators.Operator) error {
	r.preflight = append(r.preflight, op)
	return nil
}

func TestArgv(t *testing.T) {
	rec := &recorder{}
	s, err := browser.New(rec, browser.Options{Command: "/bin/true", Flags: []string{"--force-device-scale-factor=1.5"}, Wayland: true, ProfileRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	op := operators.Operator{ID: "caf", VisioURL: "https://visio.caf.example.fr/loiret", VisioEnd: []string{"https://visio.caf.example.fr/bye"}}
	argv := s.Argv(op, "/run/user/1000/borne-browser/call-1")
	want := []string{"/bin/true", "--user-data-dir=/run/user/1000/borne-browser/call-1", "--app=https://visio.caf.example.fr/loiret",
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--password-store=basic", "--remote-debugging-port=0", "--ozone-platform=wayland", "--force-device-scale-factor=1.5"}
	if !slices.Equal(argv, want) {
		t.Errorf("argv\n%q\nwant\n%q", argv, want)
	}
	for _, a := range argv {
		if strings.Contains(a, "kiosk") || strings.Contains(a, "fullscreen") {
			t.Errorf("%s: an app window, not fullscreen: sway lays it out beside the call bar", a)
		}
	}

	// The runner sees a native client whose command is the browser; a
	// failed start leaves no profile.
	if _, err := s.Start(context.Background(), op); err == nil {
		t.Fatal("started")
	}
	got := rec.started[0]
	if got.IsVisio() || len(got.Launch) != len(want) || got.Launch[0] != "/bin/true" || !strings.HasPrefix(got.Launch[1], "--user-data-dir=") {
		t.Errorf("runner asked to start %+v", got)
	}
	// A native client goes straight to the runner.
	native := operators.Operator{ID: "x", Launch: []string{"/usr/bin/partner"}}
	s.Start(context.Background(), native)
	if !slices.Equal(rec.started[1].Launch, native.Launch) {
		t.Errorf("native client: %+v", rec.started[1])
	}
	if err := s.Preflight(context.Background(), op); err != nil || rec.preflight[0].Launch[0] != "/bin/true" {
		t.Errorf("preflight: %v %+v", err, rec.preflight)
	}
	missing, _ := browser.New(rec, browser.Options{Command: "/nonexistent/chromium", ProfileRoot: t.TempDir()})
	if err := missing.Preflight(context.Background(), op); err == nil || !strings.Contains(err.Error(), "/nonexistent/chromium") {
		t.Errorf("preflight without a browser: %v", err)
	}
}
