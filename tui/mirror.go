package tui

import (
	"sync"
	"sync/atomic"
)

// Frame is one screen as the kiosk drew it: the View's content (text with
// its colours), the terminal's size and the kiosk's state.
type Frame struct {
	Content       string
	Width, Height int
	Kiosk         KioskState
	Seq           uint64 // bumps on every change
}

// Mirror holds the latest frame the kiosk drew, for remote help. The shell
// never waits for a viewer, and a viewer never waits for the shell: View
// stores a pointer and nudges the subscribers that are not already nudged.
type Mirror struct {
	last atomic.Pointer[Frame]
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// NewMirror returns an empty mirror.
func NewMirror() *Mirror {
	m := &Mirror{subs: map[chan struct{}]struct{}{}}
	m.last.Store(&Frame{})
	return m
}

// Publish records a frame (its Seq is ignored); an unchanged one costs a
// comparison.
func (m *Mirror) Publish(f Frame) {
	old := m.last.Load()
	f.Seq = old.Seq
	if *old == f {
		return
	}
	f.Seq++
	m.last.Store(&f)
	m.mu.Lock()
	for ch := range m.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	m.mu.Unlock()
}

// Frame returns the latest frame.
func (m *Mirror) Frame() Frame { return *m.last.Load() }

// Subscribe returns a channel that receives a value after the frame
// changed (several changes may give one value), and the function that
// ends the subscription.
func (m *Mirror) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	m.mu.Lock()
	m.subs[ch] = struct{}{}
	m.mu.Unlock()
	return ch, func() {
		m.mu.Lock()
		delete(m.subs, ch)
		m.mu.Unlock()
	}
}
