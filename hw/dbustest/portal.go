package dbustest

import (
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"
)

// The desktop portal's names.
const (
	PortalName   = "org.freedesktop.portal.Desktop"
	PortalPath   = dbus.ObjectPath("/org/freedesktop/portal/desktop")
	CameraPortal = "org.freedesktop.portal.Camera"
)

// Portal is a fake xdg-desktop-portal offering the Camera portal. Its
// IsCameraPresent property emits PropertiesChanged, as the real one does
// when a camera is plugged or unplugged.
type Portal struct {
	*service
	present bool
	props   *prop.Properties
}

// NewPortal starts a fake portal on bus (the session bus) with a camera
// present or not.
func NewPortal(t testing.TB, bus *Bus, present bool) *Portal {
	t.Helper()
	p := &Portal{service: newService(t, bus, PortalName), present: present}
	p.setup = p.export
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Start brings the portal (back) onto the bus.
func (p *Portal) Start() error { return p.start() }

// SetCameraPresent plugs or unplugs the camera.
func (p *Portal) SetCameraPresent(present bool) {
	p.mu.Lock()
	p.present = present
	props := p.props
	p.mu.Unlock()
	if props != nil && p.Running() {
		props.SetMust(CameraPortal, "IsCameraPresent", present)
	}
}

func (p *Portal) export(conn *dbus.Conn) error {
	p.mu.Lock()
	present := p.present
	p.mu.Unlock()
	props, err := prop.Export(conn, PortalPath, prop.Map{CameraPortal: {
		"IsCameraPresent": {Value: present, Emit: prop.EmitTrue},
		"version":         {Value: uint32(1), Emit: prop.EmitConst},
	}})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.props = props
	p.mu.Unlock()
	if err := conn.Export(cameraObj{p}, PortalPath, CameraPortal); err != nil {
		return err
	}
	node := &introspect.Node{Name: string(PortalPath), Interfaces: []introspect.Interface{
		introspect.IntrospectData, prop.IntrospectData,
		{Name: CameraPortal, Properties: props.Introspection(CameraPortal), Methods: []introspect.Method{
			{Name: "AccessCamera", Args: []introspect.Arg{{Type: "a{sv}", Direction: "in"}, {Type: "o", Direction: "out"}}},
			{Name: "OpenPipeWireRemote", Args: []introspect.Arg{{Type: "a{sv}", Direction: "in"}, {Type: "h", Direction: "out"}}},
		}},
	}}
	return conn.Export(introspect.NewIntrospectable(node), PortalPath, "org.freedesktop.DBus.Introspectable")
}

type cameraObj struct{ p *Portal }

// AccessCamera answers with a request handle; the fake never shows a
// dialog, so no Response follows: the kiosk does not use it.
func (c cameraObj) AccessCamera(msg dbus.Message, sender dbus.Sender, options map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	c.p.record(msg, options)
	return PortalPath + "/request/fake/1", nil
}

func (c cameraObj) OpenPipeWireRemote(msg dbus.Message, options map[string]dbus.Variant) (dbus.UnixFD, *dbus.Error) {
	c.p.record(msg, options)
	return 0, dbusErr("org.freedesktop.portal.Error.NotAllowed", "Permission denied")
}
