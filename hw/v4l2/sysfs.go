//go:build linux

package v4l2

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Node is a video device node as sysfs describes it.
type Node struct {
	Name   string // "video0"
	Device string // "/dev/video0"
	Card   string // the sysfs name, like "HD Pro Webcam C920"
	Index  int    // the node's index within its device: 0 is the capture node of a UVC camera
}

// List finds the video nodes under sysRoot (normally "/sys"), in name
// order.
func List(sysRoot string) ([]Node, error) {
	dir := filepath.Join(sysRoot, "class", "video4linux")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // no V4L2 driver loaded: no camera
		}
		return nil, err
	}
	var out []Node
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "video") {
			continue
		}
		out = append(out, describe(dir, e.Name()))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func describe(dir, name string) Node {
	n := Node{Name: name, Device: "/dev/" + name}
	if b, err := os.ReadFile(filepath.Join(dir, name, "name")); err == nil {
		n.Card = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(dir, name, "index")); err == nil {
		fmt.Sscan(strings.TrimSpace(string(b)), &n.Index)
	}
	return n
}

// Find describes the node of device (like "/dev/video0", or a udev
// symlink like "/dev/v4l/by-id/…") under sysRoot. It fails with
// fs.ErrNotExist when sysfs knows no such node.
func Find(sysRoot, device string) (Node, error) {
	base := filepath.Base(device)
	if real, err := filepath.EvalSymlinks(device); err == nil {
		base = filepath.Base(real)
	}
	dir := filepath.Join(sysRoot, "class", "video4linux")
	if _, err := os.Stat(filepath.Join(dir, base)); err != nil {
		return Node{}, fmt.Errorf("%s: no %s under %s: %w", device, base, dir, fs.ErrNotExist)
	}
	n := describe(dir, base)
	n.Device = device
	return n, nil
}
