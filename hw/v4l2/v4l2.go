//go:build linux

// Package v4l2 is the little of Video4Linux2 the kiosk needs, without
// cgo: finding cameras in sysfs, and reading and setting their controls
// (privacy shutter, pan, tilt, zoom) with ioctls.
//
// The request numbers use the kernel's generic _IOC layout (x86, arm,
// arm64, riscv); the structures are those of linux/videodev2.h.
package v4l2

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Control IDs from linux/v4l2-controls.h.
const (
	CIDCameraClassBase uint32 = 0x009a0900
	CIDPanAbsolute            = CIDCameraClassBase + 8
	CIDTiltAbsolute           = CIDCameraClassBase + 9
	CIDZoomAbsolute           = CIDCameraClassBase + 13
	CIDPrivacy                = CIDCameraClassBase + 16
)

// Control flags and types (linux/videodev2.h).
const (
	FlagDisabled uint32 = 0x0001
	FlagReadOnly uint32 = 0x0004
	FlagInactive uint32 = 0x0010

	TypeInteger uint32 = 1
	TypeBoolean uint32 = 2
	TypeMenu    uint32 = 3
)

// Capability bits of interest.
const (
	CapVideoCapture uint32 = 0x00000001
	CapDeviceCaps   uint32 = 0x80000000
)

// _IOC from asm-generic/ioctl.h.
const (
	iocWrite     = 1
	iocRead      = 2
	iocNRShift   = 0
	iocTypeShift = 8
	iocSizeShift = 16
	iocDirShift  = 30
)

func ioc(dir, typ, nr, size uintptr) uintptr {
	return dir<<iocDirShift | typ<<iocTypeShift | nr<<iocNRShift | size<<iocSizeShift
}

// capability is struct v4l2_capability.
type capability struct {
	Driver       [16]byte
	Card         [32]byte
	BusInfo      [32]byte
	Version      uint32
	Capabilities uint32
	DeviceCaps   uint32
	Reserved     [3]uint32
}

// control is struct v4l2_control.
type control struct {
	ID    uint32
	Value int32
}

// queryCtrl is struct v4l2_queryctrl.
type queryCtrl struct {
	ID           uint32
	Type         uint32
	Name         [32]byte
	Minimum      int32
	Maximum      int32
	Step         int32
	DefaultValue int32
	Flags        uint32
	Reserved     [2]uint32
}

// Request numbers of VIDIOC_QUERYCAP, VIDIOC_G_CTRL, VIDIOC_S_CTRL and
// VIDIOC_QUERYCTRL.
var (
	reqQueryCap  = ioc(iocRead, 'V', 0, unsafe.Sizeof(capability{}))
	reqGetCtrl   = ioc(iocRead|iocWrite, 'V', 27, unsafe.Sizeof(control{}))
	reqSetCtrl   = ioc(iocRead|iocWrite, 'V', 28, unsafe.Sizeof(control{}))
	reqQueryCtrl = ioc(iocRead|iocWrite, 'V', 36, unsafe.Sizeof(queryCtrl{}))
)

// ErrNoControl is returned for a control the device does not have.
var ErrNoControl = errors.New("the camera has no such control")

// Control describes one of a device's controls.
type Control struct {
	ID      uint32
	Type    uint32
	Name    string
	Min     int32
	Max     int32
	Step    int32
	Default int32
	Flags   uint32
}

// Writable tells whether the control can be set now.
func (c Control) Writable() bool {
	return c.Flags&(FlagDisabled|FlagReadOnly|FlagInactive) == 0
}

// Clamp brings v into the control's range, on its step.
func (c Control) Clamp(v int64) int32 {
	if v < int64(c.Min) {
		v = int64(c.Min)
	}
	if v > int64(c.Max) {
		v = int64(c.Max)
	}
	if c.Step > 1 {
		off := (v - int64(c.Min)) % int64(c.Step)
		v -= off
		if off*2 >= int64(c.Step) && v+int64(c.Step) <= int64(c.Max) {
			v += int64(c.Step)
		}
	}
	return int32(v)
}

// Capability is what VIDIOC_QUERYCAP says of a device.
type Capability struct {
	Driver  string
	Card    string
	BusInfo string
	Caps    uint32 // the device node's own capabilities
}

// Capture tells whether the node captures video.
func (c Capability) Capture() bool { return c.Caps&CapVideoCapture != 0 }

// Device is an open V4L2 device node.
type Device struct {
	f *os.File
}

// Open opens a device node for controls. It does not start streaming, so
// it works while a video client uses the camera.
func Open(path string) (*Device, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &Device{f: f}, nil
}

// Close closes the device.
func (d *Device) Close() error { return d.f.Close() }

func (d *Device) ioctl(req uintptr, arg unsafe.Pointer) error {
	sc, err := d.f.SyscallConn()
	if err != nil {
		return err
	}
	var errno unix.Errno
	err = sc.Control(func(fd uintptr) {
		for {
			_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, req, uintptr(arg))
			if errno != unix.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// Capabilities queries the device's identity and capabilities.
func (d *Device) Capabilities() (Capability, error) {
	var c capability
	if err := d.ioctl(reqQueryCap, unsafe.Pointer(&c)); err != nil {
		return Capability{}, fmt.Errorf("VIDIOC_QUERYCAP on %s: %w", d.f.Name(), err)
	}
	caps := c.Capabilities
	if caps&CapDeviceCaps != 0 {
		caps = c.DeviceCaps
	}
	return Capability{Driver: cstr(c.Driver[:]), Card: cstr(c.Card[:]), BusInfo: cstr(c.BusInfo[:]), Caps: caps}, nil
}

// Query describes a control, or returns ErrNoControl.
func (d *Device) Query(id uint32) (Control, error) {
	q := queryCtrl{ID: id}
	if err := d.ioctl(reqQueryCtrl, unsafe.Pointer(&q)); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return Control{}, ErrNoControl
		}
		return Control{}, fmt.Errorf("VIDIOC_QUERYCTRL %#x on %s: %w", id, d.f.Name(), err)
	}
	return Control{ID: q.ID, Type: q.Type, Name: cstr(q.Name[:]), Min: q.Minimum, Max: q.Maximum,
		Step: q.Step, Default: q.DefaultValue, Flags: q.Flags}, nil
}

// Get reads a control's value.
func (d *Device) Get(id uint32) (int32, error) {
	c := control{ID: id}
	if err := d.ioctl(reqGetCtrl, unsafe.Pointer(&c)); err != nil {
		return 0, fmt.Errorf("VIDIOC_G_CTRL %#x on %s: %w", id, d.f.Name(), err)
	}
	return c.Value, nil
}

// Set sets a control's value.
func (d *Device) Set(id uint32, v int32) error {
	c := control{ID: id, Value: v}
	if err := d.ioctl(reqSetCtrl, unsafe.Pointer(&c)); err != nil {
		return fmt.Errorf("VIDIOC_S_CTRL %#x=%d on %s: %w", id, v, d.f.Name(), err)
	}
	return nil
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
