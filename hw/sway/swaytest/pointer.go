package swaytest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"
)

// A headless sway has no input device: its seat offers no pointer, so
// foot binds none, and sway's `seat cursor` commands move a cursor no
// window hears. A virtual pointer (wlr-virtual-pointer, the pointer twin
// of the virtual keyboard wtype uses) is a pointer device of the seat:
// while one exists, the seat has the pointer capability and the cursor's
// presses reach the window under it. No program the CI installs makes one
// and keeps it, so this speaks the few Wayland requests it needs (in the
// host's byte order, as Wayland does: little-endian on amd64 and arm64).

// Pointer adds a virtual pointer to sway's seat, kept until the test ends
// or sway restarts. Windows learn of it, and bind their own pointer,
// some time after it returns: call it as soon as sway runs, before the
// first tap (Tap adds one otherwise, and its first tap may be lost).
func (s *Sway) Pointer() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pointer != nil {
		return nil
	}
	c, err := virtualPointer(filepath.Join(s.Run, "wayland-1"))
	if err != nil {
		return fmt.Errorf("virtual pointer: %w", err)
	}
	s.pointer = c
	return nil
}

const (
	display  = 1
	registry = 2
	callback = 3
	manager  = 4
	vpointer = 5
)

func virtualPointer(socket string) (io.Closer, error) {
	c, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	w := &bytes.Buffer{}
	request(w, display, 1, u32(registry)) // get_registry
	request(w, display, 0, u32(callback)) // sync
	if _, err := c.Write(w.Bytes()); err != nil {
		c.Close()
		return nil, err
	}
	name, err := findGlobal(c, "zwlr_virtual_pointer_manager_v1")
	if err != nil {
		c.Close()
		return nil, err
	}
	w.Reset()
	request(w, registry, 0, u32(name), str("zwlr_virtual_pointer_manager_v1"), u32(1), u32(manager)) // bind
	request(w, manager, 0, u32(0), u32(vpointer))                                                    // create_virtual_pointer, the default seat
	request(w, display, 0, u32(callback+3))                                                          // sync
	if _, err := c.Write(w.Bytes()); err != nil {
		c.Close()
		return nil, err
	}
	if err := waitDone(c, callback+3); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// findGlobal reads events until the sync's done and returns the
// registry name of the interface.
func findGlobal(r io.Reader, iface string) (uint32, error) {
	var name uint32
	for {
		obj, op, body, err := event(r)
		if err != nil {
			return 0, err
		}
		switch {
		case obj == display && op == 0:
			return 0, fmt.Errorf("Wayland error: %q", body)
		case obj == registry && op == 0 && len(body) >= 8:
			n := binary.LittleEndian.Uint32(body)
			l := binary.LittleEndian.Uint32(body[4:])
			if int(l) <= len(body)-8 && l > 0 && string(body[8:8+l-1]) == iface {
				name = n
			}
		case obj == callback && op == 0:
			if name == 0 {
				return 0, fmt.Errorf("sway serves no %s", iface)
			}
			return name, nil
		}
	}
}

func waitDone(r io.Reader, id uint32) error {
	for {
		obj, op, body, err := event(r)
		if err != nil {
			return err
		}
		if obj == display && op == 0 {
			return fmt.Errorf("Wayland error: %q", body)
		}
		if obj == id && op == 0 {
			return nil
		}
	}
}

func event(r io.Reader) (obj uint32, op uint16, body []byte, err error) {
	var h [8]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	obj = binary.LittleEndian.Uint32(h[:])
	sizeOp := binary.LittleEndian.Uint32(h[4:])
	size := sizeOp >> 16
	if size < 8 || size > 4096 {
		return 0, 0, nil, fmt.Errorf("Wayland message of %d bytes", size)
	}
	body = make([]byte, size-8)
	_, err = io.ReadFull(r, body)
	return obj, uint16(sizeOp), body, err
}

func request(w *bytes.Buffer, obj uint32, op uint16, args ...[]byte) {
	n := 8
	for _, a := range args {
		n += len(a)
	}
	binary.Write(w, binary.LittleEndian, obj)
	binary.Write(w, binary.LittleEndian, uint32(n)<<16|uint32(op))
	for _, a := range args {
		w.Write(a)
	}
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// str is a Wayland string: its length with the NUL, then it, padded to 4.
func str(s string) []byte {
	b := u32(uint32(len(s) + 1))
	b = append(b, s...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
