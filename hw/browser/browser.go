// Package browser opens a partner's web visio in Chromium for the length
// of one call: a fresh profile in a private folder, deleted with all it
// holds when the call ends whatever the reason; the page followed through
// the DevTools protocol, so that the call ends by itself when the partner
// hangs up (a navigation to one of the operator's visio_end addresses, or
// the page closing its window) and fails when the browser crashes, the
// page never loads or its renderer hangs.
//
// It wraps the kiosk's session runner (systemd, or a child process): the
// runner starts and stops the browser as it would any video client, and
// operators with a native client go straight to it. Since the runner may
// not be the browser's parent, the page is followed over the loopback
// DevTools port the browser writes in its profile (DevToolsActivePort),
// never a fixed one.
package browser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
)

// Options configure the browser.
type Options struct {
	// Command is hardware.browser.command; Flags hardware.browser.flags,
	// added after the shell's own.
	Command string
	Flags   []string
	// Wayland adds --ozone-platform=wayland: the shell runs in a Wayland
	// session (WAYLAND_DISPLAY is passed to the video client).
	Wayland bool
	// ProfileRoot holds the calls' profiles; "" is DefaultProfileRoot().
	ProfileRoot string

	// StartTimeout bounds the wait for the browser's DevTools port and
	// the page; LoadTimeout the partner's page's first load; HangTimeout
	// how long the page may leave a ping unanswered, PingEvery how often
	// it is pinged. Zero takes 20s, 30s, 15s and 2s.
	StartTimeout time.Duration
	LoadTimeout  time.Duration
	HangTimeout  time.Duration
	PingEvery    time.Duration
	// StopTimeout bounds the runner's stop of the browser at the end of a
	// call; zero takes 15s.
	StopTimeout time.Duration

	// Passive back-ends touch nothing (borne doctor beside a kiosk).
	Passive bool
	Log     *slog.Logger
}

// Sessions starts calls: web visios in the browser, through the inner
// runner; native clients straight on the inner runner.
type Sessions struct {
	inner hw.Sessions
	o     Options
}

var (
	_ hw.Sessions    = (*Sessions)(nil)
	_ hw.Preflighter = (*Sessions)(nil)
	_ hw.Resetter    = (*Sessions)(nil)
	_ hw.Doctor      = (*Sessions)(nil)
)

// New wraps inner. Unless passive, it deletes the profiles a crashed
// shell left behind: no call runs yet, and nothing of a citizen stays.
func New(inner hw.Sessions, o Options) (*Sessions, error) {
	if o.Command == "" {
		o.Command = "/usr/bin/chromium"
	}
	if o.ProfileRoot == "" {
		o.ProfileRoot = DefaultProfileRoot()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.StartTimeout, 20*time.Second)
	def(&o.LoadTimeout, 30*time.Second)
	def(&o.HangTimeout, 15*time.Second)
	def(&o.PingEvery, 2*time.Second)
	def(&o.StopTimeout, 15*time.Second)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.Log = o.Log.With("component", "browser")
	s := &Sessions{inner: inner, o: o}
	if !o.Passive {
		if err := s.sweep(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Argv is the browser's command line for a call to op with its profile
// in dir.
func (s *Sessions) Argv(op operators.Operator, dir string) []string {
	argv := []string{s.o.Command,
		"--user-data-dir=" + dir,
		"--app=" + op.VisioURL,
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--password-store=basic", // no keyring prompt in a kiosk session
		"--remote-debugging-port=0",
	}
	if s.o.Wayland {
		argv = append(argv, "--ozone-platform=wayland")
	}
	return append(argv, s.o.Flags...)
}

// Start opens op's visio in a fresh browser, or starts its native client.
// It returns once the runner has started the browser; the page is
// followed from then on, and Done says how the call ended.
func (s *Sessions) Start(ctx context.Context, op operators.Operator) (hw.Session, error) {
	if !op.IsVisio() {
		return s.inner.Start(ctx, op)
	}
	if s.o.Passive {
		return nil, errors.New("this back-end only looks (borne doctor)")
	}
	dir, err := s.newProfile()
	if err != nil {
		return nil, err
	}
	in, err := s.inner.Start(ctx, s.client(op, dir))
	if err != nil {
		s.remove(dir)
		return nil, err
	}
	c := newCall(s, op, dir, in)
	go c.run()
	return c, nil
}

// client is op as the inner runner sees it: a native client whose
// command is the browser.
func (s *Sessions) client(op operators.Operator, dir string) operators.Operator {
	c := op
	c.Launch = s.Argv(op, dir)
	c.VisioURL, c.VisioEnd = "", nil
	return c
}

// Preflight checks, for a visio, that the browser can be run, then asks
// the inner runner about it.
func (s *Sessions) Preflight(ctx context.Context, op operators.Operator) error {
	if op.IsVisio() {
		if err := s.checkCommand(); err != nil {
			return err
		}
		op = s.client(op, filepath.Join(s.o.ProfileRoot, "preflight"))
	}
	if p, ok := s.inner.(hw.Preflighter); ok {
		return p.Preflight(ctx, op)
	}
	return nil
}

func (s *Sessions) checkCommand() error {
	p, err := exec.LookPath(s.o.Command)
	if err != nil {
		return fmt.Errorf("the browser %s cannot be run: %w", s.o.Command, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		return fmt.Errorf("the browser %s cannot be run", s.o.Command)
	}
	return nil
}

// Reset stops every video client of the inner runner; each call's own
// end then deletes its profile.
func (s *Sessions) Reset(ctx context.Context) error {
	if r, ok := s.inner.(hw.Resetter); ok {
		return r.Reset(ctx)
	}
	return nil
}

// Doctor examines the inner runner, then the browser.
func (s *Sessions) Doctor(ctx context.Context) []hw.Check {
	var out []hw.Check
	if d, ok := s.inner.(hw.Doctor); ok {
		out = d.Doctor(ctx)
	}
	return append(out, CommandCheck(ctx, s.o.Command))
}

// CommandCheck is borne doctor's line about the browser: there, and its
// version.
func CommandCheck(ctx context.Context, command string) hw.Check {
	ch := hw.Check{Name: "browser", Needed: true, Health: hw.OK, Reason: command}
	s := Sessions{o: Options{Command: command}}
	if err := s.checkCommand(); err != nil {
		ch.Health, ch.Reason = hw.Missing, err.Error()+" (install the chromium package, or set [hardware.browser] command)"
	} else if v, err := exec.CommandContext(ctx, command, "--version").Output(); err == nil {
		ch.Reason = strings.TrimSpace(string(v))
	}
	return ch
}
