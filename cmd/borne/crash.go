package main

// A crash must never leave a stack trace or a broken terminal in front of a
// citizen. Bubble Tea already recovers a panic in Update, View or a command
// and restores the terminal before it prints the stack to os.Stderr; the
// shell's part is to make sure that print, and anything else written to
// standard error, lands in the log and not on the screen, to do the same
// for its own goroutines, to exit with a status of its own, and to remember
// the crash so that a shell that keeps crashing stops flashing a broken
// screen between restarts.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	xterm "github.com/charmbracelet/x/term"
	"golang.org/x/sys/unix"

	"github.com/loiret/borne/usage"
)

// exitCrash is the status of a shell that crashed (EX_SOFTWARE), apart from
// a refused command line (2) or a failure it could explain (1).
const exitCrash = 70

// errCrash ends a shell that panicked; the stack is in the log.
var errCrash = errors.New("the shell crashed; its stack is in the log")

// journalStreamPath is the journal's socket for a program's standard output
// and error (what systemd connects a service's stderr to).
var journalStreamPath = "/run/systemd/journal/stdout"

// logSink opens where the shell's own log goes while the terminal belongs
// to the interface, and points standard error there too: Bubble Tea prints a
// recovered panic to it, the Go runtime a fatal error, and neither may reach
// the citizen's screen. In order: the file named by $BORNE_LOG; standard
// error itself when it is not a terminal (the journal under the console
// unit); the journal when standard error is the kiosk's own terminal (a
// terminal emulator in a compositor); else nowhere.
func (e env) logSink() *os.File {
	sink := e.openLogSink()
	if fd := int(sink.Fd()); fd != 2 {
		// Failing leaves standard error as it was: the kiosk still runs.
		_ = unix.Dup3(fd, 2, 0)
	}
	return sink
}

func (e env) openLogSink() *os.File {
	if p := e.getenv("BORNE_LOG"); p != "" {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640); err == nil {
			return f
		}
	}
	if !xterm.IsTerminal(os.Stderr.Fd()) {
		return os.Stderr
	}
	if f, err := journalStream("borne"); err == nil {
		return f
	}
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return os.Stderr // no /dev/null: nothing better is left
	}
	return f
}

// journalStream connects to the journal the way systemd connects a
// service's standard error, so each line becomes an entry of "borne".
func journalStream(ident string) (*os.File, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: journalStreamPath, Net: "unix"})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.CloseRead(); err != nil {
		return nil, err
	}
	// Identifier, unit, priority (6: info), then no level prefixes and no
	// copies to syslog, the kernel log or the console.
	if _, err := fmt.Fprintf(c, "%s\n\n6\n0\n0\n0\n0\n", ident); err != nil {
		return nil, err
	}
	return c.File()
}

// guard turns a panic anywhere in the shell into a clean stop: the stack
// goes to the log, the program ends through its context (so Bubble Tea
// restores the terminal), and the shell returns errCrash.
type guard struct {
	sink    io.Writer
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	crashed atomic.Bool
	tap     *stackTap
}

func newGuard(sink *os.File, log *slog.Logger) *guard {
	g := &guard{sink: sink, log: log}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.tap = newStackTap(sink)
	return g
}

// goSafe runs f on a new goroutine whose panic stops the shell instead of
// killing the process with the terminal still in raw mode.
func (g *guard) goSafe(f func()) {
	go func() {
		defer g.recover()
		f()
	}()
}

func (g *guard) recover() {
	if r := recover(); r != nil {
		g.crash(r, debug.Stack())
	}
}

func (g *guard) crash(r any, stack []byte) {
	fmt.Fprintf(g.sink, "panic: %v\n\n%s\n", r, stack)
	g.crashed.Store(true)
	g.cancel()
}

// catch turns a panic of the shell's own goroutine (outside the program,
// which recovers its own) into errCrash. Use it deferred.
func (g *guard) catch(err *error) {
	if r := recover(); r != nil {
		g.crash(r, debug.Stack())
		*err = errCrash
	}
}

// after reads how the program ended: a panic that Bubble Tea recovered, or
// one of a goroutine of the shell's, is a crash. It waits (a little) for
// the stack of a panic recovered on another goroutine, which Bubble Tea
// prints after Run has returned, so that it reaches the log before exit.
func (g *guard) after(runErr error) error {
	panicked := errors.Is(runErr, tea.ErrProgramPanic)
	if !panicked && !g.crashed.Load() {
		return runErr
	}
	if panicked {
		g.tap.wait(2 * time.Second)
	}
	g.log.Error("the shell crashed and restored the terminal", "err", runErr)
	return errCrash
}

// stackTap stands in for os.Stderr while the program runs: it passes what
// is written to the log without the carriage returns that raw mode needs,
// and notes when a goroutine's stack went through.
type stackTap struct {
	w, r  *os.File
	sink  io.Writer
	once  sync.Once
	stack chan struct{} // closed when a stack went through
	done  chan struct{} // closed when everything written is in the log
}

func newStackTap(sink io.Writer) *stackTap {
	t := &stackTap{sink: sink, stack: make(chan struct{}), done: make(chan struct{})}
	r, w, err := os.Pipe()
	if err != nil {
		close(t.done)
		return t
	}
	t.r, t.w = r, w
	go t.copy()
	return t
}

// install makes the tap standard error for Go code (Bubble Tea's prints);
// call it before the program starts any goroutine.
func (t *stackTap) install() {
	if t.w != nil {
		os.Stderr = t.w
	}
}

func (t *stackTap) copy() {
	defer close(t.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := t.r.Read(buf)
		if n > 0 {
			chunk := bytes.ReplaceAll(buf[:n], []byte("\r"), nil)
			t.sink.Write(chunk)
			if bytes.Contains(chunk, []byte("goroutine ")) {
				t.once.Do(func() { close(t.stack) })
			}
		}
		if err != nil {
			return
		}
	}
}

// wait waits for a stack to go through, at most d, then for the log to
// have everything written so far.
func (t *stackTap) wait(d time.Duration) {
	if t.w == nil {
		return
	}
	select {
	case <-t.stack:
	case <-time.After(d):
	}
	t.w.Close() // later writes fail quietly; the process is about to exit
	<-t.done
}

// Crash history. Three crashes within five minutes and the shell starts on
// the out-of-service screen, until five minutes pass without one.
const (
	crashLimit  = 3
	crashWindow = 5 * time.Minute
)

// safeReason is what the out-of-service screen says after repeated crashes
// (the catalogs' oos.safe, in French).
const safeReason = "Service momentanément indisponible"

// crashFile is a small file beside the usage log: one line per start, clean
// stop and crash, each with its Unix time. A start without a stop or a
// crash after it is a run that was killed (the watchdog, kill -9, a power
// cut): it counts as a crash when the next run starts. Each start rewrites
// the file with only what is still in the window, so it stays a few lines.
type crashFile struct {
	path string
	log  *slog.Logger
}

func crashFileFor(db string, log *slog.Logger) crashFile {
	return crashFile{path: filepath.Join(filepath.Dir(db), "crashes"), log: log}
}

// start records a start at now and returns the crashes of the last
// crashWindow, the previous run's included if it never said how it ended.
// Whatever is at the path, it neither blocks nor reads much (a FIFO, a
// device, a huge file count as no history, and are replaced), and a line
// dated after now (a tampered file, a clock stepped back) counts for
// nothing, so that no file keeps the kiosk out of service.
func (c crashFile) start(now time.Time) []time.Time {
	var crashes []time.Time
	open := false // the last start has no end yet
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := usage.ReadStateFile(ctx, c.path, usage.MaxStateFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("crash history unreadable, started anew", "path", c.path, "err", err)
	}
	if err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			word, num, _ := strings.Cut(sc.Text(), " ")
			sec, err := strconv.ParseInt(num, 10, 64)
			if err != nil || sec > now.Unix() {
				continue // a line cut short by a power cut, or from the future
			}
			at := time.Unix(sec, 0)
			switch word {
			case "start":
				if open {
					crashes = append(crashes, at) // killed before this start
				}
				open = true
			case "stop":
				open = false
			case "crash":
				crashes = append(crashes, at)
				open = false
			}
		}
	}
	if open {
		crashes = append(crashes, now)
	}
	var recent []time.Time
	var out strings.Builder
	for _, t := range crashes {
		if now.Sub(t) < crashWindow {
			recent = append(recent, t)
			fmt.Fprintf(&out, "crash %d\n", t.Unix())
		}
	}
	fmt.Fprintf(&out, "start %d\n", now.Unix())
	if err := usage.WriteFileAtomic(c.path, []byte(out.String()), 0o640); err != nil {
		c.log.Error("crash history not written", "path", c.path, "err", err)
	}
	return recent
}

// end records how the run ended: a clean stop, or a crash. A run that
// failed otherwise (a back-end that would not start) writes nothing and so
// counts as a crash at the next start: a kiosk that cannot start its
// interface ends on the out-of-service screen too.
func (c crashFile) end(now time.Time, err error) {
	var line string
	switch {
	case err == nil:
		line = "stop"
	case errors.Is(err, errCrash):
		line = "crash"
	default:
		return
	}
	f, ferr := usage.OpenStateFile(c.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if ferr == nil {
		_, ferr = fmt.Fprintf(f, "%s %d\n", line, now.Unix())
		if serr := f.Sync(); ferr == nil {
			ferr = serr
		}
		if cerr := f.Close(); ferr == nil {
			ferr = cerr
		}
	}
	if ferr != nil {
		c.log.Error("crash history not written", "path", c.path, "err", ferr)
	}
}
