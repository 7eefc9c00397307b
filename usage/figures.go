package usage

import (
	"context"
	"fmt"
	"time"
)

// Figures are the counts a site agent sees in maintenance.
type Figures struct {
	Calls, Completed, Prints, Surveys int
	ScoreSum                          int
	Faults                            []Fault // latest first
}

// Fault is a hardware_fault event as the figures list it.
type Fault struct {
	At       time.Time
	Device   string // as recorded: camera, sessions, audio, video client, usage_log…
	Operator string // the operator whose video client failed, if any
	Reason   string // the device back-end's own words
}

// maxFaults is how many recent faults the figures list.
const maxFaults = 5

// Figures counts citizens' calls (an agent's trial calls, marked test,
// are left out), completed calls, printed jobs and surveys between from
// and to, with the latest hardware faults, in one read transaction.
func (s *Store) Figures(ctx context.Context, from, to time.Time) (Figures, error) {
	var f Figures
	if s == nil || s.closed.Load() {
		return f, ErrClosed
	}
	lo, hi := formatCeil(from), formatCeil(to)
	err := s.r.QueryRowContext(ctx, `SELECT
		COUNT(*) FILTER (WHERE kind = 'session_started' AND json_extract(detail, '$.test') IS NULL),
		COUNT(*) FILTER (WHERE kind = 'session_ended' AND outcome = 'completed' AND json_extract(detail, '$.test') IS NULL),
		COUNT(*) FILTER (WHERE kind = 'print_job' AND outcome = 'printed'),
		COUNT(*) FILTER (WHERE kind = 'survey'),
		COALESCE(SUM(json_extract(detail, '$.score')) FILTER (WHERE kind = 'survey'), 0)
		FROM events WHERE at >= ? AND at < ?`, lo, hi).
		Scan(&f.Calls, &f.Completed, &f.Prints, &f.Surveys, &f.ScoreSum)
	if err != nil {
		return f, s.describe("counting figures", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT at,
		COALESCE(json_extract(detail, '$.device'), ''), COALESCE(json_extract(detail, '$.reason'), ''), operator
		FROM events WHERE kind = 'hardware_fault' AND at >= ? AND at < ? ORDER BY seq DESC LIMIT ?`, lo, hi, maxFaults)
	if err != nil {
		return f, s.describe("reading faults", err)
	}
	defer rows.Close()
	for rows.Next() {
		var x Fault
		var at string
		if err := rows.Scan(&at, &x.Device, &x.Reason, &x.Operator); err != nil {
			return f, s.describe("reading faults", err)
		}
		if x.At, err = time.Parse(TimeFormat, at); err != nil {
			return f, s.describe("reading faults", fmt.Errorf("a fault's time %q: %v", at, err))
		}
		f.Faults = append(f.Faults, x)
	}
	return f, s.describe("reading faults", rows.Err())
}
