package dbustest

import (
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
)

// ddcutil-service's names, as on a box where it is installed.
const (
	DdcutilName  = "com.ddcutil.DdcutilService"
	DdcutilPath  = dbus.ObjectPath("/com/ddcutil/DdcutilObject")
	DdcutilIface = "com.ddcutil.DdcutilInterface"
)

// ddcInvalidDisplay stands for libddcutil's error status when a display
// number matches no monitor; callers only test it against zero.
const ddcInvalidDisplay = -3011

// Ddcutil is a fake ddcutil-service with monitors holding VCP values.
// Errors come back, as from the real service, as a non-zero status and a
// message rather than as D-Bus errors.
type Ddcutil struct {
	*service

	mu       sync.Mutex
	displays map[int32]*Monitor
}

// Monitor is one display's VCP features.
type Monitor struct {
	Model string
	Value map[byte]uint16
	Max   map[byte]uint16
}

// NewDdcutil starts a fake ddcutil-service on bus (the session bus) with
// display 1: brightness (0x10) 80 of 100 and power mode (0xD6) on (1).
func NewDdcutil(t testing.TB, bus *Bus) *Ddcutil {
	t.Helper()
	d := &Ddcutil{service: newService(t, bus, DdcutilName), displays: map[int32]*Monitor{}}
	d.displays[1] = &Monitor{
		Model: "DELL P2419H",
		Value: map[byte]uint16{0x10: 80, 0xD6: 1},
		Max:   map[byte]uint16{0x10: 100, 0xD6: 5},
	}
	d.setup = d.export
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	return d
}

// Start brings the service (back) onto the bus.
func (d *Ddcutil) Start() error { return d.start() }

// VCP is a feature's current value on a display.
func (d *Ddcutil) VCP(display int32, code byte) (uint16, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.displays[display]
	if !ok {
		return 0, false
	}
	v, ok := m.Value[code]
	return v, ok
}

// SetMax sets a feature's maximum on a display.
func (d *Ddcutil) SetMax(display int32, code byte, max uint16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m, ok := d.displays[display]; ok {
		m.Max[code] = max
	}
}

const ddcutilXML = `<node>
 <interface name="com.ddcutil.DdcutilInterface">
  <method name="Detect"><arg type="u" direction="in"/><arg type="i" direction="out"/><arg type="a(iiisssqsu)" direction="out"/><arg type="i" direction="out"/><arg type="s" direction="out"/></method>
  <method name="GetVcp"><arg type="i" direction="in"/><arg type="s" direction="in"/><arg type="y" direction="in"/><arg type="u" direction="in"/><arg type="q" direction="out"/><arg type="q" direction="out"/><arg type="s" direction="out"/><arg type="i" direction="out"/><arg type="s" direction="out"/></method>
  <method name="SetVcp"><arg type="i" direction="in"/><arg type="s" direction="in"/><arg type="y" direction="in"/><arg type="q" direction="in"/><arg type="u" direction="in"/><arg type="i" direction="out"/><arg type="s" direction="out"/></method>
 </interface>` + introspect.IntrospectDeclarationString + `</node>`

func (d *Ddcutil) export(conn *dbus.Conn) error {
	if err := conn.Export(ddcObj{d}, DdcutilPath, DdcutilIface); err != nil {
		return err
	}
	return conn.Export(introspect.Introspectable(ddcutilXML), DdcutilPath, "org.freedesktop.DBus.Introspectable")
}

type ddcObj struct{ d *Ddcutil }

// detected is one entry of Detect: a(iiisssqsu).
type detected struct {
	Display             int32
	USBBus, USBDevice   int32
	Manufacturer, Model string
	Serial              string
	Product             uint16
	EDID                string
	BinarySerial        uint32
}

func (o ddcObj) Detect(msg dbus.Message, flags uint32) (int32, []detected, int32, string, *dbus.Error) {
	d := o.d
	d.record(msg, flags)
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []detected{}
	for n, m := range d.displays {
		out = append(out, detected{Display: n, USBBus: -1, USBDevice: -1, Manufacturer: "DEL", Model: m.Model, EDID: "AP///////wA="})
	}
	return int32(len(out)), out, 0, "OK", nil
}

func (o ddcObj) GetVcp(msg dbus.Message, display int32, edid string, code byte, flags uint32) (uint16, uint16, string, int32, string, *dbus.Error) {
	d := o.d
	d.record(msg, display, edid, code, flags)
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.displays[display]
	if !ok {
		return 0, 0, "", ddcInvalidDisplay, "Invalid display", nil
	}
	v, ok := m.Value[code]
	if !ok {
		return 0, 0, "", -3005, "Feature not supported", nil
	}
	return v, m.Max[code], "", 0, "OK", nil
}

func (o ddcObj) SetVcp(msg dbus.Message, display int32, edid string, code byte, value uint16, flags uint32) (int32, string, *dbus.Error) {
	d := o.d
	d.record(msg, display, edid, code, value, flags)
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.displays[display]
	if !ok {
		return ddcInvalidDisplay, "Invalid display", nil
	}
	if max, ok := m.Max[code]; ok && value > max {
		return -3016, "Value out of range", nil
	}
	m.Value[code] = value
	return 0, "OK", nil
}
