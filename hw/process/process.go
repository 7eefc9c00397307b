// Package process runs each video session as a child process of the shell
// ([hardware.session] runner = "process"): for a developer's laptop and
// for tests, where no systemd user manager runs the clients. The child has
// its own process group, ends with the shell, and is ended like systemd
// ends a unit: SIGTERM to the whole group, SIGKILL after a grace period.
package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
)

// Options set the runner up.
type Options struct {
	// Environment names the variables of the shell's environment passed
	// to the client (hardware.session.environment), beside PATH, HOME,
	// LANG and USER.
	Environment []string
	LookupEnv   func(string) (string, bool) // nil: os.LookupEnv
	// MaxSession is kiosk.max_session; a client still running Slack after
	// it is killed and its end says hw.ErrSessionTimeout (the shell ends
	// the call itself at MaxSession). Zero: no limit.
	MaxSession, Slack time.Duration
	// Grace is the wait between SIGTERM and SIGKILL; zero: 5s.
	Grace time.Duration
	// Attr, when set, is the children's (tests run them as another user).
	Attr *syscall.SysProcAttr
	Log  *slog.Logger
}

// Runner starts sessions as child processes. It implements hw.Sessions,
// hw.Preflighter and hw.Resetter.
type Runner struct {
	o    Options
	mu   sync.Mutex
	live map[*Session]bool
}

var (
	_ hw.Sessions    = (*Runner)(nil)
	_ hw.Preflighter = (*Runner)(nil)
	_ hw.Resetter    = (*Runner)(nil)
)

// New makes a runner.
func New(o Options) *Runner {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Runner{o: o, live: map[*Session]bool{}}
}

// Preflight says whether op's client can be run.
func (r *Runner) Preflight(ctx context.Context, op operators.Operator) error {
	_, err := r.resolve(op)
	if err != nil {
		return err
	}
	return ctx.Err()
}

func (r *Runner) resolve(op operators.Operator) (string, error) {
	if len(op.Launch) == 0 {
		return "", fmt.Errorf("operator %s has no video client to launch", op.ID)
	}
	p, err := exec.LookPath(op.Launch[0])
	if err != nil {
		return "", fmt.Errorf("operator %s: video client %q not found on this kiosk: %w", op.ID, op.Launch[0], err)
	}
	return filepath.Abs(p)
}

func (r *Runner) environment() []string {
	var env []string
	for _, k := range append([]string{"PATH", "HOME", "LANG", "USER"}, r.o.Environment...) {
		if v, ok := r.o.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Start starts op's client and returns once it runs.
func (r *Runner) Start(ctx context.Context, op operators.Operator) (hw.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := r.resolve(op)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, op.Launch[1:]...)
	cmd.Env = r.environment()
	// No stdin, stdout or stderr: the shell's terminal is the citizen's
	// screen, and a client writing to it would tear the shell's frame.
	attr := &syscall.SysProcAttr{}
	if r.o.Attr != nil {
		a := *r.o.Attr
		attr = &a
	}
	attr.Setpgid, attr.Pgid = true, 0
	attr.Pdeathsig = syscall.SIGTERM // ends with the shell
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("operator %s: the video client did not start: %w", op.ID, err)
	}
	s := &Session{r: r, op: op.ID, cmd: cmd, pid: cmd.Process.Pid, done: make(chan hw.SessionEnd, 1), exited: make(chan struct{})}
	r.mu.Lock()
	r.live[s] = true
	r.mu.Unlock()
	r.o.Log.Info("video client started", "operator", op.ID, "pid", s.pid)
	if r.o.MaxSession > 0 {
		s.limit = time.AfterFunc(r.o.MaxSession+r.o.Slack, func() {
			s.mu.Lock()
			s.timedOut = true
			s.mu.Unlock()
			r.o.Log.Warn("video client outlived max_session: killed", "operator", op.ID)
			s.stop(context.Background())
		})
	}
	go s.wait() // after limit is set: wait stops it
	return s, nil
}

// Reset ends every client the runner started.
func (r *Runner) Reset(ctx context.Context) error {
	r.mu.Lock()
	var all []*Session
	for s := range r.live {
		all = append(all, s)
	}
	r.mu.Unlock()
	var errs []error
	for _, s := range all {
		errs = append(errs, s.End(ctx))
	}
	return errors.Join(errs...)
}

// Session is one client process and its group.
type Session struct {
	r      *Runner
	op     string
	cmd    *exec.Cmd
	pid    int
	limit  *time.Timer
	done   chan hw.SessionEnd
	exited chan struct{}

	mu       sync.Mutex
	asked    bool // the shell ended it
	timedOut bool
}

// PID is the client's process: its windows are its or its children's.
func (s *Session) PID() int { return s.pid }

// Done delivers how the session ended, once.
func (s *Session) Done() <-chan hw.SessionEnd { return s.done }

func (s *Session) wait() {
	err := s.cmd.Wait()
	// What the client left in its group goes with it, as systemd ends
	// what is left in a unit.
	syscall.Kill(-s.pid, syscall.SIGKILL)
	close(s.exited)
	if s.limit != nil {
		s.limit.Stop()
	}
	s.r.mu.Lock()
	delete(s.r.live, s)
	s.r.mu.Unlock()
	s.mu.Lock()
	asked, timedOut := s.asked, s.timedOut
	s.mu.Unlock()
	var end error
	switch {
	case timedOut:
		end = hw.ErrSessionTimeout
	case asked:
	case err != nil:
		end = fmt.Errorf("the video client of %s failed: %w", s.op, err)
	}
	s.r.o.Log.Info("video client ended", "operator", s.op, "err", end)
	s.done <- hw.SessionEnd{At: time.Now(), Err: end}
}

// End stops the client: SIGTERM to its group, SIGKILL after the grace
// period; it returns when the client is gone or ctx ends.
func (s *Session) End(ctx context.Context) error {
	s.mu.Lock()
	s.asked = true
	s.mu.Unlock()
	return s.stop(ctx)
}

func (s *Session) stop(ctx context.Context) error {
	syscall.Kill(-s.pid, syscall.SIGTERM)
	t := time.NewTimer(s.r.o.Grace)
	defer t.Stop()
	select {
	case <-s.exited:
		return nil
	case <-t.C:
		syscall.Kill(-s.pid, syscall.SIGKILL)
	case <-ctx.Done():
		syscall.Kill(-s.pid, syscall.SIGKILL)
		return ctx.Err()
	}
	select {
	case <-s.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
