package main

// Remote help: a technician whose public key is in [remote] sees, over SSH,
// the kiosk's screen as the citizen sees it. The view is read-only: what
// the technician types never reaches the kiosk, which does not even know
// it is watched. With the maintenance PIN the technician can open the
// maintenance menu too, in a screen of its own on their terminal, while a
// citizen may be using the kiosk: what it changes for citizens (out of
// service, a restart) reaches the kiosk as messages the kiosk's own program
// handles, and nothing cuts a call in progress. Each session is its own
// small Bubble Tea program that redraws only what changed, the kiosk's
// frames at most twice a second, for the rural links many kiosks sit
// behind.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/activeterm"
	wishtea "charm.land/wish/v2/bubbletea"
	"charm.land/wish/v2/recover"
	gossh "golang.org/x/crypto/ssh"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/tui"
)

// remoteRedraw is the least time between two frames sent to a viewer.
const remoteRedraw = 500 * time.Millisecond

// Limits of remote help: a window no terminal on a technician's desk
// exceeds (a session's buffers grow with it: a 3000×3000 window once took
// gigabytes), a few technicians logged in at once, and a few connections
// waiting to log in.
const (
	remoteMaxCols     = 300
	remoteMaxRows     = 100
	remoteMaxSessions = 4
	remoteMaxWaiting  = 8
)

// remoteLoginGrace is the time a connection has to log in (sshd's
// LoginGraceTime); tests shorten it.
var remoteLoginGrace = 30 * time.Second

type remote struct {
	mirror *tui.Mirror
	srv    *ssh.Server
	addr   net.Addr
	places admission

	mu    sync.Mutex
	lang  string           // the site's default language, for the viewer's bar
	maint func() tui.Model // a fresh maintenance session; nil: view only
	drop  func()           // records the lock of a session cut while unlocked
	views sync.WaitGroup   // sessions not yet over, for Close to wait on
}

// startRemote serves remote help when [remote] listen is set; it returns
// nil when remote help is off. A failure here is the technician's problem,
// never the citizen's: the caller logs it and the kiosk runs on.
func startRemote(cfg config.Remote, log *slog.Logger, g *guard) (*remote, error) {
	if cfg.Listen == "" {
		return nil, nil
	}
	if cfg.Off != "" {
		return nil, fmt.Errorf("remote help is off: %s", cfg.Off)
	}
	if err := config.CheckHostKey(cfg.HostKey); err != nil {
		return nil, fmt.Errorf("remote help is off: remote.host_key: %w", err)
	}
	var keys []config.AuthorizedKey
	for i, line := range cfg.AuthorizedKeys {
		k, err := config.ParseAuthorizedKey(line, time.Local)
		if err != nil {
			return nil, fmt.Errorf("remote help is off: remote.authorized_keys[%d]: %w", i, err)
		}
		keys = append(keys, k)
	}
	r := &remote{mirror: tui.NewMirror()}
	srv, err := wish.NewServer(
		wish.WithHostKeyPath(cfg.HostKey),
		wish.WithPublicKeyAuth(func(ctx ssh.Context, key ssh.PublicKey) bool {
			return r.allowed(ctx, key, keys, log)
		}),
		// A technician who forgot a session does not keep a link busy.
		wish.WithIdleTimeout(30*time.Minute),
		func(s *ssh.Server) error {
			s.HandshakeTimeout = remoteLoginGrace
			s.ConnCallback = r.admit(log)
			s.ServerConfigCallback = r.loggedIn(log)
			return nil
		},
		wish.WithMiddleware(
			recover.MiddlewareWithLogger(slogPrintf{log},
				wishtea.Middleware(func(s ssh.Session) (tea.Model, []tea.ProgramOption) {
					log.Info("remote help: view opened", "user", s.User(), "from", s.RemoteAddr().String())
					// The process's signals are the kiosk's (it ignores
					// SIGINT on purpose): a viewer's program stays out of them.
					return r.newView(s.Context(), log), []tea.ProgramOption{tea.WithFPS(8), tea.WithoutSignalHandler()}
				}),
			),
			clampWindow,
			activeterm.Middleware(),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("remote help: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("remote help: %w", err)
	}
	r.srv, r.addr = srv, ln.Addr()
	g.goSafe(func() {
		if err := srv.Serve(ln); err != nil && err != ssh.ErrServerClosed {
			log.Error("remote help stopped", "err", err)
		}
	})
	log.Info("remote help listening", "addr", r.addr.String())
	return r, nil
}

// allowed says whether key may log in: listed, not expired, and from an
// address its from="…" allows.
func (r *remote) allowed(ctx ssh.Context, key ssh.PublicKey, keys []config.AuthorizedKey, log *slog.Logger) bool {
	from := ctx.RemoteAddr().String()
	var ip net.IP
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		ip = a.IP
	}
	for _, k := range keys {
		if !ssh.KeysEqual(k.Key, key) {
			continue
		}
		if err := k.Allows(ip, time.Now()); err != nil {
			log.Warn("remote help: key refused", "user", ctx.User(), "from", from, "key", gossh.FingerprintSHA256(key), "why", err.Error())
			return false
		}
		log.Info("remote help: key accepted", "user", ctx.User(), "from", from, "key", gossh.FingerprintSHA256(key))
		return true
	}
	log.Warn("remote help: unknown key refused", "user", ctx.User(), "from", from, "key", gossh.FingerprintSHA256(key))
	return false
}

// admission keeps the places of remote help: remoteMaxSessions
// technicians logged in, and remoteMaxWaiting connections waiting to log
// in. When the waiting places are full, the oldest waiting connection is
// cut for the new one (sshd's MaxStartups answers the same way): a few
// sockets left idle for the login grace would otherwise keep every
// technician out, again and again; holding the places now takes a flood
// of new connections, and the journal shows it.
type admission struct {
	mu       sync.Mutex
	waiting  []*placed // oldest first
	sessions int
}

type placeState int

const (
	placeWaiting placeState = iota
	placeIn
	placeGone
)

// placed is a connection with its place; it gives the place back when it
// closes.
type placed struct {
	net.Conn
	a     *admission
	state placeState // under a.mu
}

type placedKey struct{}

// admit takes every connection, cutting the oldest waiting one when the
// waiting places are full.
func (r *remote) admit(log *slog.Logger) ssh.ConnCallback {
	return func(ctx ssh.Context, c net.Conn) net.Conn {
		p := &placed{Conn: c, a: &r.places}
		a := &r.places
		a.mu.Lock()
		var cut *placed
		if len(a.waiting) >= remoteMaxWaiting {
			cut, a.waiting = a.waiting[0], a.waiting[1:]
			cut.state = placeGone
		}
		a.waiting = append(a.waiting, p)
		a.mu.Unlock()
		if cut != nil {
			log.Warn("remote help: a connection that had not logged in was cut for a new one", "cut", cut.RemoteAddr().String(), "new", c.RemoteAddr().String(), "waiting", remoteMaxWaiting)
			cut.Conn.Close()
		}
		ctx.SetValue(placedKey{}, p)
		return p
	}
}

// loggedIn moves a connection from the waiting places to the technicians'
// once its key is proven (the check of a key's signature; a client asking
// whether a key would do proves nothing). Beyond remoteMaxSessions it is
// cut.
func (r *remote) loggedIn(log *slog.Logger) ssh.ServerConfigCallback {
	return func(ctx ssh.Context) *gossh.ServerConfig {
		return &gossh.ServerConfig{AuthLogCallback: func(conn gossh.ConnMetadata, method string, err error) {
			p, _ := ctx.Value(placedKey{}).(*placed)
			if err != nil || p == nil || r.places.in(p) {
				return
			}
			log.Warn("remote help: connection refused, too many technicians at once", "from", conn.RemoteAddr().String(), "max", remoteMaxSessions)
			p.Conn.Close()
		}}
	}
}

// in gives p a technician's place, if one is free.
func (a *admission) in(p *placed) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case p.state == placeIn:
		return true
	case p.state != placeWaiting || a.sessions >= remoteMaxSessions:
		return false
	}
	a.waiting = slices.DeleteFunc(a.waiting, func(w *placed) bool { return w == p })
	p.state = placeIn
	a.sessions++
	return true
}

func (p *placed) Close() error {
	a := p.a
	a.mu.Lock()
	switch p.state {
	case placeWaiting:
		a.waiting = slices.DeleteFunc(a.waiting, func(w *placed) bool { return w == p })
	case placeIn:
		a.sessions--
	}
	p.state = placeGone
	a.mu.Unlock()
	return p.Conn.Close()
}

// clampWindow hands the sessions below it a terminal no larger than
// remoteMaxCols×remoteMaxRows, at the start and at every window change,
// whatever size the client claims; when the session is over, what its
// program held goes back to the system at once, not when the runtime gets
// round to it.
func clampWindow(next ssh.Handler) ssh.Handler {
	return func(s ssh.Session) {
		pty, changes, ok := s.Pty()
		if !ok {
			next(s)
			return
		}
		pty.Window = clamp(pty.Window)
		clamped := make(chan ssh.Window, 1)
		go func() {
			for {
				select {
				case w, ok := <-changes:
					if !ok {
						return
					}
					select {
					case clamped <- clamp(w):
					case <-s.Context().Done():
						return
					}
				case <-s.Context().Done():
					return
				}
			}
		}()
		next(clampedSession{Session: s, pty: pty, changes: clamped})
		debug.FreeOSMemory()
	}
}

func clamp(w ssh.Window) ssh.Window {
	w.Width = min(max(w.Width, 1), remoteMaxCols)
	w.Height = min(max(w.Height, 1), remoteMaxRows)
	return w
}

type clampedSession struct {
	ssh.Session
	pty     ssh.Pty
	changes <-chan ssh.Window
}

func (s clampedSession) Pty() (ssh.Pty, <-chan ssh.Window, bool) { return s.pty, s.changes, true }

// Mirror is where the interface publishes its frames; nil when off.
func (r *remote) Mirror() *tui.Mirror {
	if r == nil {
		return nil
	}
	return r.mirror
}

// Attach lets sessions open maintenance: d are the kiosk's own
// dependencies and send reaches its program; drop records that a session
// cut while unlocked is locked.
func (r *remote) Attach(d tui.Deps, send func(tea.Msg), drop func()) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if l := d.Config.Site.Languages; len(l) > 0 {
		r.lang = l[0]
	}
	r.mu.Unlock()
	if d.Maint.Unlock == nil {
		return
	}
	mirror := r.mirror
	d.Mirror = nil
	d.Remote = &tui.Remote{Send: send, State: func() tui.KioskState { return mirror.Frame().Kiosk }}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maint = func() tui.Model { return tui.New(d) }
	r.drop = drop
}

// Close ends every session, and waits a little for them to say so, so
// that a lock they record comes before the shell's stop in the log.
func (r *remote) Close() {
	if r == nil {
		return
	}
	r.srv.Close()
	done := make(chan struct{})
	go func() { r.views.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }

// remoteView is one technician's session: the kiosk's frames, or the
// maintenance model while it has the PIN pad or the menu.
type remoteView struct {
	ctx     context.Context
	mirror  *tui.Mirror
	changed <-chan struct{}
	frame   tui.Frame
	w, h    int
	lang    string
	note    string // catalog key of the bar's passing word

	open     func() tui.Model // nil: no maintenance from afar
	maint    *tui.Model       // non-nil while in maintenance
	unlocked *atomic.Bool     // the menu is open; read when the link drops
}

type remoteFrameMsg struct{}

func (r *remote) newView(ctx context.Context, log *slog.Logger) remoteView {
	ch, cancel := r.mirror.Subscribe()
	v := remoteView{ctx: ctx, mirror: r.mirror, changed: ch, frame: r.mirror.Frame(), w: 80, h: 24, unlocked: new(atomic.Bool)}
	r.mu.Lock()
	open, drop := r.maint, r.drop
	v.lang = r.lang
	r.mu.Unlock()
	v.open = open
	r.views.Add(1)
	context.AfterFunc(ctx, func() {
		defer r.views.Done()
		cancel()
		// A link that drops with the menu open locks it: say so in the log.
		if v.unlocked.Load() && drop != nil {
			log.Info("remote help: session ended while unlocked")
			drop()
		}
	})
	return v
}

func (v remoteView) Init() tea.Cmd { return v.next() }

// next waits for the kiosk's next frame, then a little more so that a
// burst of frames costs the link one.
func (v remoteView) next() tea.Cmd {
	return func() tea.Msg {
		select {
		case <-v.changed:
		case <-v.ctx.Done():
			return nil
		}
		select {
		case <-time.After(remoteRedraw):
		case <-v.ctx.Done():
			return nil
		}
		return remoteFrameMsg{}
	}
}

func (v remoteView) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case remoteFrameMsg:
		v.frame = v.mirror.Frame()
		return v, v.next()
	case tea.WindowSizeMsg:
		v.w, v.h = msg.Width, msg.Height
		if v.maint != nil {
			return v.toMaint(tea.WindowSizeMsg{Width: v.w, Height: max(v.h-1, 1)})
		}
		return v, nil
	}
	if v.maint != nil {
		if k, ok := msg.(tea.KeyPressMsg); ok && (k.String() == "ctrl+c" || k.String() == "ctrl+d") {
			msg = tui.LockMsg{}
		}
		return v.toMaint(msg)
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "q", "ctrl+c", "ctrl+d":
			return v, tea.Quit
		case "m", "f12":
			return v.openMaint()
		}
	}
	return v, nil // nothing reaches the kiosk from the view
}

func (v remoteView) openMaint() (tea.Model, tea.Cmd) {
	if v.open == nil {
		v.note = "remote.no-pin"
		return v, nil
	}
	m := v.open()
	v.maint, v.note = &m, ""
	next, size := v.toMaint(tea.WindowSizeMsg{Width: v.w, Height: max(v.h-1, 1)})
	return next, tea.Batch(m.Init(), size)
}

// toMaint hands a message to the maintenance model; when maintenance
// locks, the session is back on the kiosk's frames.
func (v remoteView) toMaint(msg tea.Msg) (tea.Model, tea.Cmd) {
	next, cmd := v.maint.Update(msg)
	m := next.(tui.Model)
	v.unlocked.Store(m.Screen() == "maintenance")
	if !m.Agent() {
		v.maint, v.note = nil, "remote.locked"
		v.frame = v.mirror.Frame()
		return v, cmd
	}
	v.maint = &m
	return v, cmd
}

var remoteBar = lipgloss.NewStyle().Reverse(true)

func (v remoteView) t(key string) string { return tui.Text(v.lang, key) }

func (v remoteView) View() tea.View {
	if v.maint != nil {
		view := v.maint.View()
		view.Content = strings.TrimRight(view.Content, "\n") + "\n" + remoteBar.Render(v.t("remote.maint"))
		return view
	}
	bar := fmt.Sprintf(v.t("remote.view"), v.frame.Width, v.frame.Height)
	if v.open != nil {
		bar += v.t("remote.view.maint")
	}
	if v.note != "" {
		bar = " " + v.t(v.note) + " ·" + bar
	}
	content := v.frame.Content
	if content == "" {
		content = v.t("remote.empty")
	}
	view := tea.NewView(remoteBar.Render(bar) + "\n" + strings.TrimRight(content, "\n"))
	view.AltScreen = true
	return view
}
