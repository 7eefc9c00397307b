package tui

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/usage"
)

// BenchmarkTap is one touch at 200×60: the press, the release that opens
// an operator, the frame drawn; then Esc home and its frame. Reported per
// tap (half of each loop).
func BenchmarkTap(b *testing.B) {
	h := newHarness(b, 200, 60)
	x, y, _ := h.find("op:0")
	m := h.m
	press := tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft}
	release := tea.MouseReleaseMsg{X: x, Y: y, Button: tea.MouseLeft}
	esc := tea.KeyPressMsg{Code: tea.KeyEscape}
	b.ReportAllocs()
	for b.Loop() {
		h.advance(tapGuard) // a person, not a double tap
		next, _ := m.Update(press)
		next, _ = next.(Model).Update(release)
		_ = next.(Model).View()
		next, _ = next.(Model).Update(esc)
		_ = next.(Model).View()
		m = next.(Model)
	}
	if m.Screen() != "home" {
		b.Fatalf("ended on %s", m.Screen())
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/2, "µs/tap")
}

// BenchmarkView is one frame of the home screen at 200×60.
func BenchmarkView(b *testing.B) {
	h := newHarness(b, 200, 60)
	b.ReportAllocs()
	for b.Loop() {
		_ = h.m.View()
	}
}

// TestMemoryFlatOverCalls runs 1,000 simulated calls through Update and
// checks the heap after N and 2N calls: a kiosk that grows a little with
// each call dies in a month. Messages are fed by hand, so no timer or
// goroutine of the harness holds memory.
func TestMemoryFlatOverCalls(t *testing.T) {
	h := newHarness(t, 100, 30)
	m := h.m
	// Timers as the kiosk has them: a command, kept by nobody.
	m.d.After = func(d time.Duration, msg tea.Msg) tea.Cmd { return after(d, msg) }
	// Events go to a log that keeps none, as the kiosk's is on disk (the
	// harness's keeps every event in memory).
	recorded := &droppingLog{}
	m.d.Log = recorded
	sessions := h.mach.Hardware().Sessions
	up := func(msg tea.Msg) {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	tap := func(id string) {
		h.advance(tapGuard) // a person, not a double tap
		for _, tg := range m.layout().targets {
			if tg.id == id {
				up(tea.MouseClickMsg{X: tg.x + 1, Y: tg.y + 1, Button: tea.MouseLeft})
				up(tea.MouseReleaseMsg{X: tg.x + 1, Y: tg.y + 1, Button: tea.MouseLeft})
				return
			}
		}
		t.Fatalf("no %s on %s", id, m.Screen())
	}
	call := func() {
		tap("op:0")
		tap(idCall)
		up(readyMsg{gen: m.call.gen})
		s, err := sessions.Start(t.Context(), m.ops[0])
		if err != nil {
			t.Fatal(err)
		}
		up(sessionStartedMsg{gen: m.call.gen, s: s})
		_ = m.View()
		tap(idEnd)
		s.End(t.Context())
		up(sessionEndedMsg{gen: m.call.gen, end: <-s.Done()})
		tap("score:5")
		_ = m.View()
		if m.Screen() != "home" {
			t.Fatalf("a call ended on %s", m.Screen())
		}
	}
	heap := func() uint64 {
		m.recq.push(func() {})() // the events recorded
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	const n = 500
	for range n {
		call()
	}
	at1 := heap()
	for range n {
		call()
	}
	at2 := heap()
	t.Logf("heap after %d calls: %d KiB, after %d: %d KiB (%d events recorded)", n, at1/1024, 2*n, at2/1024, recorded.n.Load())
	if at2 > at1+256*1024 {
		t.Fatalf("the heap grew by %d KiB over %d calls", (at2-at1)/1024, n)
	}
}

// droppingLog counts the events it is given and keeps none.
type droppingLog struct{ n atomic.Int64 }

func (l *droppingLog) Record(_ context.Context, e usage.Event) (usage.Event, error) {
	l.n.Add(1)
	return e, nil
}
