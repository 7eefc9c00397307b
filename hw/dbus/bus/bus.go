// Package bus is the D-Bus plumbing the kiosk's back-ends share: finding the
// system and session buses, private connections that never block the
// shell, and a Link that follows one service through its comings and
// goings and through the bus itself dying.
package bus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/loiret/borne/hw"
)

// Kind says which bus a service lives on.
type Kind int

const (
	System Kind = iota
	Session
)

func (k Kind) String() string {
	if k == System {
		return "system bus"
	}
	return "session bus"
}

// DefaultSystemAddress is where Debian's dbus-daemon listens.
const DefaultSystemAddress = "unix:path=/run/dbus/system_bus_socket"

// Address is the bus address the kiosk uses, from the environment as
// libdbus reads it: DBUS_SYSTEM_BUS_ADDRESS, DBUS_SESSION_BUS_ADDRESS.
// Without the latter the user bus of systemd (XDG_RUNTIME_DIR/bus) is
// tried, as on a kiosk started by a systemd user unit.
func Address(k Kind, getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if k == System {
		if a := getenv("DBUS_SYSTEM_BUS_ADDRESS"); a != "" {
			return a, nil
		}
		return DefaultSystemAddress, nil
	}
	if a := getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return a, nil
	}
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return "unix:path=" + strings.TrimRight(d, "/") + "/bus", nil
	}
	return "", errors.New("no session bus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set")
}

// Dial opens a private connection to addr and says hello. ctx bounds the
// handshake only; life, when done, closes the connection whenever that
// happens (a back-end closing takes all its connections with it).
func Dial(ctx, life context.Context, addr string) (*dbus.Conn, error) {
	if life == nil {
		life = context.Background()
	}
	conn, err := dbus.Dial(addr, dbus.WithContext(life))
	if err != nil {
		return nil, err
	}
	// A daemon that accepts but never answers would hold Auth forever.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	// EXTERNAL with the numeric uid: no user database lookup, as systemd's
	// own clients do.
	err = conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))})
	if err == nil {
		err = conn.Hello()
	}
	if !stop() {
		conn.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Unavailable is the error of a call made while its service is away, or
// that failed because the service or the bus went away under it (Err).
type Unavailable struct {
	Service string // "logind"
	Reason  string
	Err     error
}

func (e *Unavailable) Error() string { return e.Service + " unavailable: " + e.Reason }

// Unwrap lets callers test errors.Is(err, hw.ErrUnavailable), and reach the
// call's own error.
func (e *Unavailable) Unwrap() []error {
	if e.Err == nil {
		return []error{hw.ErrUnavailable}
	}
	return []error{hw.ErrUnavailable, e.Err}
}

// Away is err as an *Unavailable of service when it says the service or
// the bus went away during the call (IsGone), else err as it is.
func Away(service string, err error) error {
	var u *Unavailable
	if !IsGone(err) || errors.As(err, &u) {
		return err
	}
	return &Unavailable{Service: service, Reason: err.Error(), Err: err}
}

// ErrorName is the D-Bus error name of err ("" when it is not a D-Bus
// error), for the few errors a back-end handles.
func ErrorName(err error) string {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	var dp *dbus.Error
	if errors.As(err, &dp) && dp != nil {
		return dp.Name
	}
	return ""
}

// Errors from org.freedesktop.DBus meaning the peer is not there.
const (
	ErrServiceUnknown = "org.freedesktop.DBus.Error.ServiceUnknown"
	ErrNameHasNoOwner = "org.freedesktop.DBus.Error.NameHasNoOwner"
	ErrNoReply        = "org.freedesktop.DBus.Error.NoReply"
	ErrUnknownMethod  = "org.freedesktop.DBus.Error.UnknownMethod"
)
