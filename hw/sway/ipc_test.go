package sway

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/hw/sway/swaytest"
)

const testConf = `output * resolution 1280x720
xwayland disable
default_border none
`

func startSway(t *testing.T) *swaytest.Sway {
	t.Helper()
	dir := swaytest.Folder(t)
	conf := filepath.Join(dir, "sway.conf")
	if err := os.WriteFile(conf, []byte(testConf), 0o644); err != nil {
		t.Fatal(err)
	}
	return swaytest.Start(t, conf)
}

func ctx2(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRealSwayCalls(t *testing.T) {
	s := startSway(t)
	c, err := Dial(ctx2(t), s.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.Version(ctx2(t))
	if err != nil {
		t.Fatal(err)
	}
	if v.Major != 1 || v.Human == "" {
		t.Fatalf("version %+v", v)
	}
	if err := c.Command(ctx2(t), "output * bg #102030 solid_color"); err != nil {
		t.Fatalf("a good command: %v", err)
	}
	err = c.Command(ctx2(t), "no-such-command at all")
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Reason == "" {
		t.Fatalf("a bad command gave %v, want a CommandError with sway's reason", err)
	}
	tree, err := c.Tree(ctx2(t))
	if err != nil {
		t.Fatal(err)
	}
	outs := tree.Outputs()
	if len(outs) != 1 || outs[0].Rect.Width != 1280 || outs[0].Rect.Height != 720 {
		t.Fatalf("outputs %+v", outs)
	}
}

// TestSubscriptionAcrossRestart: window events reach the link before and
// after sway restarts, and the link says sway was away meanwhile.
func TestSubscriptionAcrossRestart(t *testing.T) {
	swaytest.Need(t, "foot")
	s := startSway(t)
	events := make(chan WindowEvent, 64)
	states := make(chan bool, 16)
	ups := make(chan struct{}, 16)
	l := NewLink(LinkOptions{
		Path:    func() string { return s.Socket },
		Up:      func(ctx context.Context, c *Conn) error { ups <- struct{}{}; return nil },
		Event:   func(ev WindowEvent) { events <- ev },
		State:   func(up bool, _ string) { states <- up },
		Backoff: Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
	})
	defer l.Close()
	waitState(t, states, true)
	<-ups
	openWindow := func(appID string) {
		t.Helper()
		cmd := s.Command("foot", "--app-id="+appID, "sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, events, "new", appID)
	}
	openWindow("before")
	s.Restart()
	waitState(t, states, false)
	waitState(t, states, true)
	openWindow("after")
	if err := l.Command(context.Background(), "output * bg #000000 solid_color"); err != nil {
		t.Fatalf("a command after the restart: %v", err)
	}
}

func waitState(t *testing.T, states <-chan bool, want bool) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case up := <-states:
			if up == want {
				return
			}
		case <-timeout:
			t.Fatalf("the link never said up=%v", want)
		}
	}
}

func waitEvent(t *testing.T, events <-chan WindowEvent, change, appID string) WindowEvent {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Change == change && ev.Container.AppID == appID {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %q window event for %q", change, appID)
		}
	}
}

// fakeSway serves one connection with reply, a function of what it read.
func fakeSway(t *testing.T, reply func(c net.Conn)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ipc.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var head [14]byte
				if _, err := c.Read(head[:]); err != nil {
					return
				}
				reply(c)
			}()
		}
	}()
	return path
}

func frame(typ uint32, n uint32, body string) []byte {
	b := []byte(magic)
	b = binary.NativeEndian.AppendUint32(b, n)
	b = binary.NativeEndian.AppendUint32(b, typ)
	return append(b, body...)
}

func TestBrokenReplies(t *testing.T) {
	cases := map[string]struct {
		reply []byte
		hold  bool // keep the connection open, answering nothing more
		want  string
	}{
		"bad magic":        {reply: []byte("i3-ipX\x00\x00\x00\x00\x07\x00\x00\x00"), want: "malformed"},
		"huge":             {reply: frame(typeGetVersion, 0xFFFFFFF0, ""), hold: true, want: "cap"},
		"bad json":         {reply: frame(typeGetVersion, 5, "{nope"), want: "JSON"},
		"short body":       {reply: frame(typeGetVersion, 100, "{}"), want: "unexpected EOF"},
		"wrong type":       {reply: frame(typeGetTree, 2, "{}"), want: "type 4"},
		"silent":           {hold: true, want: "deadline"},
		"half a header":    {reply: []byte("i3-i"), hold: true, want: "deadline"},
		"no major version": {reply: frame(typeGetVersion, 2, "{}"), want: "major"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := fakeSway(t, func(c net.Conn) {
				c.Write(tc.reply)
				if tc.hold {
					time.Sleep(3 * time.Second)
				}
			})
			c, err := Dial(ctx2(t), path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err = c.Version(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("the error took %v", d)
			}
		})
	}
}

// TestSocketGone: a socket that vanishes gives the link's "down" and an
// error on calls at once; the link comes back when a sway is there again.
func TestSocketGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipc.sock")
	serve := func() net.Listener {
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					var head [14]byte
					for {
						if _, err := c.Read(head[:]); err != nil {
							return
						}
						body := `{"success":true}`
						typ := binary.NativeEndian.Uint32(head[10:])
						n := binary.NativeEndian.Uint32(head[6:])
						if n > 0 {
							c.Read(make([]byte, n))
						}
						if typ == typeRunCommand {
							body = `[{"success":true}]`
						}
						c.Write(frame(typ, uint32(len(body)), body))
					}
				}()
			}
		}()
		return ln
	}
	ln := serve()
	states := make(chan bool, 16)
	l := NewLink(LinkOptions{Path: func() string { return path }, State: func(up bool, _ string) { states <- up },
		Backoff: Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond}})
	defer l.Close()
	waitState(t, states, true)
	if err := l.Command(context.Background(), "nop"); err != nil {
		t.Fatal(err)
	}
	ln.Close() // closes the listener and removes the socket
	os.Remove(path)
	// The open connections are still there: cut them like a dead sway.
	l.mu.Lock()
	l.events.c.Close()
	l.mu.Unlock()
	waitState(t, states, false)
	start := time.Now()
	if err := l.Command(context.Background(), "nop"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a command while sway is gone: %v", err)
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Fatal("a command while sway is gone waited")
	}
	ln = serve()
	defer ln.Close()
	waitState(t, states, true)
}
