package tui

import (
	"strings"
	"testing"
)

// Every frame drawn goes to the mirror for remote help; an unchanged frame
// wakes nobody, and a subscriber that lags gets one nudge for many frames.
func TestMirror(t *testing.T) {
	mirror := NewMirror()
	ch, cancel := mirror.Subscribe()
	defer cancel()

	hs := newHarness(t, 100, 30)
	hs.m.d.Mirror = mirror
	v := hs.m.View()
	f := mirror.Frame()
	if f.Content != v.Content || f.Width != 100 || f.Height != 30 || f.Seq != 1 {
		t.Fatalf("frame %dx%d seq %d, content as drawn: %v", f.Width, f.Height, f.Seq, f.Content == v.Content)
	}
	if !strings.Contains(f.Content, "Touchez") {
		t.Fatalf("the mirror does not hold the home screen:\n%s", f.Content)
	}
	hs.m.View()
	if mirror.Frame().Seq != 1 {
		t.Fatal("an unchanged frame counted as a new one")
	}
	mirror.Publish(Frame{Content: "a", Width: 1, Height: 1})
	mirror.Publish(Frame{Content: "b", Width: 1, Height: 1})
	<-ch
	select {
	case <-ch:
		t.Fatal("two nudges for frames nobody read in between")
	default:
	}
	cancel()
	mirror.Publish(Frame{Content: "c", Width: 1, Height: 1}) // nobody listens: no block
	if mirror.Frame().Seq != 4 {
		t.Fatalf("seq %d", mirror.Frame().Seq)
	}
}
