// Package usage keeps the kiosk's usage log: an append-only SQLite table of
// events without personal data, and its export.
package usage

import "time"

// Kinds of event (DESIGN.md, "The usage log").
const (
	KindShellStarted        = "shell_started"
	KindShellStopped        = "shell_stopped"
	KindOperatorViewed      = "operator_viewed"
	KindSessionStarted      = "session_started"
	KindSessionEnded        = "session_ended"
	KindPrintJob            = "print_job"
	KindIdleReset           = "idle_reset"
	KindSurvey              = "survey"
	KindMaintenanceUnlocked = "maintenance_unlocked"
	KindMaintenancePinFail  = "maintenance_pin_failed"
	KindMaintenanceLockout  = "maintenance_lockout"
	KindMaintenanceLocked   = "maintenance_locked"
	KindOutOfService        = "out_of_service"
	KindBackInService       = "back_in_service"
	KindHardwareFault       = "hardware_fault"
	KindHardwareRecovered   = "hardware_recovered"
)

// Outcomes of session_ended and print_job.
const (
	OutcomeCompleted = "completed"
	OutcomeCancelled = "cancelled"
	OutcomeFailed    = "failed"
	OutcomeTimeout   = "timeout"
	OutcomePrinted   = "printed"
)

// Event is one line of the usage log. ID, Seq and (if zero) At are set by
// Record.
type Event struct {
	ID         string         `json:"id"`
	Seq        int64          `json:"seq"`
	At         time.Time      `json:"at"`
	Site       string         `json:"site"`
	Place      string         `json:"place"`
	Kind       string         `json:"kind"`
	Operator   string         `json:"operator"`
	Outcome    string         `json:"outcome"`
	DurationMS int64          `json:"duration_ms"`
	Detail     map[string]any `json:"detail"`
}
