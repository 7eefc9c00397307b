package ddcutil_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/dbus/bus"
	"github.com/loiret/borne/hw/dbus/ddcutil"
	"github.com/loiret/borne/hw/dbustest"
)

func start(t *testing.T, display int) (*dbustest.Ddcutil, *ddcutil.Monitor) {
	t.Helper()
	env := dbustest.New(t)
	fake := dbustest.NewDdcutil(t, env.Session)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := ddcutil.New(ctx, ddcutil.Options{
		Display: display,
		Percent: map[hw.Level]int{hw.LevelActive: 100, hw.LevelDim: 20, hw.LevelCall: 90},
		Backoff: bus.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return fake, m
}

func TestLevels(t *testing.T) {
	fake, m := start(t, 1)
	fake.SetMax(1, 0x10, 50)
	ctx := context.Background()
	for _, l := range []hw.Level{hw.LevelActive, hw.LevelDim, hw.LevelOff, hw.LevelCall} {
		if err := m.SetLevel(ctx, l); err != nil {
			t.Fatalf("SetLevel(%v): %v", l, err)
		}
	}
	var got [][]any
	for _, c := range fake.Calls("GetVcp", "SetVcp") {
		got = append(got, append([]any{c.Member}, c.Args...))
	}
	want := [][]any{
		{"GetVcp", int32(1), "", byte(0x10), uint32(0)},
		{"SetVcp", int32(1), "", byte(0x10), uint16(50), uint32(0)},
		{"SetVcp", int32(1), "", byte(0x10), uint16(10), uint32(0)},
		{"SetVcp", int32(1), "", byte(0xD6), uint16(2), uint32(0)}, // standby
		{"SetVcp", int32(1), "", byte(0xD6), uint16(1), uint32(0)}, // on again
		{"SetVcp", int32(1), "", byte(0x10), uint16(45), uint32(0)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("calls:\n got %v\nwant %v", got, want)
	}
	if v, _ := fake.VCP(1, 0xD6); v != 1 {
		t.Errorf("power mode %d", v)
	}
}

func TestWrongDisplay(t *testing.T) {
	_, m := start(t, 4)
	err := m.SetLevel(context.Background(), hw.LevelActive)
	if err == nil || !strings.Contains(err.Error(), "Invalid display") {
		t.Errorf("SetLevel on a display that is not there: %v", err)
	}
	ch := m.Doctor(context.Background())
	if ch[0].Health != hw.Degraded || !strings.Contains(ch[0].Reason, "ddcutil detect") {
		t.Errorf("doctor: %+v", ch)
	}
}

func TestServiceComesAndGoes(t *testing.T) {
	fake, m := start(t, 1)
	if ch := m.Doctor(context.Background()); ch[0].Health != hw.OK || ch[0].Reason != "display 1: brightness 80 of 100" {
		t.Errorf("doctor: %+v", ch)
	}
	fake.Stop()
	dbustest.Eventually(t, time.Second, "ddcutil-service still up", func() bool { up, _ := m.Status(); return !up })
	if err := m.SetLevel(context.Background(), hw.LevelDim); !errors.Is(err, hw.ErrUnavailable) {
		t.Errorf("SetLevel while away: %v", err)
	}
	if ch := m.Doctor(context.Background()); ch[0].Health != hw.Missing || !strings.Contains(ch[0].Reason, "is ddcutil-service installed") {
		t.Errorf("doctor while away: %+v", ch)
	}
	fake.Start()
	dbustest.Eventually(t, 2*time.Second, "ddcutil-service not back", func() bool { up, _ := m.Status(); return up })
	if err := m.SetLevel(context.Background(), hw.LevelDim); err != nil {
		t.Errorf("SetLevel after the return: %v", err)
	}
	if v, _ := fake.VCP(1, 0x10); v != 20 {
		t.Errorf("brightness %d", v)
	}
}
