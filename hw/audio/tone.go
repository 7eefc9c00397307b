package audio

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/jfreymuth/pulse/proto"

	"github.com/loiret/borne/hw"
)

// toneHz and toneLevel make a tone an agent hears clearly without
// startling anyone in the room.
const (
	toneHz    = 660
	toneLevel = 0.3
	rate      = 48000
)

var mono = proto.SampleSpec{Format: proto.FormatFloat32LE, Channels: 1, Rate: rate}

// PlayTone implements hw.SoundTester: a sine on the default speaker, on a
// connection of its own so a stuck stream never holds the shell's. It
// returns once the server has played it.
func (b *Backend) PlayTone(ctx context.Context, d time.Duration) error {
	if up, reason := b.Status(); !up {
		return fmt.Errorf("%w: %s", hw.ErrUnavailable, reason)
	}
	asked := make(chan int, 256)
	c, err := b.connect(func(msg any) {
		if r, ok := msg.(*proto.Request); ok {
			select {
			case asked <- int(r.Length):
			default: // more data is asked than a short tone has
			}
		}
	})
	if err != nil {
		return err
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- playSine(c, asked, int(d.Seconds()*rate)) }()
	ctx, cancel := context.WithTimeout(ctx, d+2*b.o.Timeout)
	defer cancel()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("the sound server did not play the test tone: %v", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the test tone did not play: %w", ctx.Err())
	}
}

// playSine writes samples as the server asks for them, then waits until
// they are played. Closing the connection ends it early.
func playSine(c *conn, asked <-chan int, samples int) error {
	var reply proto.CreatePlaybackStreamReply
	err := c.Request(&proto.CreatePlaybackStream{
		SampleSpec: mono, ChannelMap: proto.ChannelMap{proto.ChannelMono},
		SinkIndex: proto.Undefined, BufferMaxLength: proto.Undefined,
		BufferTargetLength: proto.Undefined, BufferPrebufferLength: proto.Undefined,
		BufferMinimumRequest: proto.Undefined, SyncID: 0,
		ChannelVolumes: proto.ChannelVolumes{uint32(proto.VolumeNorm)},
		Properties:     proto.PropList{"media.name": proto.PropListString("borne sound test")},
	}, &reply)
	if err != nil {
		return err
	}
	n := 0
	want := int(reply.Missing)
	for n < samples {
		if want <= 0 {
			want = <-asked
			continue
		}
		k := min(want/4, samples-n, rate/10)
		if k == 0 {
			want = 0
			continue
		}
		buf := make([]byte, 4*k)
		for i := range k {
			v := toneLevel * math.Sin(2*math.Pi*toneHz*float64(n+i)/rate)
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(v)))
		}
		if err := c.c.Send(reply.StreamIndex, buf); err != nil {
			return err
		}
		n, want = n+k, want-4*k
	}
	if err := c.Request(&proto.DrainPlaybackStream{StreamIndex: reply.StreamIndex}, nil); err != nil {
		return err
	}
	return c.Request(&proto.DeletePlaybackStream{StreamIndex: reply.StreamIndex}, nil)
}

// MicLevels implements hw.SoundTester: the default microphone's peak
// level over each tenth of a second, until ctx ends.
func (b *Backend) MicLevels(ctx context.Context) (<-chan float64, error) {
	if up, reason := b.Status(); !up {
		return nil, fmt.Errorf("%w: %s", hw.ErrUnavailable, reason)
	}
	m := &meter{every: rate / 10, out: make(chan float64, 64)}
	c, err := b.connect(func(msg any) {
		if p, ok := msg.(*proto.DataPacket); ok {
			m.write(p.Data)
		}
	})
	if err != nil {
		return nil, err
	}
	var reply proto.CreateRecordStreamReply
	err = c.Request(&proto.CreateRecordStream{
		SampleSpec: mono, ChannelMap: proto.ChannelMap{proto.ChannelMono},
		SourceIndex: proto.Undefined, BufferMaxLength: proto.Undefined,
		BufferFragSize: 4 * rate / 20, DirectOnInputIndex: proto.Undefined,
		ChannelVolumes: proto.ChannelVolumes{uint32(proto.VolumeNorm)},
		Properties:     proto.PropList{"media.name": proto.PropListString("borne microphone test")},
	}, &reply)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("the sound server refused to record: %v", err)
	}
	go func() {
		<-ctx.Done()
		c.Close()
		m.close()
	}()
	return m.out, nil
}

// meter turns samples into peak levels, one every `every` samples. The
// library may deliver a last buffer after the connection closed: the lock
// keeps it off the closed channel.
type meter struct {
	every  int
	n      int
	peak   float64
	out    chan float64
	mu     sync.Mutex
	closed bool
}

func (m *meter) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		close(m.out)
	}
}

func (m *meter) write(data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	for i := 0; i+4 <= len(data); i += 4 {
		s := math.Float32frombits(binary.LittleEndian.Uint32(data[i:]))
		m.peak = max(m.peak, math.Abs(float64(s)))
		m.n++
		if m.n >= m.every {
			select {
			case m.out <- m.peak:
			default: // nobody reading: drop, the next one is as good
			}
			m.n, m.peak = 0, 0
		}
	}
}
