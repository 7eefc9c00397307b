package main

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestE2ESizeChangedAtStart: a terminal resized in the shell's first
// instants (sway placing foot's window does this) gets a screen drawn at
// its new size, whenever in the first 50 ms the change came.
func TestE2ESizeChangedAtStart(t *testing.T) {
	delays := []time.Duration{0, 15 * time.Millisecond, 30 * time.Millisecond, 50 * time.Millisecond}
	var wg sync.WaitGroup
	terms := make([]*term, len(delays))
	for i, d := range delays {
		cfg, _ := testConfig(t)
		terms[i] = startTerm(t, 60, 20, "run", "--config", cfg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(d)
			terms[i].tmux("resize-window", "-t", "k", "-x", "116", "-y", "36")
		}()
	}
	wg.Wait()
	for _, tm := range terms {
		tm.waitUntil("the home screen at 116 columns", func(s string) bool {
			first := strings.TrimRight(strings.SplitN(s, "\n", 2)[0], " ")
			return strings.Contains(s, "Appel d'essai") && len([]rune(first)) == 114
		})
	}
	for _, tm := range terms {
		if got := strings.TrimSpace(tm.tmux("display", "-p", "-t", "k", "#{window_width}x#{window_height}")); got != strconv.Itoa(116)+"x36" {
			t.Fatalf("tmux says %s", got)
		}
	}
}
