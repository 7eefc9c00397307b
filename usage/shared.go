package usage

import (
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// What the Département's collector (package collect) shares with the
// kiosk: one validation of events and one way of counting, so the two
// ends can never disagree on what an event may hold or how a figure is
// computed.

// CheckEvent validates e as Record does before storing it (known kind and
// outcome, UUID id, ids, plain place, detail keys from DetailKeys with
// numbers, booleans or short plain strings), normalises its ID and time
// (UTC, whole seconds), and returns its detail as JSON. Its errors wrap
// ErrInvalid.
func CheckEvent(e *Event) (detail string, err error) {
	e.At = e.At.UTC().Truncate(time.Second)
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	return check(e)
}

// Median sorts d and returns its median (the mean of the two middle ones
// for an even count), 0 when d is empty: the median of logs stats.
func Median(d []int64) float64 { return median(d) }

// Clock writes a duration in milliseconds as h:mm:ss, as logs stats does.
func Clock(ms int64) string { return clock(ms) }

// AverageText writes a survey average as logs stats does, none when nil.
func AverageText(a *float64, none string) string { return avgText(a, none) }

// Period is a day or a month of a calendar, named as in logs stats
// ("2026-11-27", "2026-11"), with its bounds as events store their time
// (TimeFormat, UTC): Start included, End excluded.
type Period struct{ Name, Start, End string }

// Periods lists the days or months (by) of loc's calendar from the one
// holding first to the one holding last, both in TimeFormat.
func Periods(first, last string, loc *time.Location, by string) ([]Period, error) {
	if err := checkBy(by); err != nil {
		return nil, err
	}
	if by == "" {
		by = ByDay
	}
	ps, err := periods(first, last, loc, by)
	out := make([]Period, len(ps))
	for i, p := range ps {
		out[i] = Period{Name: p.name, Start: p.start, End: p.end}
	}
	return out, err
}

// FormatCeil formats t as events store their time, rounded up to the
// second, so that "at >= t" and "at < t" compare right on stored text.
func FormatCeil(t time.Time) string { return formatCeil(t) }

// Migration is one file of a migrations/ folder, NNNN_name.sql, bringing a
// schema to version NNNN: the kiosk's log and the collector number theirs
// the same way.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations returns the migrations/ folder of fsys in order, checking
// that their versions run 1, 2, 3… without a gap.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		num, _, found := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !found || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s is not named NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s should have version %d", m.Name, i+1)
		}
	}
	return ms, nil
}
