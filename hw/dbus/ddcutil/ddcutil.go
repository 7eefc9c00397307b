// Package ddcutil drives an external monitor over DDC/CI through
// ddcutil-service (com.ddcutil.DdcutilService on the session bus):
// brightness with VCP 0x10, standby and wake with VCP 0xD6.
package ddcutil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/dbus/bus"
)

const (
	name   = "com.ddcutil.DdcutilService"
	path   = dbus.ObjectPath("/com/ddcutil/DdcutilObject")
	iface  = "com.ddcutil.DdcutilInterface"
	vcpBri = byte(0x10)
	vcpPow = byte(0xD6)
	// D6 power modes (MCCS).
	powerOn      = uint16(1)
	powerStandby = uint16(2)
)

// Options configure the monitor back-end.
type Options struct {
	Display int // hardware.display.ddc_display (1 and up)
	Percent map[hw.Level]int
	Passive bool

	Getenv  func(string) string
	Backoff bus.Backoff
	Timeout time.Duration
	Log     *slog.Logger
	State   func(up bool, reason string)
}

// Monitor is an external monitor behind ddcutil-service.
type Monitor struct {
	o    Options
	link *bus.Link

	apply sync.Mutex
	mu    sync.Mutex
	max   uint16
	off   bool // put in standby by the kiosk
}

var _ hw.Display = (*Monitor)(nil)
var _ hw.Doctor = (*Monitor)(nil)

// New starts following ddcutil-service and waits, within ctx, for the
// first finding.
func New(ctx context.Context, o Options) (*Monitor, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{o: o}
	m.link = bus.NewLink(bus.LinkOptions{
		Kind:    bus.Session,
		Getenv:  o.Getenv,
		Name:    name,
		Service: "ddcutil-service",
		Missing: "is ddcutil-service installed and started for the kiosk user?",
		Down:    m.down,
		State:   o.State,
		Backoff: o.Backoff,
		Timeout: o.Timeout,
		Log:     o.Log.With("service", "ddcutil"),
	})
	m.link.Start()
	if err := m.link.WaitReady(ctx); err != nil {
		m.Close()
		return nil, fmt.Errorf("ddcutil-service: %w", err)
	}
	return m, nil
}

// Close stops following the service.
func (m *Monitor) Close() error { return m.link.Close() }

// Status is the service's availability.
func (m *Monitor) Status() (up bool, reason string) { return m.link.Status() }

// down forgets what a restarted service may see differently.
func (m *Monitor) down() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.max = 0
}

// ddcError is a non-zero libddcutil status.
type ddcError struct {
	Method string
	Status int32
	Msg    string
}

func (e *ddcError) Error() string {
	return fmt.Sprintf("ddcutil-service %s: %s (status %d)", e.Method, e.Msg, e.Status)
}

func (m *Monitor) getVcp(ctx context.Context, code byte) (cur, max uint16, err error) {
	var formatted, msg string
	var status int32
	err = m.link.Call(ctx, path, iface+".GetVcp", int32(m.o.Display), "", code, uint32(0)).Store(&cur, &max, &formatted, &status, &msg)
	if err != nil {
		return 0, 0, fmt.Errorf("screen: ddcutil-service GetVcp %#x: %w", code, err)
	}
	if status != 0 {
		return 0, 0, &ddcError{Method: fmt.Sprintf("GetVcp %#x on display %d", code, m.o.Display), Status: status, Msg: msg}
	}
	return cur, max, nil
}

func (m *Monitor) setVcp(ctx context.Context, code byte, v uint16) error {
	var status int32
	var msg string
	err := m.link.Call(ctx, path, iface+".SetVcp", int32(m.o.Display), "", code, v, uint32(0)).Store(&status, &msg)
	if err != nil {
		return fmt.Errorf("screen: ddcutil-service SetVcp %#x: %w", code, err)
	}
	if status != 0 {
		return &ddcError{Method: fmt.Sprintf("SetVcp %#x=%d on display %d", code, v, m.o.Display), Status: status, Msg: msg}
	}
	return nil
}

// SetLevel sets the monitor's brightness; LevelOff puts it in standby
// instead, which leaves its brightness (and its NVRAM) alone, and the
// next level wakes it first.
func (m *Monitor) SetLevel(ctx context.Context, l hw.Level) error {
	if m.o.Passive {
		return errors.New("this back-end only looks (borne doctor)")
	}
	m.apply.Lock()
	defer m.apply.Unlock()
	if l == hw.LevelOff {
		if err := m.setVcp(ctx, vcpPow, powerStandby); err != nil {
			return err
		}
		m.mu.Lock()
		m.off = true
		m.mu.Unlock()
		return nil
	}
	m.mu.Lock()
	off, max := m.off, m.max
	m.mu.Unlock()
	if off {
		if err := m.setVcp(ctx, vcpPow, powerOn); err != nil {
			return err
		}
		m.mu.Lock()
		m.off = false
		m.mu.Unlock()
	}
	if max == 0 {
		_, mx, err := m.getVcp(ctx, vcpBri)
		if err != nil {
			return err
		}
		if mx == 0 {
			mx = 100
		}
		max = mx
		m.mu.Lock()
		m.max = max
		m.mu.Unlock()
	}
	v := uint16((int(max)*m.o.Percent[l] + 50) / 100)
	return m.setVcp(ctx, vcpBri, v)
}

// Doctor examines the service and the monitor.
func (m *Monitor) Doctor(ctx context.Context) []hw.Check {
	ch := hw.Check{Name: "ddcutil", Needed: true}
	if err := m.link.WaitReady(ctx); err != nil {
		ch.Health, ch.Reason = hw.Missing, "no answer about ddcutil-service: "+err.Error()
		return []hw.Check{ch}
	}
	if _, err := m.link.Conn(); err != nil {
		_, reason := m.link.Status()
		ch.Health, ch.Reason = hw.Missing, reason
		return []hw.Check{ch}
	}
	cur, max, err := m.getVcp(ctx, vcpBri)
	if err != nil {
		ch.Health = hw.Degraded
		ch.Reason = fmt.Sprintf("display %d does not answer: %v; check hardware.display.ddc_display against ddcutil detect, the cable, and DDC/CI in the monitor's menu", m.o.Display, err)
		return []hw.Check{ch}
	}
	ch.Health, ch.Reason = hw.OK, fmt.Sprintf("display %d: brightness %d of %d", m.o.Display, cur, max)
	return []hw.Check{ch}
}
