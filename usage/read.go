package usage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

const selectColumns = `SELECT seq, id, at, site, place, kind, operator, outcome, duration_ms, detail FROM events`

// row is an event as stored, before decoding.
type row struct {
	seq        int64
	id, at     string
	site       string
	place      string
	kind       string
	operator   string
	outcome    string
	durationMS int64
	detail     string
}

// dest returns the Scan destinations for selectColumns.
func (r *row) dest() []any {
	return []any{&r.seq, &r.id, &r.at, &r.site, &r.place, &r.kind, &r.operator, &r.outcome, &r.durationMS, &r.detail}
}

func (r *row) event() (Event, error) {
	at, err := time.Parse(time.RFC3339, r.at)
	if err != nil {
		return Event{}, fmt.Errorf("event seq %d: time %q: %v", r.seq, r.at, err)
	}
	detail := map[string]any{}
	if r.detail != "" {
		if err := json.Unmarshal([]byte(r.detail), &detail); err != nil {
			return Event{}, fmt.Errorf("event seq %d: detail: %v", r.seq, err)
		}
	}
	return Event{
		ID: r.id, Seq: r.seq, At: at.UTC(),
		Site: r.site, Place: r.place, Kind: r.kind,
		Operator: r.operator, Outcome: r.outcome, DurationMS: r.durationMS,
		Detail: detail,
	}, nil
}

// Events returns up to limit events with a seq greater than sinceSeq, in
// seq order (limit <= 0: all of them). Detail numbers come back as float64,
// as from encoding/json.
func (s *Store) Events(ctx context.Context, sinceSeq int64, limit int) ([]Event, error) {
	if s == nil || s.closed.Load() {
		return nil, ErrClosed
	}
	if limit <= 0 {
		limit = -1 // no limit, in SQLite
	}
	rows, err := s.r.QueryContext(ctx, selectColumns+` WHERE seq > ? ORDER BY seq LIMIT ?`, sinceSeq, limit)
	if err != nil {
		return nil, s.describe("reading events", err)
	}
	defer rows.Close()
	var (
		out  []Event
		r    row
		dest = r.dest()
	)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, s.describe("reading events", err)
		}
		e, err := r.event()
		if err != nil {
			return nil, s.describe("reading events", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.describe("reading events", err)
	}
	return out, nil
}

// LastSeq returns the highest seq in the log, or 0 when it is empty.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	if s == nil || s.closed.Load() {
		return 0, ErrClosed
	}
	var seq int64
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq); err != nil {
		return 0, s.describe("reading the last seq", err)
	}
	return seq, nil
}

// Count returns how many events of the given kind ("" for all kinds)
// happened at or after from and before to. A zero from or to leaves that
// side open.
func (s *Store) Count(ctx context.Context, kind string, from, to time.Time) (int, error) {
	if s == nil || s.closed.Load() {
		return 0, ErrClosed
	}
	if kind != "" && !knownKinds[kind] {
		return 0, fmt.Errorf("%w: unknown kind %q", ErrInvalid, kind)
	}
	var (
		where []string
		args  []any
	)
	if kind != "" {
		where = append(where, "kind = ?")
		args = append(args, kind)
	}
	if !from.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, formatCeil(from))
	}
	if !to.IsZero() {
		where = append(where, "at < ?")
		args = append(args, formatCeil(to))
	}
	q := `SELECT COUNT(*) FROM events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	var n int
	if err := s.r.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, s.describe("counting events", err)
	}
	return n, nil
}

// formatCeil formats t in UTC rounded up to the second: events are stored
// at whole seconds, so "at >= t" is "at >= ceil(t)", and so is "at < t"
// with "<".
func formatCeil(t time.Time) string {
	t = t.UTC()
	if tt := t.Truncate(time.Second); !tt.Equal(t) {
		t = tt.Add(time.Second)
	}
	return t.Format(TimeFormat)
}

// withTx runs f in one transaction on db, committed if f returns nil and
// rolled back otherwise. On the writer it is BEGIN IMMEDIATE (_txlock); a
// read-only transaction sees one snapshot of the log from its first read to
// its end, however much the kiosk writes meanwhile.
func withTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}
