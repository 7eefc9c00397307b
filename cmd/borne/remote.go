package main

// Remote help: a technician whose public key is in [remote] sees, over SSH,
// the kiosk's screen as the citizen sees it. The view is read-only: what
// the technician types never reaches the kiosk, which does not even know
// it is watched. Each session is its own small Bubble Tea program that
// redraws at most twice a second, and only what changed, for the rural
// links many kiosks sit behind.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
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

type remote struct {
	mirror *tui.Mirror
	srv    *ssh.Server
	addr   net.Addr
}

// startRemote serves remote help when [remote] listen is set; it returns
// nil when remote help is off. A failure here is the technician's problem,
// never the citizen's: the caller logs it and the kiosk runs on.
func startRemote(cfg config.Remote, log *slog.Logger, g *guard) (*remote, error) {
	if cfg.Listen == "" {
		return nil, nil
	}
	var keys []ssh.PublicKey
	for _, line := range cfg.AuthorizedKeys {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("remote.authorized_keys: %w", err)
		}
		keys = append(keys, k)
	}
	r := &remote{mirror: tui.NewMirror()}
	srv, err := wish.NewServer(
		wish.WithHostKeyPath(cfg.HostKey),
		wish.WithPublicKeyAuth(func(ctx ssh.Context, key ssh.PublicKey) bool {
			for _, k := range keys {
				if ssh.KeysEqual(k, key) {
					log.Info("remote help: key accepted", "user", ctx.User(), "from", ctx.RemoteAddr().String(), "key", gossh.FingerprintSHA256(key))
					return true
				}
			}
			log.Warn("remote help: unknown key refused", "user", ctx.User(), "from", ctx.RemoteAddr().String(), "key", gossh.FingerprintSHA256(key))
			return false
		}),
		// A technician who forgot a session does not keep a link busy.
		wish.WithIdleTimeout(30*time.Minute),
		wish.WithMiddleware(
			recover.MiddlewareWithLogger(slogPrintf{log},
				wishtea.Middleware(func(s ssh.Session) (tea.Model, []tea.ProgramOption) {
					log.Info("remote help: view opened", "user", s.User(), "from", s.RemoteAddr().String())
					// The process's signals are the kiosk's (it ignores
					// SIGINT on purpose): a viewer's program stays out of them.
					return newRemoteView(s.Context(), r.mirror), []tea.ProgramOption{tea.WithFPS(4), tea.WithoutSignalHandler()}
				}),
			),
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

// Mirror is where the interface publishes its frames; nil when off.
func (r *remote) Mirror() *tui.Mirror {
	if r == nil {
		return nil
	}
	return r.mirror
}

func (r *remote) Close() {
	if r != nil {
		r.srv.Close()
	}
}

type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }

// remoteView is one technician's view of the kiosk.
type remoteView struct {
	ctx     context.Context
	mirror  *tui.Mirror
	changed <-chan struct{}
	frame   tui.Frame
}

type remoteFrameMsg struct{}

func newRemoteView(ctx context.Context, m *tui.Mirror) remoteView {
	ch, cancel := m.Subscribe()
	context.AfterFunc(ctx, cancel)
	return remoteView{ctx: ctx, mirror: m, changed: ch, frame: m.Frame()}
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
	case tea.KeyPressMsg:
		switch msg.String() {
		case "q", "ctrl+c", "ctrl+d":
			return v, tea.Quit
		}
	}
	return v, nil // nothing else: the view is read-only
}

var remoteBar = lipgloss.NewStyle().Reverse(true)

func (v remoteView) View() tea.View {
	bar := fmt.Sprintf(" Borne, vue à distance en lecture seule · écran %d×%d · q pour quitter ", v.frame.Width, v.frame.Height)
	content := v.frame.Content
	if content == "" {
		content = "(la borne n'a encore rien affiché)"
	}
	view := tea.NewView(remoteBar.Render(bar) + "\n" + strings.TrimRight(content, "\n"))
	view.AltScreen = true
	return view
}
