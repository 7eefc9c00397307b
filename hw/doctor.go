package hw

import "context"

// Health is a device's or service's state as borne doctor says it.
type Health string

const (
	OK       Health = "ok"
	Degraded Health = "degraded"
	Missing  Health = "missing"
)

// Check is one line of borne doctor: what was checked, its state, and the
// reason a technician can act on.
type Check struct {
	Name   string // "camera", "logind", "cups queue borne"…
	Health Health
	Reason string // empty when ok; otherwise what is wrong and what to do
	// Needed tells whether the kiosk cannot work without it (doctor's exit
	// status counts only these).
	Needed bool
}

// Doctor is implemented by back-ends that can examine themselves.
type Doctor interface {
	Doctor(ctx context.Context) []Check
}
