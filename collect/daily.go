package collect

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loiret/borne/usage"
)

// The roll-up (table daily, migration 0003) holds the stats' figures per
// day of one time zone, site, commune and operator, kept in the same
// transaction as the events they count. Stats read it instead of the
// events: a year of a fleet is some tens of thousands of rows rather than
// millions of events.

// healthKinds is the predicate of the index events_health (migration
// 0003); the queries that read it repeat it word for word, which SQLite
// needs to use a partial index.
const healthKinds = `kind IN ('hardware_fault', 'out_of_service', 'back_in_service')`

// countedKinds are the kinds that make a stats row.
const countedKinds = `kind IN ('session_started', 'session_ended', 'survey', 'print_job')`

// dayLayout names a day of the roll-up, as logs stats names days.
const dayLayout = "2006-01-02"

type dayKey struct{ day, site, place, operator string }

// dayRow is one row of the roll-up, with the definitions of the kiosk's
// logs stats: sessions that started, sessions completed, durations of the
// sessions that connected (not cancelled), surveys with a score, print
// jobs printed.
type dayRow struct {
	sessions, completed, durationMS, surveys, printJobs int64
	scoreSum                                            float64
	durations                                           []int64
}

func (r *dayRow) merge(o *dayRow) {
	r.sessions += o.sessions
	r.completed += o.completed
	r.durationMS += o.durationMS
	r.surveys += o.surveys
	r.printJobs += o.printJobs
	r.scoreSum += o.scoreSum
	r.durations = append(r.durations, o.durations...)
}

// tally gathers roll-up rows: from a batch's new events, from events read
// again, or from the roll-up itself.
type tally struct {
	loc  *time.Location
	rows map[dayKey]*dayRow
	// The day of the last event seen and its bounds as stored, so that
	// events in time order are placed without a time zone conversion each.
	day, lo, hi string
}

func newTally(loc *time.Location) *tally {
	return &tally{loc: loc, rows: map[dayKey]*dayRow{}}
}

// counted is what the roll-up needs of one event.
type counted struct {
	at, site, place, kind, operator, outcome string
	durationMS                               int64
	score                                    sql.NullFloat64
}

// add counts one event; events of other kinds are left out.
func (t *tally) add(e counted) error {
	switch e.kind {
	case usage.KindSessionStarted, usage.KindSessionEnded, usage.KindSurvey, usage.KindPrintJob:
	default:
		return nil
	}
	day, err := t.dayOf(e.at)
	if err != nil {
		return err
	}
	r := t.row(dayKey{day, e.site, e.place, e.operator})
	switch e.kind {
	case usage.KindSessionStarted:
		r.sessions++
	case usage.KindSessionEnded:
		if e.outcome == usage.OutcomeCompleted {
			r.completed++
		}
		if e.outcome != usage.OutcomeCancelled {
			r.durationMS += e.durationMS
			r.durations = append(r.durations, e.durationMS)
		}
	case usage.KindSurvey:
		if e.score.Valid {
			r.surveys++
			r.scoreSum += e.score.Float64
		}
	case usage.KindPrintJob:
		if e.outcome == usage.OutcomePrinted {
			r.printJobs++
		}
	}
	return nil
}

func (t *tally) row(k dayKey) *dayRow {
	r := t.rows[k]
	if r == nil {
		r = &dayRow{}
		t.rows[k] = r
	}
	return r
}

// dayOf names the day of t.loc's calendar holding at (TimeFormat).
func (t *tally) dayOf(at string) (string, error) {
	if t.lo != "" && at >= t.lo && at < t.hi {
		return t.day, nil
	}
	u, err := time.Parse(usage.TimeFormat, at)
	if err != nil {
		return "", fmt.Errorf("an event's time %q: %v", at, err)
	}
	y, m, d := u.In(t.loc).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, t.loc)
	t.day, t.lo, t.hi = start.Format(dayLayout), usage.FormatCeil(start), usage.FormatCeil(time.Date(y, m, d+1, 0, 0, 0, 0, t.loc))
	return t.day, nil
}

// dailyUpsertRows is how many rows one statement writes.
const dailyUpsertRows = 100

const dailyUpsertHead = `INSERT INTO daily (day, site, place, operator, sessions, completed, duration_ms, surveys, score_sum, print_jobs, durations) VALUES `

// Added to what a row holds; durations joined with a comma.
const dailyUpsertTail = ` ON CONFLICT (day, site, place, operator) DO UPDATE SET
	sessions = daily.sessions + excluded.sessions,
	completed = daily.completed + excluded.completed,
	duration_ms = daily.duration_ms + excluded.duration_ms,
	surveys = daily.surveys + excluded.surveys,
	score_sum = daily.score_sum + excluded.score_sum,
	print_jobs = daily.print_jobs + excluded.print_jobs,
	durations = CASE WHEN daily.durations = '' THEN excluded.durations
		WHEN excluded.durations = '' THEN daily.durations
		ELSE daily.durations || ',' || excluded.durations END`

// write adds the tally to the roll-up, in key order: two transactions
// adding to the same rows take their locks in the same order.
func (t *tally) write(ctx context.Context, tx execer, q func(string) string) error {
	keys := make([]dayKey, 0, len(t.rows))
	for k := range t.rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b dayKey) int {
		return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.site, b.site), cmp.Compare(a.place, b.place), cmp.Compare(a.operator, b.operator))
	})
	for chunk := range slices.Chunk(keys, dailyUpsertRows) {
		var b strings.Builder
		b.WriteString(dailyUpsertHead)
		args := make([]any, 0, 11*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			r := t.rows[k]
			args = append(args, k.day, k.site, k.place, k.operator, r.sessions, r.completed, r.durationMS, r.surveys, r.scoreSum, r.printJobs, joinDurations(r.durations))
		}
		b.WriteString(dailyUpsertTail)
		if err := tx.exec(ctx, q(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

func joinDurations(d []int64) string {
	b := make([]byte, 0, 8*len(d))
	for i, v := range d {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, v, 10)
	}
	return string(b)
}

func splitDurations(s string, into []int64) ([]int64, error) {
	for s != "" {
		var v string
		v, s, _ = strings.Cut(s, ",")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return into, fmt.Errorf("the roll-up's durations hold %q", v)
		}
		into = append(into, n)
	}
	return into, nil
}

// dailyZone is the time zone the roll-up counts days in; "" when it is
// not built. On PostgreSQL a batch reads it FOR SHARE: a rebuild holds
// the row from its start, so a batch waits for it and then adds its
// events in the new zone.
func (s *Store) dailyZone(ctx context.Context, tx execer, forShare bool) (string, error) {
	q := `SELECT value FROM settings WHERE name = 'daily_zone'`
	if forShare && s.pg {
		q += ` FOR SHARE`
	}
	var zone string
	err := tx.queryRow(ctx, q, nil, &zone)
	return zone, err
}

var zones sync.Map // name → *time.Location

func loadZone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("the roll-up's time zone: %v", err)
	}
	zones.Store(name, l)
	return l, nil
}

// KeepDaily makes the roll-up count the days of loc (the collector's
// timezone), rebuilding it from the events when it counted another zone's
// or was never built; it says whether it did. The collector calls it at
// start; readers of another zone count from the events themselves.
func (s *Store) KeepDaily(ctx context.Context, loc *time.Location) (bool, error) {
	if loc == nil {
		loc = time.UTC
	}
	var have string
	if err := s.w.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'daily_zone'`).Scan(&have); err != nil {
		return false, s.describe("reading the roll-up's time zone", err)
	}
	if have == loc.String() {
		return false, nil
	}
	// Batches load the zone again by its name.
	if _, err := loadZone(loc.String()); err != nil {
		return false, err
	}
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		// The settings row first: on PostgreSQL its lock holds batches
		// back until the roll-up is whole again.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE settings SET value = ? WHERE name = 'daily_zone'`), loc.String()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM daily`); err != nil {
			return err
		}
		var first, last sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT MIN(at), MAX(at) FROM events`).Scan(&first, &last); err != nil || !first.Valid {
			return err
		}
		lo, err := time.Parse(usage.TimeFormat, first.String)
		if err != nil {
			return err
		}
		// A month of events at a time keeps memory bounded; a day cut in
		// two by a step is summed by the upsert.
		for ; usage.FormatCeil(lo) <= last.String; lo = lo.AddDate(0, 1, 0) {
			if err := s.recount(ctx, tx, loc, usage.FormatCeil(lo), usage.FormatCeil(lo.AddDate(0, 1, 0))); err != nil {
				return err
			}
		}
		return nil
	})
	return err == nil, s.describe("building the stats' roll-up", err)
}

// recount adds the events between lo and hi (stored times) to the
// roll-up of loc.
func (s *Store) recount(ctx context.Context, tx *sql.Tx, loc *time.Location, lo, hi string) error {
	t := newTally(loc)
	if err := s.tallyEvents(ctx, tx, lo, hi, t); err != nil {
		return err
	}
	return t.write(ctx, txExec{tx}, s.q)
}

// tallyEvents counts the events between lo and hi into t.
func (s *Store) tallyEvents(ctx context.Context, tx *sql.Tx, lo, hi string, t *tally) error {
	q := s.q(`SELECT at, site, place, kind, operator, outcome, duration_ms, score FROM events WHERE at >= ? AND at < ? AND ` + countedKinds + ` ORDER BY at`)
	return queryEach(ctx, tx, q, []any{lo, hi}, func(rows *sql.Rows) error {
		var e counted
		if err := rows.Scan(&e.at, &e.site, &e.place, &e.kind, &e.operator, &e.outcome, &e.durationMS, &e.score); err != nil {
			return err
		}
		return t.add(e)
	})
}

// tallyDaily reads the roll-up's days from dayLo to dayHi (excluded).
func (s *Store) tallyDaily(ctx context.Context, tx *sql.Tx, dayLo, dayHi string, t *tally) error {
	q := s.q(`SELECT day, site, place, operator, sessions, completed, duration_ms, surveys, score_sum, print_jobs, durations FROM daily WHERE day >= ? AND day < ?`)
	var durations string
	return queryEach(ctx, tx, q, []any{dayLo, dayHi}, func(rows *sql.Rows) error {
		var k dayKey
		var r dayRow
		if err := rows.Scan(&k.day, &k.site, &k.place, &k.operator, &r.sessions, &r.completed, &r.durationMS, &r.surveys, &r.scoreSum, &r.printJobs, &durations); err != nil {
			return err
		}
		var err error
		if r.durations, err = splitDurations(durations, nil); err != nil {
			return err
		}
		t.row(k).merge(&r)
		return nil
	})
}

// purgeDays takes the roll-up's days up to cutoff's out, in the purge's
// transaction, and counts again what is left of cutoff's own day.
func (s *Store) purgeDays(ctx context.Context, tx *sql.Tx, cutoff time.Time) error {
	zone, err := s.dailyZone(ctx, txExec{tx}, true)
	if err != nil || zone == "" {
		return err
	}
	loc, err := loadZone(zone)
	if err != nil {
		return err
	}
	start := midnight(cutoff, loc)
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM daily WHERE day <= ?`), start.Format(dayLayout)); err != nil {
		return err
	}
	return s.recount(ctx, tx, loc, usage.FormatCeil(start), usage.FormatCeil(midnight(start.AddDate(0, 0, 1), loc)))
}
