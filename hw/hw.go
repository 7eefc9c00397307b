// Package hw is the kiosk's hardware as the shell sees it: small interfaces
// for the video session, the screen, the camera and the printer, and the
// changes of state they report. Back-ends live in sub-packages (sim for the
// demo, D-Bus for a real kiosk); the shell never knows which one runs.
package hw

import (
	"context"
	"errors"
	"time"

	"github.com/loiret/borne/operators"
)

// Level is a screen brightness level, mapped to percentages by the config.
type Level int

const (
	LevelActive Level = iota
	LevelDim
	LevelCall
	LevelOff
)

func (l Level) String() string {
	switch l {
	case LevelActive:
		return "active"
	case LevelDim:
		return "dim"
	case LevelCall:
		return "call"
	case LevelOff:
		return "off"
	}
	return "unknown"
}

// Sessions starts video sessions with an operator.
type Sessions interface {
	Start(ctx context.Context, op operators.Operator) (Session, error)
}

// Preflighter is implemented by Sessions back-ends that can tell, quickly
// and without starting anything, whether a call to op could start: its
// video client exists and can be run, the service that runs it is there.
type Preflighter interface {
	Preflight(ctx context.Context, op operators.Operator) error
}

// Resetter is implemented by Sessions back-ends that can stop every video
// client they run, followed or not: maintenance's way out of a client that
// hangs. No call is in progress while an agent is in maintenance.
type Resetter interface {
	Reset(ctx context.Context) error
}

// Session is one running video session.
type Session interface {
	// Done is closed-and-sent-once when the session ends for any reason.
	Done() <-chan SessionEnd
	// End asks the session to stop; Done reports when it has.
	End(ctx context.Context) error
}

// SessionEnd says how a session ended. Err is nil when the video client
// exited normally (the citizen or the adviser hung up).
type SessionEnd struct {
	At  time.Time
	Err error
}

// Display sets the screen's brightness level.
type Display interface {
	SetLevel(ctx context.Context, l Level) error
}

// CameraStatus is what a camera check found.
type CameraStatus struct {
	Present bool
	Reason  string // why not, in words a technician can act on
}

// Camera checks the camera and drives its privacy control.
type Camera interface {
	Check(ctx context.Context) (CameraStatus, error)
	SetPrivacy(ctx context.Context, on bool) error
}

// AudioStatus is what a sound check found: a speaker to hear the adviser,
// a microphone to be heard.
type AudioStatus struct {
	Speaker bool
	Mic     bool
	Reason  string // why not, in words a technician can act on
}

// Audio is the kiosk's sound: the speaker's volume and the microphone's
// mute, through the sound server. Volumes are in percent (0 to 100).
type Audio interface {
	Check(ctx context.Context) (AudioStatus, error)
	Volume(ctx context.Context) (int, error)
	SetVolume(ctx context.Context, percent int) error
	// SetMicMute closes (true) or opens the microphone. A back-end that
	// loses its sound server puts this state back when it returns.
	SetMicMute(ctx context.Context, muted bool) error
}

// SoundTester is implemented by Audio back-ends that maintenance can use
// to test the speaker and the microphone.
type SoundTester interface {
	// PlayTone plays a short tone on the speaker and returns when it has
	// been played (or ctx ends).
	PlayTone(ctx context.Context, d time.Duration) error
	// MicLevels records from the microphone until ctx ends, sending its
	// peak level (0 to 1) about ten times a second; the channel closes
	// when recording stops. The caller opens the microphone first.
	MicLevels(ctx context.Context) (<-chan float64, error)
}

// Printer reasons the shell puts into plain words (its catalogs have a
// "printer.<reason>" entry for each).
const (
	ReasonNone      = ""
	ReasonNoPaper   = "media-empty"
	ReasonOffline   = "offline"
	ReasonJammed    = "media-jam"
	ReasonNoToner   = "toner-empty"
	ReasonUnknown   = "unknown"
	ReasonNoPrinter = "not-found"
	// ReasonPaused: the queue is stopped or refuses jobs, by an agent or by
	// the print system after a failure; maintenance can enable it again.
	ReasonPaused = "paused"
	// ReasonDoorOpen: a cover or door of the printer is open.
	ReasonDoorOpen = "door-open"
	// ReasonNoService: the print service itself does not answer.
	ReasonNoService = "no-service"
	// ReasonMisconfigured: the queue cannot print as set up (a driver or
	// filter missing); only a technician can fix it.
	ReasonMisconfigured = "misconfigured"
	// ReasonJobFailed and ReasonJobCanceled say why one job did not print
	// when the printer itself is fine.
	ReasonJobFailed   = "job-failed"
	ReasonJobCanceled = "job-canceled"
)

// PrinterStatus is the printer's state as far as a citizen is concerned.
type PrinterStatus struct {
	Ready  bool
	Reason string // one of the Reason constants when not ready
	Detail string // precise words for borne doctor and maintenance
}

// Document is something the kiosk prints: a title and lines of text laid
// out by the back-end, or a PDF file printed as it is.
type Document struct {
	Kind  string // "sheet", "slip", "form", "test"
	Title string
	// Lines are printed in order. A line starting with "•" is a list item;
	// a line followed by list items is their heading.
	Lines []string
	// Lang is the language of the words the back-end adds (headings,
	// labels): "fr" or "en"; French when empty.
	Lang string
	// File is the PDF printed as it is for a form; Title and Lines are
	// then only the job's name.
	File string
	// Phone, Website and Opens say how to reach an operator and when it
	// opens next ("lun. 9:00"); printed under their own labels when set.
	Phone, Website, Opens string
}

// JobID names a print job.
type JobID string

// Printer prints documents.
type Printer interface {
	Status(ctx context.Context) (PrinterStatus, error)
	Print(ctx context.Context, d Document) (JobID, error)
	Purge(ctx context.Context) error
}

// Change is a change of state reported by a back-end: a device or service
// that went away or came back, a print job that finished.
//
// For a print job (Job set), JobState says where it is: "completed" (OK,
// Pages printed), "canceled" or "aborted" (not OK, Reason says why), or
// "pending", "processing-stopped" when it has waited too long or the
// printer stopped under it (not OK, Reason is the printer's): it may still
// print later, and a final Change follows. Only jobs that Print accepted
// are reported; a Print that fails says so by its error.
type Change struct {
	Device   string // "camera", "display", "printer", "sessions", "audio"
	OK       bool
	Reason   string
	Job      JobID  // set for print job outcomes
	JobState string // IPP job-state keyword, for print jobs
	Pages    int    // pages printed, for a completed print job
}

// PrintJob is a job in the printer's queue, as maintenance lists them.
type PrintJob struct {
	ID      JobID
	Name    string
	State   string // IPP job-state keyword: "pending", "processing-stopped", "aborted"…
	Reason  string // one of the Reason constants when it cannot go on
	Detail  string // the print system's own words
	Pages   int    // printed so far
	Created time.Time
}

// PrintQueue is implemented by printers whose queue maintenance can see
// and act on: list the jobs, cancel or retry one, enable the queue again
// after it stopped.
type PrintQueue interface {
	Jobs(ctx context.Context) ([]PrintJob, error)
	Cancel(ctx context.Context, id JobID) error
	Retry(ctx context.Context, id JobID) error
	Enable(ctx context.Context) error
}

// Hardware is the set of back-ends the shell drives.
type Hardware struct {
	Sessions Sessions
	Display  Display
	Camera   Camera
	Printer  Printer
	Audio    Audio // nil: no sound control
	// Changes carries state changes; nil when the back-end reports none.
	Changes <-chan Change
	// Close releases the back-ends' resources.
	Close func() error
}

// ErrSessionTimeout is in the end of a session that its back-end ended
// because it outlived max_session.
var ErrSessionTimeout = errors.New("the session outlived max_session")

// ErrUnavailable is returned when a device or service is not there.
var ErrUnavailable = errors.New("unavailable")
