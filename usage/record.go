package usage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/mattn/go-sqlite3"
)

// ErrInvalid is wrapped by the errors Record returns for an event that may
// not go into the log (unknown kind, a detail key outside the allow-list…).
var ErrInvalid = errors.New("invalid usage event")

// errAlreadyRecorded is an ErrInvalid that tells a Buffer writing an
// event again that the first write did reach the disk.
var errAlreadyRecorded = fmt.Errorf("%w", ErrInvalid)

// TimeFormat is how At is stored and exported: RFC 3339, UTC, seconds.
const TimeFormat = "2006-01-02T15:04:05Z"

// Limits on what an event may carry. They keep typed text, names and the
// like out of the log: detail values are numbers, booleans or short words
// from a fixed vocabulary chosen by the code, never by the citizen.
const (
	MaxDetailString = 200 // bytes of a detail string value
	maxIDLen        = 64  // site and operator ids
	maxPlaceLen     = 200 // a commune name
)

var knownKinds = map[string]bool{
	KindShellStarted:        true,
	KindShellStopped:        true,
	KindOperatorViewed:      true,
	KindSessionStarted:      true,
	KindSessionEnded:        true,
	KindPrintJob:            true,
	KindIdleReset:           true,
	KindSurvey:              true,
	KindMaintenanceUnlocked: true,
	KindMaintenancePinFail:  true,
	KindMaintenanceLockout:  true,
	KindMaintenanceLocked:   true,
	KindOutOfService:        true,
	KindBackInService:       true,
	KindHardwareFault:       true,
	KindHardwareRecovered:   true,
}

var knownOutcomes = map[string]bool{
	"":               true,
	OutcomeCompleted: true,
	OutcomeCancelled: true,
	OutcomeFailed:    true,
	OutcomeTimeout:   true,
	OutcomePrinted:   true,
}

// DetailKeys is the allow-list of keys an event's Detail may hold.
var DetailKeys = []string{"pages", "score", "device", "reason", "attempts", "lockout_s", "level", "code", "message_kind", "remote", "test"}

var detailKeySet = func() map[string]bool {
	m := make(map[string]bool, len(DetailKeys))
	for _, k := range DetailKeys {
		m[k] = true
	}
	return m
}()

// KnownKind reports whether kind is one of the Kind constants.
func KnownKind(kind string) bool { return knownKinds[kind] }

// Record adds e to the log and returns it as stored. It sets ID (a random
// UUID) when empty, At (now) when zero, and Site and Place from SetStamp
// when empty; At is kept in UTC at second precision. The event is on disk
// when Record returns. Safe for concurrent use.
func (s *Store) Record(ctx context.Context, e Event) (Event, error) {
	if s == nil || s.closed.Load() {
		return e, ErrClosed
	}
	if e.ID == "" {
		// Version 4, not 7: a v7 id would carry the time to the
		// millisecond, finer than the log allows.
		e.ID = uuid.NewString()
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.At = e.At.UTC().Truncate(time.Second)
	if e.Site == "" || e.Place == "" {
		site, place := s.stamp()
		if e.Site == "" {
			e.Site = site
		}
		if e.Place == "" && place != nil {
			e.Place = place(e.At)
		}
	}
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	detail, err := check(&e)
	if err != nil {
		return e, err
	}
	res, err := s.insert.ExecContext(ctx, e.ID, e.At.Format(TimeFormat), e.Site, e.Place,
		e.Kind, e.Operator, e.Outcome, e.DurationMS, detail)
	if err != nil {
		if s.closed.Load() {
			return e, ErrClosed
		}
		var se sqlite3.Error
		if errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique {
			return e, fmt.Errorf("usage log %s: an event with id %s is already recorded: %w", s.path, e.ID, errAlreadyRecorded)
		}
		return e, s.describe("recording a "+e.Kind+" event", err)
	}
	if e.Seq, err = res.LastInsertId(); err != nil {
		return e, s.describe("recording a "+e.Kind+" event", err)
	}
	return e, nil
}

// check validates e, normalising its ID, and returns its detail as JSON.
func check(e *Event) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if !knownKinds[e.Kind] {
		return bad("unknown kind %q", e.Kind)
	}
	id, err := uuid.Parse(e.ID)
	if err != nil {
		return bad("id %q is not a UUID", e.ID)
	}
	e.ID = id.String()
	if y := e.At.Year(); y < 1 || y > 9999 {
		return bad("time %v is out of range", e.At)
	}
	if !knownOutcomes[e.Outcome] {
		return bad("unknown outcome %q", e.Outcome)
	}
	if e.DurationMS < 0 {
		return bad("negative duration %d ms", e.DurationMS)
	}
	if !isID(e.Site) {
		return bad("site %q is not an id (letters, digits, '.', '_', '-'; at most %d)", e.Site, maxIDLen)
	}
	if !isID(e.Operator) {
		return bad("operator %q is not an id (letters, digits, '.', '_', '-'; at most %d)", e.Operator, maxIDLen)
	}
	if len(e.Place) > maxPlaceLen || !isPlainText(e.Place) {
		return bad("place %q is not a plain name of at most %d bytes", e.Place, maxPlaceLen)
	}
	for k, v := range e.Detail {
		if !detailKeySet[k] {
			return bad("detail key %q is not allowed (allowed: %v)", k, DetailKeys)
		}
		if err := checkDetailValue(v); err != nil {
			return bad("detail %q: %v", k, err)
		}
	}
	if len(e.Detail) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(e.Detail)
	if err != nil {
		return bad("detail: %v", err)
	}
	return string(b), nil
}

func checkDetailValue(v any) error {
	switch v := v.(type) {
	case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return nil
	case float32:
		return checkFloat(float64(v))
	case float64:
		return checkFloat(v)
	case json.Number:
		if _, err := v.Float64(); err != nil {
			return fmt.Errorf("%q is not a number", string(v))
		}
		return nil
	case string:
		if len(v) > MaxDetailString {
			return fmt.Errorf("string of %d bytes, more than %d", len(v), MaxDetailString)
		}
		if !isPlainText(v) {
			return fmt.Errorf("string with control characters or invalid UTF-8")
		}
		return nil
	default:
		return fmt.Errorf("value of type %T (only numbers, booleans and short strings)", v)
	}
}

func checkFloat(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%v is not a finite number", f)
	}
	return nil
}

// isID reports whether s is empty or a short ASCII id.
func isID(s string) bool {
	if len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// isPlainText reports whether s is valid UTF-8 without control characters.
func isPlainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}
