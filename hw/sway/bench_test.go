package sway

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/loiret/borne/hw/sway/swaytest"
)

// BenchmarkRealSway: one RUN_COMMAND and one GET_TREE round trip to a real
// headless sway, the cost of each placement and of each look at the tree.
func BenchmarkRealSway(b *testing.B) {
	dir := swaytest.Folder(b)
	conf := filepath.Join(dir, "sway.conf")
	os.WriteFile(conf, []byte(testConf), 0o644)
	s := swaytest.Start(b, conf)
	c, err := Dial(context.Background(), s.Socket)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.Run("command", func(b *testing.B) {
		for b.Loop() {
			if err := c.Command(context.Background(), "nop"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tree", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.Tree(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
