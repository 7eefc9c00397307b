package tui

import (
	"fmt"
	"testing"

	"github.com/charmbracelet/x/exp/golden"
)

// The screens as a citizen sees them, at the smallest supported terminal
// and a large one. Run `go test ./tui -update` after a deliberate change and
// read the diff.
func TestGoldenScreens(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		for _, lang := range []string{"fr", "en"} {
			name := fmt.Sprintf("%dx%d/%s", size[0], size[1], lang)
			t.Run(name+"/home", func(t *testing.T) {
				h := newHarness(t, size[0], size[1])
				h.m.lang = lang
				golden.RequireEqual(t, h.m.View().Content)
			})
			t.Run(name+"/operator", func(t *testing.T) {
				h := newHarness(t, size[0], size[1])
				h.m.lang = lang
				h.tap("op:0")
				golden.RequireEqual(t, h.m.View().Content)
			})
		}
	}
}
