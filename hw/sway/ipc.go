// Package sway speaks to the sway compositor through its IPC socket
// ($SWAYSOCK, the i3-ipc framing): commands, the window tree, the version
// and window events, and on top of them the kiosk's layout (the shell's
// window full screen, or a call bar under the partner's video client).
package sway

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Message types of the i3-ipc protocol that borne uses.
const (
	typeRunCommand = 0
	typeSubscribe  = 2
	typeGetTree    = 4
	typeGetVersion = 7

	eventOutput   = 0x80000001
	eventWindow   = 0x80000003
	eventShutdown = 0x80000010
	eventBit      = 0x80000000
)

const magic = "i3-ipc"

// MaxPayload caps a reply or an event: sway's tree on a kiosk is a few
// kilobytes, so anything near this is a broken or hostile peer, refused
// rather than allocated.
const MaxPayload = 8 << 20

// ErrClosed is returned by calls on a closed connection.
var ErrClosed = errors.New("sway: connection closed")

// Conn is one connection to sway's IPC socket, for calls (one at a time)
// or, once subscribed, for events.
type Conn struct {
	mu   sync.Mutex
	c    net.Conn
	path string
}

// Dial connects to sway's socket at path within ctx's deadline.
func Dial(ctx context.Context, path string) (*Conn, error) {
	if path == "" {
		return nil, errors.New("sway: no IPC socket ($SWAYSOCK is empty)")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("sway: cannot reach the IPC socket %s: %w", path, err)
	}
	return &Conn{c: c, path: path}, nil
}

// Close closes the connection; safe to call more than once.
func (c *Conn) Close() error {
	if c == nil {
		return nil
	}
	return c.c.Close()
}

// Call sends one message and reads its reply, within ctx's deadline (5
// seconds when ctx has none): a sway that hangs or dies gives an error,
// never a wait.
func (c *Conn) Call(ctx context.Context, typ uint32, payload []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(5 * time.Second)
	}
	c.c.SetDeadline(dl)
	defer c.c.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Now()) })
	defer stop()
	if err := write(c.c, typ, payload); err != nil {
		return nil, c.fail(ctx, "send", typ, err)
	}
	for {
		rt, body, err := read(c.c)
		if err != nil {
			return nil, c.fail(ctx, "read the reply to", typ, err)
		}
		if rt&eventBit != 0 {
			continue // an event on a subscribed connection: not our reply
		}
		if rt != typ {
			return nil, fmt.Errorf("sway: reply of type %d to a message of type %d", rt, typ)
		}
		return body, nil
	}
}

func (c *Conn) fail(ctx context.Context, what string, typ uint32, err error) error {
	if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("no answer before the deadline: %w", context.DeadlineExceeded)
	}
	if errors.Is(err, net.ErrClosed) {
		err = ErrClosed
	}
	return fmt.Errorf("sway: cannot %s message type %d: %w", what, typ, err)
}

func write(w io.Writer, typ uint32, payload []byte) error {
	buf := make([]byte, 0, 14+len(payload))
	buf = append(buf, magic...)
	buf = binary.NativeEndian.AppendUint32(buf, uint32(len(payload)))
	buf = binary.NativeEndian.AppendUint32(buf, typ)
	buf = append(buf, payload...)
	_, err := w.Write(buf)
	return err
}

// FrameError is a reply that does not follow the i3-ipc framing.
type FrameError struct{ Reason string }

func (e *FrameError) Error() string { return "sway: malformed IPC message: " + e.Reason }

func read(r io.Reader) (uint32, []byte, error) {
	var head [14]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	if string(head[:6]) != magic {
		return 0, nil, &FrameError{Reason: fmt.Sprintf("starts with %q instead of %q", head[:6], magic)}
	}
	n := binary.NativeEndian.Uint32(head[6:10])
	typ := binary.NativeEndian.Uint32(head[10:14])
	if n > MaxPayload {
		return 0, nil, &FrameError{Reason: fmt.Sprintf("a payload of %d bytes is over the %d-byte cap", n, MaxPayload)}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return typ, body, nil
}

func decode(typ uint32, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &FrameError{Reason: fmt.Sprintf("the JSON of a message of type %#x: %v", typ, err)}
	}
	return nil
}

// CommandError is a command sway refused.
type CommandError struct {
	Command string
	Reason  string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("sway refused %q: %s", e.Command, e.Reason)
}

// Command runs sway commands (separated by ";" or ",") and fails with the
// first one sway refused.
func (c *Conn) Command(ctx context.Context, cmd string) error {
	body, err := c.Call(ctx, typeRunCommand, []byte(cmd))
	if err != nil {
		return err
	}
	var res []struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
	}
	if err := decode(typeRunCommand, body, &res); err != nil {
		return err
	}
	for _, r := range res {
		if !r.Success {
			return &CommandError{Command: cmd, Reason: r.Error}
		}
	}
	return nil
}

// Version is sway's GET_VERSION reply.
type Version struct {
	Major   int    `json:"major"`
	Minor   int    `json:"minor"`
	Patch   int    `json:"patch"`
	Human   string `json:"human_readable"`
	Variant string `json:"variant"`
}

// AtLeast tells whether this version is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// Version asks sway for its version.
func (c *Conn) Version(ctx context.Context) (Version, error) {
	var v Version
	body, err := c.Call(ctx, typeGetVersion, nil)
	if err != nil {
		return v, err
	}
	if err := decode(typeGetVersion, body, &v); err != nil {
		return v, err
	}
	if v.Major == 0 {
		return v, &FrameError{Reason: "GET_VERSION without a major version"}
	}
	return v, nil
}

// Rect is a node's place on the layout, in pixels.
type Rect struct {
	X      int `json:"x"`
	Y      int `json:"y"`
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Node is a node of sway's tree: an output, a workspace, a window.
type Node struct {
	ID             int64   `json:"id"`
	Name           string  `json:"name"`
	Type           string  `json:"type"`
	Rect           Rect    `json:"rect"`
	PID            int     `json:"pid"`
	AppID          string  `json:"app_id"`
	Fullscreen     int     `json:"fullscreen_mode"`
	Focused        bool    `json:"focused"`
	Visible        bool    `json:"visible"`
	Active         bool    `json:"active"`
	Power          bool    `json:"power"`
	DPMS           bool    `json:"dpms"`
	Nodes          []*Node `json:"nodes"`
	FloatingNodes  []*Node `json:"floating_nodes"`
	CurrentMode    *Mode   `json:"current_mode"`
	WindowProperty any     `json:"window_properties"`
}

// Mode is an output's mode.
type Mode struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Window tells whether the node is an application's window.
func (n *Node) Window() bool {
	return (n.Type == "con" || n.Type == "floating_con") && (n.PID > 0 || n.AppID != "") && len(n.Nodes) == 0
}

// Walk calls f on the node and every node below it, tiled and floating.
func (n *Node) Walk(f func(*Node)) {
	if n == nil {
		return
	}
	f(n)
	for _, c := range n.Nodes {
		c.Walk(f)
	}
	for _, c := range n.FloatingNodes {
		c.Walk(f)
	}
}

// Windows lists the application windows under n.
func (n *Node) Windows() []*Node {
	var out []*Node
	n.Walk(func(c *Node) {
		if c.Window() {
			out = append(out, c)
		}
	})
	return out
}

// Outputs lists the active outputs (sway's tree starts with the root,
// whose children are the outputs, the first one the scratchpad's).
func (n *Node) Outputs() []*Node {
	var out []*Node
	for _, c := range n.Nodes {
		if c.Type == "output" && !strings.HasPrefix(c.Name, "__") && c.Active {
			out = append(out, c)
		}
	}
	return out
}

// Tree asks sway for its whole tree.
func (c *Conn) Tree(ctx context.Context) (*Node, error) {
	body, err := c.Call(ctx, typeGetTree, nil)
	if err != nil {
		return nil, err
	}
	var n Node
	if err := decode(typeGetTree, body, &n); err != nil {
		return nil, err
	}
	if n.Type != "root" {
		return nil, &FrameError{Reason: fmt.Sprintf("GET_TREE gave a %q node instead of the root", n.Type)}
	}
	return &n, nil
}

// WindowEvent is one of sway's window events: a window opened ("new"),
// closed ("close"), went full screen ("fullscreen_mode"), etc.
type WindowEvent struct {
	Change    string `json:"change"`
	Container Node   `json:"container"`
}

// Subscribe makes this connection an event connection for the window
// events, the output events where sway has them (from 1.8; 1.7 refuses
// them) and sway's own shutdown. Use Next to read them.
func (c *Conn) Subscribe(ctx context.Context) error {
	err := c.subscribe(ctx, `["window","output","shutdown"]`)
	if err != nil && errors.Is(err, errRefused) {
		err = c.subscribe(ctx, `["window","shutdown"]`)
	}
	return err
}

var errRefused = errors.New("sway refused the subscription to window events")

func (c *Conn) subscribe(ctx context.Context, events string) error {
	body, err := c.Call(ctx, typeSubscribe, []byte(events))
	if err != nil {
		return err
	}
	var res struct {
		Success bool `json:"success"`
	}
	if err := decode(typeSubscribe, body, &res); err != nil {
		return err
	}
	if !res.Success {
		return errRefused
	}
	return nil
}

// ChangeOutput is the Change of the event Next returns when an output
// changed.
const ChangeOutput = "output"

// ErrShutdown is returned by Next when sway says it is stopping.
var ErrShutdown = errors.New("sway is shutting down")

// Next waits for the next window event on a subscribed connection. It has
// no deadline of its own (events come when they come): closing the
// connection ends the wait.
func (c *Conn) Next() (WindowEvent, error) {
	for {
		typ, body, err := read(c.c)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				err = ErrClosed
			}
			return WindowEvent{}, err
		}
		switch typ {
		case eventShutdown:
			return WindowEvent{}, ErrShutdown
		case eventOutput:
			// An output came, went or changed its mode: said as a
			// window event of its own kind, with no window.
			return WindowEvent{Change: ChangeOutput}, nil
		case eventWindow:
			var ev WindowEvent
			if err := decode(typ, body, &ev); err != nil {
				return ev, err
			}
			return ev, nil
		}
	}
}
