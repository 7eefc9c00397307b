//go:build linux

package v4l2

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The numbers below were printed by a C program including
// linux/videodev2.h on x86-64; any drift in the Go layout shows here.
func TestRequestNumbers(t *testing.T) {
	for _, c := range []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"VIDIOC_QUERYCAP", reqQueryCap, 0x80685600},
		{"VIDIOC_G_CTRL", reqGetCtrl, 0xc008561b},
		{"VIDIOC_S_CTRL", reqSetCtrl, 0xc008561c},
		{"VIDIOC_QUERYCTRL", reqQueryCtrl, 0xc0445624},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

func TestStructLayout(t *testing.T) {
	var q queryCtrl
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof(v4l2_capability)", unsafe.Sizeof(capability{}), 104},
		{"sizeof(v4l2_control)", unsafe.Sizeof(control{}), 8},
		{"sizeof(v4l2_queryctrl)", unsafe.Sizeof(q), 68},
		{"offsetof(v4l2_queryctrl, name)", unsafe.Offsetof(q.Name), 8},
		{"offsetof(v4l2_queryctrl, minimum)", unsafe.Offsetof(q.Minimum), 40},
		{"offsetof(v4l2_queryctrl, flags)", unsafe.Offsetof(q.Flags), 56},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestControlIDs(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uint32
	}{
		{"V4L2_CID_PAN_ABSOLUTE", CIDPanAbsolute, 0x009a0908},
		{"V4L2_CID_TILT_ABSOLUTE", CIDTiltAbsolute, 0x009a0909},
		{"V4L2_CID_ZOOM_ABSOLUTE", CIDZoomAbsolute, 0x009a090d},
		{"V4L2_CID_PRIVACY", CIDPrivacy, 0x009a0910},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

func TestClamp(t *testing.T) {
	pan := Control{Min: -36000, Max: 36000, Step: 3600}
	zoom := Control{Min: 100, Max: 500, Step: 1}
	for _, c := range []struct {
		c    Control
		v    int64
		want int32
	}{
		{pan, 0, 0},
		{pan, 7200, 7200},
		{pan, 5000, 3600},
		{pan, 5500, 7200},
		{pan, 180 * 3600, 36000},
		{pan, -180 * 3600, -36000},
		{zoom, 100, 100},
		{zoom, 50, 100},
		{zoom, 1000, 500},
		{Control{Min: 0, Max: 1, Step: 1}, 1, 1},
	} {
		if got := c.c.Clamp(c.v); got != c.want {
			t.Errorf("Clamp(%d) in [%d,%d] step %d = %d, want %d", c.v, c.c.Min, c.c.Max, c.c.Step, got, c.want)
		}
	}
	if (Control{Flags: FlagReadOnly}).Writable() || (Control{Flags: FlagInactive}).Writable() || !(Control{}).Writable() {
		t.Error("Writable ignores the read-only or inactive flags")
	}
}

func fakeSys(t *testing.T, nodes map[string][2]string) string {
	t.Helper()
	root := t.TempDir()
	for name, v := range nodes {
		d := filepath.Join(root, "class", "video4linux", name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "name"), []byte(v[0]+"\n"), 0o644)
		os.WriteFile(filepath.Join(d, "index"), []byte(v[1]+"\n"), 0o644)
	}
	return root
}

func TestList(t *testing.T) {
	root := fakeSys(t, map[string][2]string{
		"video1": {"HD Pro Webcam C920", "1"},
		"video0": {"HD Pro Webcam C920", "0"},
	})
	os.MkdirAll(filepath.Join(root, "class", "video4linux", "v4l-subdev0"), 0o755)
	got, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Node{
		{Name: "video0", Device: "/dev/video0", Card: "HD Pro Webcam C920", Index: 0},
		{Name: "video1", Device: "/dev/video1", Card: "HD Pro Webcam C920", Index: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List = %+v, want %+v", got, want)
	}
	if got, err := List(t.TempDir()); err != nil || len(got) != 0 {
		t.Errorf("List without video4linux = %v, %v; want nothing, no error", got, err)
	}
}

func TestFind(t *testing.T) {
	root := fakeSys(t, map[string][2]string{"video0": {"UVC Camera (046d:0825)", "0"}})
	n, err := Find(root, "/dev/video0")
	if err != nil {
		t.Fatal(err)
	}
	if n.Card != "UVC Camera (046d:0825)" || n.Device != "/dev/video0" || n.Name != "video0" {
		t.Errorf("Find = %+v", n)
	}
	// A udev symlink resolves to its node.
	dev := t.TempDir()
	os.WriteFile(filepath.Join(dev, "video0"), nil, 0o644)
	link := filepath.Join(dev, "usb-046d_0825-video-index0")
	os.Symlink(filepath.Join(dev, "video0"), link)
	if n, err := Find(root, link); err != nil || n.Name != "video0" || n.Device != link {
		t.Errorf("Find(symlink) = %+v, %v", n, err)
	}
	if _, err := Find(root, "/dev/video7"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Find(absent) error = %v, want fs.ErrNotExist", err)
	}
}

// Real ioctls: on a node that is not a video device they must fail with
// ENOTTY, told apart from a missing control; on a real camera, when the
// machine has one, the capture node answers.
func TestIoctls(t *testing.T) {
	if _, err := Open("/dev/video-none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(absent) = %v, want fs.ErrNotExist", err)
	}
	d, err := Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Query(CIDPrivacy); !errors.Is(err, unix.ENOTTY) || errors.Is(err, ErrNoControl) {
		t.Errorf("Query on /dev/null = %v, want ENOTTY", err)
	}
	if err := d.Set(CIDPrivacy, 1); !errors.Is(err, unix.ENOTTY) {
		t.Errorf("Set on /dev/null = %v, want ENOTTY", err)
	}
	if _, err := d.Get(CIDPrivacy); !errors.Is(err, unix.ENOTTY) {
		t.Errorf("Get on /dev/null = %v, want ENOTTY", err)
	}
	if _, err := d.Capabilities(); !errors.Is(err, unix.ENOTTY) {
		t.Errorf("Capabilities on /dev/null = %v, want ENOTTY", err)
	}

	nodes, _ := List("/sys")
	for _, n := range nodes {
		cam, err := Open(n.Device)
		if err != nil {
			t.Logf("%s: %v", n.Device, err)
			continue
		}
		c, err := cam.Capabilities()
		if err != nil {
			t.Errorf("%s: %v", n.Device, err)
		} else {
			t.Logf("%s: %s (%s), capture %v", n.Device, c.Card, c.Driver, c.Capture())
		}
		if q, err := cam.Query(CIDPrivacy); err == nil {
			t.Logf("%s: privacy control %q, flags %#x", n.Device, q.Name, q.Flags)
		} else if !errors.Is(err, ErrNoControl) {
			t.Errorf("%s: %v", n.Device, err)
		}
		cam.Close()
	}
}
