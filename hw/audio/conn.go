package audio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jfreymuth/pulse/proto"
)

// conn is one connection to the server, over the library's protocol
// client. The library's own dialer sets its message handler only after
// the handshake, so a server dying during it would crash the shell: this
// one sets it first.
type conn struct {
	c  *proto.Client
	nc net.Conn
}

func (c *conn) Close() { c.nc.Close() }

func (c *conn) Request(req proto.RequestArgs, rpl proto.Reply) error { return c.c.Request(req, rpl) }

// dial connects, authenticates and names the client within ctx. on
// receives the server's messages (stream requests, recorded data, the
// connection's end); nil drops them.
func dial(ctx context.Context, server string, getenv func(string) string, timeout time.Duration, on func(any)) (*conn, error) {
	network, addr, err := parseServer(server)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl) // the handshake too
	}
	if on == nil {
		on = func(any) {}
	}
	c := &proto.Client{Callback: on}
	c.SetTimeout(timeout)
	c.Open(nc)
	var auth proto.AuthReply
	if err := c.Request(&proto.Auth{Version: c.Version(), Cookie: cookie(getenv)}, &auth); err != nil {
		nc.Close()
		return nil, fmt.Errorf("refused: %w", err)
	}
	c.SetVersion(auth.Version)
	props := proto.PropList{
		"application.name":       proto.PropListString("borne"),
		"application.process.id": proto.PropListString(fmt.Sprint(os.Getpid())),
	}
	if err := c.Request(&proto.SetClientName{Props: props}, &proto.SetClientNameReply{}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("refused: %w", err)
	}
	nc.SetDeadline(time.Time{})
	return &conn{c: c, nc: nc}, nil
}

// parseServer reads the one server of a PulseAudio server string that
// the kiosk uses: a local socket, or a TCP address.
func parseServer(s string) (network, addr string, err error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '}'); strings.HasPrefix(s, "{") && i > 0 {
		s = s[i+1:]
	}
	if f := strings.Fields(s); len(f) > 0 {
		s = f[0]
	}
	switch {
	case strings.HasPrefix(s, "/"):
		return "unix", s, nil
	case strings.HasPrefix(s, "unix:"):
		return "unix", s[len("unix:"):], nil
	case strings.HasPrefix(s, "tcp:"), strings.HasPrefix(s, "tcp4:"), strings.HasPrefix(s, "tcp6:"):
		i := strings.IndexByte(s, ':')
		return s[:i], s[i+1:], nil
	}
	return "", "", fmt.Errorf("%q is not a sound server address (like unix:/run/user/1000/pulse/native)", s)
}

// cookie is the client's key, where PulseAudio keeps it; pipewire-pulse
// takes any.
func cookie(getenv func(string) string) []byte {
	path := getenv("PULSE_COOKIE")
	if path == "" && getenv("HOME") != "" {
		path = filepath.Join(getenv("HOME"), ".config", "pulse", "cookie")
	}
	if path != "" {
		if b, err := os.ReadFile(path); err == nil && len(b) == 256 {
			return b
		}
	}
	return make([]byte, 256)
}

// lost tells a server gone or hung from a server refusing a request.
func lost(err error) bool {
	var pe proto.Error
	return err != nil && !errors.As(err, &pe)
}

func noDevice(err error) bool {
	var pe proto.Error
	return errors.As(err, &pe) && pe == proto.ErrNoSuchEntity
}
