package sway

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
)

// DefaultBar is the call bar's share of the screen's height.
const DefaultBar = 0.2

// Options set up the kiosk's layout.
type Options struct {
	// Socket is sway's IPC socket ($SWAYSOCK), read again at each attempt.
	Socket func() string
	// Bar is the call bar's share of the output's height, in (0, 1).
	Bar float64
	// ShellPID is the shell's process: the window whose process is one of
	// its ancestors (its terminal) is the shell's.
	ShellPID int
	Log      *slog.Logger
	Backoff  Backoff
	Timeout  time.Duration // of each call to sway; zero: 2s
}

// Kiosk keeps sway's screen as the kiosk wants it: the shell's window
// over the whole output between calls; during a call the video client's
// window above and the shell's call bar across the bottom; no other
// window, and nothing full screen. It learns of windows by sway's events,
// never by asking again and again.
type Kiosk struct {
	o    Options
	link *Link
	log  *slog.Logger

	mu       sync.Mutex
	version  Version
	out      Rect   // the output the kiosk uses
	outName  string // its name, for touch mapping
	shell    int64  // the shell's window; 0 while unseen
	call     *callWin
	starting int             // calls being started: their window may come first
	parked   map[int64]int   // windows seen while a call started: id → pid
	killed   map[int64]bool  // windows asked to close
	placed   map[int64]Rect  // where each window was last put
	procs    func(int) []int // a process and its ancestors (tests replace it)
}

// callWin is the call under way and its window.
type callWin struct {
	owns    func(pid int) bool
	session hw.Session
	win     int64         // 0 until its window opens
	ended   bool          // its window closed: the session is being ended
	gone    chan struct{} // closed when the session has ended
}

// closeGrace is how long a client whose window closed has to end by
// itself: a client that exits (or crashes) closes its window first, and
// its own end says more than the shell's.
const closeGrace = 500 * time.Millisecond

// New starts following sway; it returns at once. Close stops.
func New(o Options) *Kiosk {
	if o.Bar <= 0 || o.Bar >= 1 {
		o.Bar = DefaultBar
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	k := &Kiosk{o: o, log: o.Log, parked: map[int64]int{}, killed: map[int64]bool{}, placed: map[int64]Rect{}, procs: ancestors}
	k.link = NewLink(LinkOptions{Path: o.Socket, Up: k.up, Event: k.event, Backoff: o.Backoff, Timeout: o.Timeout, Log: o.Log})
	return k
}

// Ready is closed once sway was reached, or found missing, once.
func (k *Kiosk) Ready() <-chan struct{} { return k.link.Ready() }

// Close stops following sway.
func (k *Kiosk) Close() error { return k.link.Close() }

// Status says whether sway is reached and, if not, why.
func (k *Kiosk) Status() (bool, string) { return k.link.Status() }

// up takes sway as it is on each connection: its version, the output,
// the windows already open.
func (k *Kiosk) up(ctx context.Context, c *Conn) error {
	v, err := c.Version(ctx)
	if err != nil {
		return err
	}
	tree, err := c.Tree(ctx)
	if err != nil {
		return err
	}
	outs := tree.Outputs()
	if len(outs) == 0 {
		return fmt.Errorf("sway has no active output")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.version, k.out, k.outName = v, outs[0].Rect, outs[0].Name
	k.shell = 0
	clear(k.placed)
	if err := c.Command(ctx, fmt.Sprintf("input type:touch map_to_output %s", quote(k.outName))); err != nil {
		k.log.Warn("touch not mapped to the output", "output", k.outName, "err", err)
	}
	for _, w := range tree.Windows() {
		k.seeLocked(ctx, c, w)
	}
	k.layoutLocked(ctx, c)
	return nil
}

// event follows the windows as they come, go and change.
func (k *Kiosk) event(ev WindowEvent) {
	c, err := k.link.callConn()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout())
	defer cancel()
	k.mu.Lock()
	defer k.mu.Unlock()
	w := &ev.Container
	switch ev.Change {
	case "new":
		k.seeLocked(ctx, c, w)
		k.layoutLocked(ctx, c)
	case "close":
		k.closedLocked(w.ID)
		k.layoutLocked(ctx, c)
	case ChangeOutput:
		k.outputLocked(ctx, c)
	case "fullscreen_mode", "floating", "move":
		if w.Fullscreen != 0 {
			k.log.Info("a window went full screen: put back", "app_id", w.AppID)
			k.cmd(ctx, c, fmt.Sprintf("[con_id=%d] fullscreen disable", w.ID))
			k.placeAgainLater(w.ID)
		}
		delete(k.placed, w.ID)
		k.layoutLocked(ctx, c)
	}
}

// placeAgainLater lays a window out again a little after it was put back
// from full screen: a client that answers the full-screen size late
// commits it after the put-back, and sway 1.7 then grows the floating
// window to it without an event to say so.
func (k *Kiosk) placeAgainLater(id int64) {
	for _, d := range []time.Duration{250 * time.Millisecond, time.Second} {
		time.AfterFunc(d, func() { k.event(WindowEvent{Change: "move", Container: Node{ID: id}}) })
	}
}

// outputLocked takes the output's new size (a screen plugged in, a new
// mode) and lays the windows out on it.
func (k *Kiosk) outputLocked(ctx context.Context, c *Conn) {
	tree, err := c.Tree(ctx)
	if err != nil {
		k.log.Warn("sway's tree unread after an output change", "err", err)
		return
	}
	outs := tree.Outputs()
	if len(outs) == 0 {
		return
	}
	if outs[0].Rect != k.out || outs[0].Name != k.outName {
		k.out, k.outName = outs[0].Rect, outs[0].Name
		clear(k.placed)
		k.cmd(ctx, c, fmt.Sprintf("input type:touch map_to_output %s", quote(k.outName)))
	}
	k.layoutLocked(ctx, c)
}

func (k *Kiosk) timeout() time.Duration {
	if k.o.Timeout > 0 {
		return k.o.Timeout
	}
	return 2 * time.Second
}

// seeLocked sorts a window: the shell's, the call's, one that may be the
// call's (a call is starting), or one to close.
func (k *Kiosk) seeLocked(ctx context.Context, c *Conn, w *Node) {
	switch {
	case w.ID == k.shell || (k.call != nil && w.ID == k.call.win):
	case k.isShell(w.PID):
		k.shell = w.ID
	case k.call != nil && k.call.win == 0 && w.PID > 0 && k.call.owns(w.PID):
		k.call.win = w.ID
		k.log.Info("the video client's window opened", "app_id", w.AppID)
	case k.starting > 0:
		k.parked[w.ID] = w.PID
	default:
		k.killLocked(ctx, c, w.ID, w.AppID)
	}
}

func (k *Kiosk) killLocked(ctx context.Context, c *Conn, id int64, appID string) {
	if k.killed[id] {
		return
	}
	k.killed[id] = true
	k.log.Warn("closing a window that is neither the shell's nor the call's", "app_id", appID)
	k.cmd(ctx, c, fmt.Sprintf("[con_id=%d] kill", id))
}

func (k *Kiosk) closedLocked(id int64) {
	delete(k.killed, id)
	delete(k.parked, id)
	delete(k.placed, id)
	if id == k.shell {
		k.shell = 0
	}
	if cw := k.call; cw != nil && cw.win == id && !cw.ended {
		// The client's window closed but its process may live on (a
		// browser, a client in the background): the call is over.
		cw.ended, cw.win = true, 0
		k.log.Info("the video client's window closed: ending the session")
		s := cw.session
		go func() {
			select {
			case <-cw.gone:
				return
			case <-time.After(closeGrace):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.End(ctx); err != nil {
				k.log.Warn("the session whose window closed did not end", "err", err)
			}
		}()
	}
}

func (k *Kiosk) isShell(pid int) bool {
	if pid <= 0 || k.o.ShellPID <= 0 {
		return false
	}
	for _, p := range k.procs(k.o.ShellPID) {
		if p == pid {
			return true
		}
	}
	return false
}

// Rects says where the shell's and the client's windows go now.
func (k *Kiosk) rectsLocked() (shell, client Rect) {
	o := k.out
	if k.call == nil || k.call.win == 0 {
		return o, Rect{}
	}
	bar := int(math.Round(float64(o.Height) * k.o.Bar))
	client = Rect{X: o.X, Y: o.Y, Width: o.Width, Height: o.Height - bar}
	shell = Rect{X: o.X, Y: o.Y + o.Height - bar, Width: o.Width, Height: bar}
	return shell, client
}

// layoutLocked puts the shell and the client where they belong; a
// window already there is left alone.
func (k *Kiosk) layoutLocked(ctx context.Context, c *Conn) {
	shell, client := k.rectsLocked()
	if k.call != nil && k.call.win != 0 {
		k.placeLocked(ctx, c, k.call.win, client)
	}
	if k.shell != 0 {
		k.placeLocked(ctx, c, k.shell, shell)
		if _, ok := k.placed[k.shell]; ok {
			k.cmd(ctx, c, fmt.Sprintf("[con_id=%d] focus", k.shell))
		}
	}
}

func (k *Kiosk) placeLocked(ctx context.Context, c *Conn, id int64, r Rect) {
	if p, ok := k.placed[id]; ok && p == r {
		return
	}
	err := k.cmd(ctx, c, fmt.Sprintf("[con_id=%d] floating enable, border none, fullscreen disable, "+
		"resize set width %d px height %d px, move absolute position %d %d", id, r.Width, r.Height, r.X, r.Y))
	if err == nil {
		k.placed[id] = r
	}
}

func (k *Kiosk) cmd(ctx context.Context, c *Conn, cmd string) error {
	err := c.Command(ctx, cmd)
	if err != nil {
		k.log.Warn("sway command failed", "command", cmd, "err", err)
	}
	return err
}

// quote makes a word one argument of a sway command.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// calls is the connection for calls, even while Up runs.
func (l *Link) callConn() (*Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls == nil {
		return nil, ErrUnavailable
	}
	return l.calls, nil
}

// Sessions wraps a Sessions back-end: each call's window is laid out above
// the call bar while the call runs, and the screen is the shell's again
// before the end of the call is reported.
func (k *Kiosk) Sessions(inner hw.Sessions) hw.Sessions { return &sessions{k: k, inner: inner} }

type sessions struct {
	k     *Kiosk
	inner hw.Sessions
}

// Preflight passes the inner back-end's check on.
func (s *sessions) Preflight(ctx context.Context, op operators.Operator) error {
	if p, ok := s.inner.(hw.Preflighter); ok {
		return p.Preflight(ctx, op)
	}
	return nil
}

// Reset passes the inner back-end's reset on.
func (s *sessions) Reset(ctx context.Context) error {
	if r, ok := s.inner.(hw.Resetter); ok {
		return r.Reset(ctx)
	}
	return nil
}

func (s *sessions) Start(ctx context.Context, op operators.Operator) (hw.Session, error) {
	k := s.k
	k.mu.Lock()
	k.starting++
	k.mu.Unlock()
	in, err := s.inner.Start(ctx, op)
	k.mu.Lock()
	k.starting--
	if err != nil {
		k.releaseLocked()
		k.mu.Unlock()
		return nil, err
	}
	cw := &callWin{owns: owner(in), session: in, gone: make(chan struct{})}
	k.call = cw
	k.releaseLocked()
	k.mu.Unlock()
	k.relayout()
	out := &session{Session: in, done: make(chan hw.SessionEnd, 1)}
	go func() {
		end := <-in.Done()
		close(cw.gone)
		k.mu.Lock()
		if k.call == cw {
			k.call = nil
		}
		k.mu.Unlock()
		k.relayout() // the shell's window whole again before the survey
		k.settle()
		out.done <- end
	}()
	return out, nil
}

// releaseLocked sorts the windows that opened while a call started: the
// call's are kept, the others closed.
func (k *Kiosk) releaseLocked() {
	if k.starting > 0 || len(k.parked) == 0 {
		return
	}
	c, err := k.link.callConn()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout())
	defer cancel()
	for id, pid := range k.parked {
		delete(k.parked, id)
		k.seeLocked(ctx, c, &Node{ID: id, PID: pid})
	}
}

// relayout lays the windows out again after a change of call.
func (k *Kiosk) relayout() {
	c, err := k.link.callConn()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout())
	defer cancel()
	k.mu.Lock()
	defer k.mu.Unlock()
	// A call began or ended: every window is put in its place again,
	// whatever sway made of the last commands while windows came and went.
	clear(k.placed)
	if k.call != nil && k.call.win == 0 && !k.call.ended {
		// Its window may have opened before the call was known.
		if tree, err := c.Tree(ctx); err == nil {
			for _, w := range tree.Windows() {
				k.seeLocked(ctx, c, w)
			}
		}
	}
	k.layoutLocked(ctx, c)
}

// settle waits, a second at most, until sway shows the shell's window
// where it was put: sway applies a new size once the client has drawn it
// (foot takes a few tens of milliseconds, more on a loaded machine), and
// the survey must not be drawn in the call bar's strip.
func (k *Kiosk) settle() {
	c, err := k.link.callConn()
	if err != nil {
		return
	}
	k.mu.Lock()
	id := k.shell
	want, _ := k.rectsLocked()
	k.mu.Unlock()
	if id == 0 {
		return
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), k.timeout())
		tree, err := c.Tree(ctx)
		cancel()
		if err != nil {
			return
		}
		for _, w := range tree.Windows() {
			if w.ID == id && w.Rect == want {
				return
			}
		}
	}
	k.log.Warn("the shell's window is not whole a second after the call", "want", fmt.Sprint(want))
}

type session struct {
	hw.Session
	done chan hw.SessionEnd
}

func (s *session) Done() <-chan hw.SessionEnd { return s.done }

// Owns passes the inner session's answer on.
func (s *session) Owns(pid int) bool { return owner(s.Session)(pid) }

// owner tells a session's processes: by the session's own word (a
// systemd unit's control group), as descendants of its main process, or
// as those of the session it wraps (a web visio's browser run by the
// runner).
func owner(s hw.Session) func(int) bool {
	switch v := s.(type) {
	case interface{ Owns(pid int) bool }:
		return v.Owns
	case interface{ PID() int }:
		return func(pid int) bool {
			for _, p := range ancestors(pid) {
				if p == v.PID() {
					return true
				}
			}
			return false
		}
	case interface{ Unwrap() hw.Session }:
		return owner(v.Unwrap())
	}
	return func(int) bool { return false }
}
