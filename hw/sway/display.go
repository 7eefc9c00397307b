package sway

import (
	"context"
	"fmt"

	"github.com/loiret/borne/hw"
)

// Display wraps the screen's back-end: sway switches the output off for
// LevelOff and on again for any other level, which the inner back-end
// (the backlight, a monitor's DDC) then sets. inner may be nil.
func (k *Kiosk) Display(inner hw.Display) hw.Display { return &display{k: k, inner: inner} }

type display struct {
	k     *Kiosk
	inner hw.Display
}

func (d *display) SetLevel(ctx context.Context, l hw.Level) error {
	err := d.k.Power(ctx, l != hw.LevelOff)
	if d.inner != nil {
		if ierr := d.inner.SetLevel(ctx, l); ierr != nil {
			return ierr
		}
	}
	return err
}

// Power switches the outputs on or off: `output * dpms on|off` up to sway
// 1.7, `output * power on|off` from 1.8, as GET_VERSION says.
func (k *Kiosk) Power(ctx context.Context, on bool) error {
	return k.link.Command(ctx, k.powerCommand(on))
}

func (k *Kiosk) powerCommand(on bool) string {
	k.mu.Lock()
	v := k.version
	k.mu.Unlock()
	word, state := "dpms", "off"
	if v.AtLeast(1, 8) {
		word = "power"
	}
	if on {
		state = "on"
	}
	return fmt.Sprintf("output * %s %s", word, state)
}
