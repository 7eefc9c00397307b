package collect

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/loiret/borne/usage"
)

// Event is one event of a batch, checked and ready to store.
type Event struct {
	usage.Event
	detail string          // Detail as JSON
	score  sql.NullFloat64 // a survey's score
}

// LineError is an event of a batch that may not be stored: the collector
// answers 400 with it and stores nothing of the batch.
type LineError struct {
	Line int // 1-based line of the NDJSON body
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ParseBatch reads an NDJSON batch and checks every event as the kiosk's
// log does before recording it (usage.CheckEvent), plus what only a wire
// format can get wrong: unknown or missing fields, a seq, and values that
// look like someone's e-mail address or phone number.
func ParseBatch(body []byte) ([]Event, error) {
	out := make([]Event, 0, min(bytes.Count(body, []byte{'\n'})+1, usage.MaxBatchEvents))
	for n := 1; len(body) > 0; n++ {
		line, rest, _ := bytes.Cut(body, []byte{'\n'})
		body = rest
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if len(body) == 0 {
				break
			}
			return nil, &LineError{n, errors.New("empty line (one event per line)")}
		}
		e, err := parseLine(line)
		if err != nil {
			return nil, &LineError{n, err}
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, &LineError{1, errors.New("the batch holds no event")}
	}
	return out, nil
}

// wireEvent is an event as sent. A required field missing is left at its
// zero value, which no event may have.
type wireEvent struct {
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

func parseLine(line []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var w wireEvent
	if err := dec.Decode(&w); err != nil {
		return Event{}, fmt.Errorf("not a usage event: %v", jsonErr(err))
	}
	if dec.More() {
		return Event{}, errors.New("more than one JSON value on the line")
	}
	switch {
	case w.ID == "":
		return Event{}, errors.New(`missing "id"`)
	case w.Seq < 1:
		return Event{}, errors.New(`missing "seq" (1 or more)`)
	case w.At.IsZero():
		return Event{}, errors.New(`missing "at"`)
	case w.Site == "":
		return Event{}, errors.New(`missing "site"`)
	case w.Kind == "":
		return Event{}, errors.New(`missing "kind"`)
	}
	e := Event{Event: usage.Event{ID: w.ID, Seq: w.Seq, At: w.At, Site: w.Site, Place: w.Place,
		Kind: w.Kind, Operator: w.Operator, Outcome: w.Outcome, DurationMS: w.DurationMS, Detail: w.Detail}}
	detail, err := usage.CheckEvent(&e.Event)
	if err != nil {
		return Event{}, err
	}
	if err := personalData(&e.Event); err != nil {
		return Event{}, fmt.Errorf("%w: %v", usage.ErrInvalid, err)
	}
	e.detail = detail
	if e.Kind == usage.KindSurvey {
		if n, ok := e.Detail["score"].(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				e.score = sql.NullFloat64{Float64: f, Valid: true}
			}
		}
	}
	return e, nil
}

// jsonErr says what is wrong with a line without Go's type names.
func jsonErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%q has a value of the wrong type (%s)", te.Field, te.Value)
	}
	return err.Error()
}

var (
	emailLike = regexp.MustCompile(`[^\s@]+@[^\s@]+\.[^\s@]+`)
	phoneLike = regexp.MustCompile(`(\+33|0)\s*[1-9]([\s.-]*[0-9]{2}){4}`)
)

// looksPersonal tells e-mail addresses and phone numbers. The regular
// expressions run only on text that could match them (an @, ten digits):
// nearly every value is short and has neither.
func looksPersonal(s string) bool {
	if strings.IndexByte(s, '@') >= 0 && emailLike.MatchString(s) {
		return true
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits++
		}
	}
	return digits >= 10 && phoneLike.MatchString(s)
}

// personalData refuses text that looks like a citizen's e-mail address or
// phone number: the allow-list keeps typed text out of the log, and this
// keeps a kiosk with a bug from bringing it into the fleet's database.
func personalData(e *usage.Event) error {
	check := func(what, s string) error {
		if looksPersonal(s) {
			return fmt.Errorf("%s looks like personal data (an e-mail address or a phone number)", what)
		}
		return nil
	}
	if err := check("place", e.Place); err != nil {
		return err
	}
	for k, v := range e.Detail {
		if s, ok := v.(string); ok {
			if err := check("detail "+strconv.Quote(k), s); err != nil {
				return err
			}
		}
	}
	return nil
}
