// Package audio drives the kiosk's sound through the PulseAudio protocol
// (PipeWire's pipewire-pulse on the kiosk): the default speaker's volume,
// the microphones' mute, a test tone and a microphone meter.
//
// It follows the shape of hw/dbus/bus's Link: one connection kept by one
// goroutine, "unavailable" answered at once while the server is away, and
// recovery by itself, with the wanted state (microphone closed or open,
// volume) put back on every reconnection.
package audio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jfreymuth/pulse/proto"

	"github.com/loiret/borne/hw"
)

// Options say where the sound server is and what to keep it at.
type Options struct {
	// Server is a PulseAudio server string; "" means $PULSE_SERVER, else
	// $XDG_RUNTIME_DIR/pulse/native, read through Getenv.
	Server string
	Getenv func(string) string // nil: os.Getenv
	// Volume is the site's level, set at start and whenever Reset is
	// asked; 0 leaves the volume alone.
	Volume int
	// Passive back-ends (borne doctor) never change the server's state.
	Passive bool
	// Timeout bounds each call to the server; zero: 2s.
	Timeout time.Duration
	// Every is how often a live server is looked at (and the microphones
	// kept as wanted); zero: 1s.
	Every time.Duration
	// MinWait and MaxWait bound the back-off between attempts to reach
	// the server; zero: 100ms and 3s.
	MinWait, MaxWait time.Duration
	Log              *slog.Logger
}

// Backend is the sound server as the shell sees it.
type Backend struct {
	o       Options
	life    context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	ready   chan struct{}
	readyMu sync.Once
	kick    chan struct{}
	changes chan hw.Change

	// op is held through each change of the server's state, so the
	// watcher never puts back a level older than the one just asked.
	op sync.Mutex

	mu       sync.Mutex
	client   *conn // nil while away
	up       bool
	reported bool
	reason   string
	muted    bool // the microphones as wanted
	volume   int  // the speaker as wanted; 0: as it is
}

var (
	_ hw.Audio       = (*Backend)(nil)
	_ hw.SoundTester = (*Backend)(nil)
	_ hw.Doctor      = (*Backend)(nil)
)

// New starts following the sound server; it returns at once. The
// microphones are wanted closed from the start.
func New(o Options) *Backend {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Every <= 0 {
		o.Every = time.Second
	}
	if o.MinWait <= 0 {
		o.MinWait = 100 * time.Millisecond
	}
	if o.MaxWait < o.MinWait {
		o.MaxWait = max(3*time.Second, o.MinWait)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Server == "" {
		o.Server = ServerFromEnv(o.Getenv)
	}
	life, cancel := context.WithCancel(context.Background())
	b := &Backend{
		o: o, life: life, cancel: cancel,
		done: make(chan struct{}), ready: make(chan struct{}),
		kick: make(chan struct{}, 1), changes: make(chan hw.Change, 16),
		muted: true, volume: o.Volume,
	}
	go b.run()
	return b
}

// ServerFromEnv is where a PulseAudio client finds its server.
func ServerFromEnv(getenv func(string) string) string {
	if s := getenv("PULSE_SERVER"); s != "" {
		return s
	}
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return "unix:" + filepath.Join(d, "pulse", "native")
	}
	return ""
}

// Changes carries the server's comings and goings as device "audio".
func (b *Backend) Changes() <-chan hw.Change { return b.changes }

// Ready is closed once the first attempt to reach the server is over.
func (b *Backend) Ready() <-chan struct{} { return b.ready }

// Status is the server's availability and, when away, why.
func (b *Backend) Status() (up bool, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.up, b.reasonLocked()
}

func (b *Backend) reasonLocked() string {
	if b.up {
		return ""
	}
	if b.reason == "" {
		return "the sound server was not reached yet"
	}
	return b.reason
}

// Close closes the microphones, stops following the server and closes
// the connection: a shell that stops never leaves a microphone open.
func (b *Backend) Close() error {
	if !b.o.Passive {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := b.SetMicMute(ctx, true); err != nil {
			b.o.Log.Warn("microphone not closed on the way out", "err", err)
		}
		cancel()
	}
	b.cancel()
	<-b.done
	b.readyMu.Do(func() { close(b.ready) })
	return nil
}

func (b *Backend) setState(up bool, reason string) {
	b.mu.Lock()
	changed := !b.reported || b.up != up
	b.up, b.reason, b.reported = up, reason, true
	b.mu.Unlock()
	if changed {
		if up {
			b.o.Log.Info("sound server available", "server", b.o.Server)
		} else {
			b.o.Log.Warn("sound server unavailable", "reason", reason)
		}
		select {
		case b.changes <- hw.Change{Device: "audio", OK: up, Reason: reason}:
		default: // the shell asks again before each call
		}
	}
	b.readyMu.Do(func() { close(b.ready) })
}

func (b *Backend) sleep(d time.Duration) bool {
	d -= time.Duration(rand.Int64N(int64(d)/4 + 1)) // backends that lost the server together do not knock in step
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.life.Done():
		return false
	}
}

func (b *Backend) run() {
	defer close(b.done)
	wait := time.Duration(0)
	for b.life.Err() == nil {
		c, err := b.connect(b.onControl)
		if err == nil {
			err = b.restore(c)
			if err != nil {
				c.Close()
			}
		}
		if err != nil {
			if b.life.Err() != nil {
				return
			}
			b.setState(false, err.Error())
			wait = min(max(wait*2, b.o.MinWait), b.o.MaxWait)
			if !b.sleep(wait) {
				return
			}
			continue
		}
		wait = 0
		b.mu.Lock()
		b.client = c
		b.mu.Unlock()
		b.setState(true, "")
		reason := b.watch(c)
		b.mu.Lock()
		b.client = nil
		b.mu.Unlock()
		c.Close()
		if b.life.Err() != nil {
			return
		}
		b.setState(false, reason)
		if !b.sleep(b.o.MinWait) {
			return
		}
	}
}

// connect reaches the server within the call timeout. A connection's
// end makes the watcher look at once.
func (b *Backend) connect(on func(any)) (*conn, error) {
	if b.o.Server == "" {
		return nil, errors.New("no sound server: neither PULSE_SERVER nor XDG_RUNTIME_DIR is set")
	}
	ctx, cancel := context.WithTimeout(b.life, b.o.Timeout)
	defer cancel()
	c, err := dial(ctx, b.o.Server, b.o.Getenv, b.o.Timeout, on)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the sound server at %s: %v (is pipewire-pulse running for the kiosk user?)", b.o.Server, err)
	}
	return c, nil
}

func (b *Backend) onControl(msg any) {
	if _, ok := msg.(*proto.ConnectionClosed); ok {
		b.poke()
	}
}

func (b *Backend) poke() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// restore puts the server as it is wanted: the microphones closed (or
// open during a call) and the volume the shell last set.
func (b *Backend) restore(c *conn) error {
	if b.o.Passive {
		return nil
	}
	b.mu.Lock()
	muted, volume := b.muted, b.volume
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.life, b.o.Timeout)
	defer cancel()
	if err := call(ctx, func() error { return setMute(c, muted) }); err != nil {
		return fmt.Errorf("the sound server refused to set the microphone: %w", err)
	}
	if volume > 0 {
		if err := call(ctx, func() error { return setVolume(c, volume) }); err != nil && !noDevice(err) {
			return fmt.Errorf("the sound server refused to set the volume: %w", err)
		}
	}
	return nil
}

// watch looks at the server every so often, keeping the microphones and
// the speaker as wanted (a microphone plugged in between calls is closed
// within a second; a speaker that appears gets the level), until it
// stops answering; it returns why.
func (b *Backend) watch(c *conn) string {
	t := time.NewTicker(b.o.Every)
	defer t.Stop()
	for {
		select {
		case <-b.life.Done():
			return "closed"
		case <-t.C:
		case <-b.kick:
		}
		ctx, cancel := context.WithTimeout(b.life, b.o.Timeout)
		err := call(ctx, func() error {
			b.op.Lock()
			defer b.op.Unlock()
			if b.o.Passive {
				return c.Request(&proto.GetServerInfo{}, &proto.GetServerInfoReply{})
			}
			b.mu.Lock()
			muted, volume := b.muted, b.volume
			b.mu.Unlock()
			if err := keepMute(c, muted); err != nil {
				return err
			}
			return keepVolume(c, volume)
		})
		cancel()
		if err != nil && lost(err) {
			if b.life.Err() != nil {
				return "closed"
			}
			return fmt.Sprintf("lost the sound server at %s: %v (pipewire-pulse stopped or crashed)", b.o.Server, err)
		}
	}
}

// call runs f with ctx's deadline. The library bounds each request by
// itself (a second), so an f left behind ends soon.
func call(ctx context.Context, f func() error) error {
	res := make(chan error, 1)
	go func() { res <- f() }()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// use runs f on the live connection with the call timeout, failing at once
// with hw.ErrUnavailable while the server is away. A failure that looks
// like a lost server makes the watcher look at once.
func (b *Backend) use(ctx context.Context, f func(c *conn) error) error {
	b.mu.Lock()
	c, reason := b.client, b.reasonLocked()
	b.mu.Unlock()
	if c == nil {
		return fmt.Errorf("%w: %s", hw.ErrUnavailable, reason)
	}
	ctx, cancel := context.WithTimeout(ctx, b.o.Timeout)
	defer cancel()
	err := call(ctx, func() error {
		b.op.Lock()
		defer b.op.Unlock()
		return f(c)
	})
	if lost(err) {
		b.poke()
		return fmt.Errorf("%w: %v", hw.ErrUnavailable, err)
	}
	return err
}

// Check implements hw.Audio: a speaker (the default sink) and a real
// microphone (the default source, not a speaker's monitor) are there.
func (b *Backend) Check(ctx context.Context) (hw.AudioStatus, error) {
	var st hw.AudioStatus
	err := b.use(ctx, func(c *conn) error {
		var err error
		st, err = check(c)
		return err
	})
	if err != nil {
		return hw.AudioStatus{Reason: err.Error()}, err
	}
	return st, nil
}

// fallbackSink is the sink pipewire-pulse makes up when there is no
// speaker at all, so that clients have somewhere to play.
const fallbackSink = "auto_null"

func check(c *conn) (hw.AudioStatus, error) {
	var st hw.AudioStatus
	var why []string
	var sink proto.GetSinkInfoReply
	switch err := c.Request(&proto.GetSinkInfo{SinkIndex: proto.Undefined}, &sink); {
	case err == nil && sink.SinkName != fallbackSink:
		st.Speaker = true
	case err == nil || noDevice(err):
		why = append(why, "no speaker (the sound server has no output)")
	default:
		return st, err
	}
	var src proto.GetSourceInfoReply
	switch err := c.Request(&proto.GetSourceInfo{SourceIndex: proto.Undefined}, &src); {
	case err == nil && src.MonitorSourceIndex == proto.Undefined:
		st.Mic = true
	case err == nil || noDevice(err):
		why = append(why, "no microphone (the sound server has no input)")
	default:
		return st, err
	}
	st.Reason = strings.Join(why, "; ")
	return st, nil
}

// Volume implements hw.Audio: the default speaker's level, the mean of
// its channels.
func (b *Backend) Volume(ctx context.Context) (int, error) {
	var pct int
	err := b.use(ctx, func(c *conn) error {
		var sink proto.GetSinkInfoReply
		if err := c.Request(&proto.GetSinkInfo{SinkIndex: proto.Undefined}, &sink); err != nil {
			return err
		}
		pct = percent(sink.ChannelVolumes)
		return nil
	})
	return pct, err
}

// SetVolume implements hw.Audio. The level is kept, to be put back if the
// server restarts.
func (b *Backend) SetVolume(ctx context.Context, pct int) error {
	pct = min(max(pct, 0), 100)
	b.mu.Lock()
	b.volume = pct
	b.mu.Unlock()
	return b.use(ctx, func(c *conn) error { return setVolume(c, pct) })
}

// SetMicMute implements hw.Audio on every microphone of the server, not
// only the default one: a video client may pick another.
func (b *Backend) SetMicMute(ctx context.Context, muted bool) error {
	b.mu.Lock()
	b.muted = muted
	b.mu.Unlock()
	return b.use(ctx, func(c *conn) error { return setMute(c, muted) })
}

func percent(v proto.ChannelVolumes) int {
	if len(v) == 0 {
		return 0
	}
	var sum uint64
	for _, x := range v {
		sum += uint64(x)
	}
	return int((sum*100/uint64(len(v)) + uint64(proto.VolumeNorm)/2) / uint64(proto.VolumeNorm))
}

func setVolume(c *conn, pct int) error {
	var sink proto.GetSinkInfoReply
	if err := c.Request(&proto.GetSinkInfo{SinkIndex: proto.Undefined}, &sink); err != nil {
		return err
	}
	v := make(proto.ChannelVolumes, max(len(sink.ChannelMap), 1))
	for i := range v {
		v[i] = uint32(uint64(pct) * uint64(proto.VolumeNorm) / 100)
	}
	return c.Request(&proto.SetSinkVolume{SinkIndex: sink.SinkIndex, ChannelVolumes: v}, nil)
}

// keepVolume sets the default speaker's level when it is not the wanted
// one (0: leave it).
func keepVolume(c *conn, pct int) error {
	if pct <= 0 {
		return nil
	}
	var sink proto.GetSinkInfoReply
	if err := c.Request(&proto.GetSinkInfo{SinkIndex: proto.Undefined}, &sink); err != nil {
		if noDevice(err) {
			return nil
		}
		return err
	}
	if percent(sink.ChannelVolumes) == pct {
		return nil
	}
	return setVolume(c, pct)
}

func setMute(c *conn, muted bool) error {
	return eachMic(c, func(s *proto.GetSourceInfoReply) error {
		return c.Request(&proto.SetSourceMute{SourceIndex: s.SourceIndex, Mute: muted}, nil)
	})
}

// keepMute sets only the microphones that are not as wanted.
func keepMute(c *conn, muted bool) error {
	return eachMic(c, func(s *proto.GetSourceInfoReply) error {
		if s.Mute == muted {
			return nil
		}
		return c.Request(&proto.SetSourceMute{SourceIndex: s.SourceIndex, Mute: muted}, nil)
	})
}

// eachMic runs f on every source that is not a speaker's monitor.
func eachMic(c *conn, f func(*proto.GetSourceInfoReply) error) error {
	var srcs proto.GetSourceInfoListReply
	if err := c.Request(&proto.GetSourceInfoList{}, &srcs); err != nil {
		return err
	}
	for _, s := range srcs {
		if s.MonitorSourceIndex != proto.Undefined {
			continue
		}
		if err := f(s); err != nil && !noDevice(err) { // gone meanwhile
			return err
		}
	}
	return nil
}
