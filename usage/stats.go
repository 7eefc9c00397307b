package usage

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Periods Stats groups by.
const (
	ByDay   = "day"
	ByMonth = "month"
)

// StatsOptions says what Stats counts.
type StatsOptions struct {
	// From and To bound the events counted, From included, To excluded;
	// a zero one leaves that side open.
	From, To time.Time
	// Location is the site's time zone, where days and months begin; nil
	// is UTC.
	Location *time.Location
	By       string // ByDay (the default) or ByMonth
}

// StatsRow is what happened with one operator in one period (Period is
// "2026-11-27" by day, "2026-11" by month, "total" for the total row).
// Operator is empty for print jobs from no operator's page.
type StatsRow struct {
	Period    string `json:"period"`
	Operator  string `json:"operator"`
	Sessions  int    `json:"sessions"`  // video sessions that started
	Completed int    `json:"completed"` // sessions that ended normally
	// Durations are over the sessions that started and ended (completed,
	// timeout or failed), not the calls given up while connecting. The
	// median is exact: the mean of the two middle ones for an even count.
	MedianDurationMS float64 `json:"median_duration_ms"`
	TotalDurationMS  int64   `json:"total_duration_ms"`
	Surveys          int     `json:"surveys"`
	// SurveyAverage is the mean score, 1 to 5; nil without surveys.
	SurveyAverage *float64 `json:"survey_average"`
	PrintJobs     int      `json:"print_jobs"` // printed
}

// Stats are the rows of a period by operator, in period then operator
// order, and their total.
type Stats struct {
	By    string     `json:"by"`
	Rows  []StatsRow `json:"rows"`
	Total StatsRow   `json:"total"`
}

// Stats counts, per operator and per day or month, what the log holds
// between o.From and o.To, in one snapshot.
func (s *Store) Stats(ctx context.Context, o StatsOptions) (Stats, error) {
	if s == nil || s.closed.Load() {
		return Stats{}, ErrClosed
	}
	st, err := stats(ctx, s.r, o)
	return st, s.describe("counting stats", err)
}

// StatsFile is Store.Stats on the log at dbPath, opened read-only: it can
// run while the kiosk writes, and never creates the file.
func StatsFile(ctx context.Context, dbPath string, o StatsOptions) (Stats, error) {
	if err := checkBy(o.By); err != nil {
		return Stats{}, err
	}
	db, err := openReadOnly(ctx, dbPath)
	if err != nil {
		return Stats{}, err
	}
	defer db.Close()
	st, err := stats(ctx, db, o)
	return st, describe(dbPath, "counting stats", err)
}

func checkBy(by string) error {
	switch by {
	case "", ByDay, ByMonth:
		return nil
	}
	return fmt.Errorf("usage: unknown stats period %q (day or month)", by)
}

// acc gathers one row.
type acc struct {
	row       StatsRow
	durations []int64
	scoreSum  float64
}

func (a *acc) merge(r StatsRow, scoreSum float64) {
	a.row.Sessions += r.Sessions
	a.row.Completed += r.Completed
	a.row.TotalDurationMS += r.TotalDurationMS
	a.row.Surveys += r.Surveys
	a.row.PrintJobs += r.PrintJobs
	a.scoreSum += scoreSum
}

func (a *acc) done() StatsRow {
	r := a.row
	r.MedianDurationMS = median(a.durations)
	if r.Surveys > 0 {
		avg := math.Round(a.scoreSum/float64(r.Surveys)*100) / 100
		r.SurveyAverage = &avg
	}
	return r
}

// median sorts d and returns its median, 0 when empty.
func median(d []int64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	n := len(d)
	if n%2 == 1 {
		return float64(d[n/2])
	}
	// Halve each before adding: no overflow, exact to the half.
	return float64(d[n/2-1])/2 + float64(d[n/2])/2
}

// period is a day or a month of the site's calendar, with its bounds as
// stored (UTC text), start included, end excluded.
type period struct {
	name, start, end string
}

// periods lists the days or months from the one holding first to the one
// holding last, both stored times.
func periods(first, last string, loc *time.Location, by string) ([]period, error) {
	f, err := time.Parse(TimeFormat, first)
	if err != nil {
		return nil, fmt.Errorf("event time %q: %v", first, err)
	}
	l, err := time.Parse(TimeFormat, last)
	if err != nil {
		return nil, fmt.Errorf("event time %q: %v", last, err)
	}
	f = f.In(loc)
	start := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
	layout, next := "2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	if by == ByMonth {
		start = time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, loc)
		layout, next = "2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	}
	var ps []period
	for !start.After(l) {
		end := next(start)
		ps = append(ps, period{name: start.Format(layout), start: formatCeil(start), end: formatCeil(end)})
		start = end
	}
	return ps, nil
}

// periodsPerQuery bounds the list of periods written into one query.
const periodsPerQuery = 500

// The counts of each period and operator come out of SQLite already
// summed; only the ended sessions come out one by one, for exact medians. The periods drive the loop (CROSS JOIN), each a range of the
// events_stats index, which holds every column these read but the
// surveys' detail.
const (
	statsCountsSQL = `SELECT p.name, e.operator,
	COUNT(*) FILTER (WHERE e.kind = 'session_started'),
	COUNT(*) FILTER (WHERE e.kind = 'print_job' AND e.outcome = 'printed')
FROM p CROSS JOIN events e INDEXED BY events_stats
WHERE e.kind IN ('session_started', 'print_job') AND e.at >= p.lo AND e.at < p.hi
GROUP BY p.name, e.operator`
	statsEndedSQL = `SELECT p.name, e.operator, e.outcome = 'completed', e.outcome = 'cancelled', e.duration_ms
FROM p CROSS JOIN events e INDEXED BY events_stats
WHERE e.kind = 'session_ended' AND e.at >= p.lo AND e.at < p.hi`
	statsSurveysSQL = `SELECT p.name, e.operator, COUNT(json_extract(e.detail, '$.score')), TOTAL(json_extract(e.detail, '$.score'))
FROM p CROSS JOIN events e INDEXED BY events_stats
WHERE e.kind = 'survey' AND e.at >= p.lo AND e.at < p.hi
GROUP BY p.name, e.operator`
)

// periodsCTE writes the periods as a WITH clause; their names and bounds
// are digits and dashes made here, so they go into the text as they are.
func periodsCTE(ps []period) string {
	var b strings.Builder
	b.WriteString("WITH p(name, lo, hi) AS (VALUES ")
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "('%s','%s','%s')", p.name, p.start, p.end)
	}
	b.WriteString(") ")
	return b.String()
}

// statsKey is the period and operator of a row.
type statsKey struct{ period, operator string }

// each runs query and calls f on each row.
func each(ctx context.Context, tx *sql.Tx, query string, f func(statsKey, *sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(statsKey{}, rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func stats(ctx context.Context, db *sql.DB, o StatsOptions) (Stats, error) {
	if err := checkBy(o.By); err != nil {
		return Stats{}, err
	}
	if o.By == "" {
		o.By = ByDay
	}
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	lo, hi := "0000-00-00T00:00:00Z", "9999-99-99T99:99:99Z"
	if !o.From.IsZero() {
		lo = formatCeil(o.From)
	}
	if !o.To.IsZero() {
		hi = formatCeil(o.To)
	}
	out := Stats{By: o.By, Rows: []StatsRow{}}
	type key = statsKey
	groups := map[key]*acc{}
	total := &acc{row: StatsRow{Period: "total"}}
	get := func(k key) *acc {
		a := groups[k]
		if a == nil {
			a = &acc{row: StatsRow{Period: k.period, Operator: k.operator}}
			groups[k] = a
		}
		return a
	}
	err := withTx(ctx, db, &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) error {
		var first, last sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT MIN(at), MAX(at) FROM events WHERE at >= ? AND at < ?`, lo, hi).Scan(&first, &last); err != nil {
			return err
		}
		if !first.Valid {
			return nil
		}
		all, err := periods(first.String, last.String, loc, o.By)
		if err != nil {
			return err
		}
		// The bounds asked for cut the first and last periods, so that the
		// periods alone bound each range.
		all[0].start = max(all[0].start, lo)
		all[len(all)-1].end = min(all[len(all)-1].end, hi)
		for ps := range slices.Chunk(all, periodsPerQuery) {
			with := periodsCTE(ps)
			err := each(ctx, tx, with+statsCountsSQL, func(k key, rows *sql.Rows) error {
				var r StatsRow
				if err := rows.Scan(&k.period, &k.operator, &r.Sessions, &r.PrintJobs); err != nil {
					return err
				}
				get(k).merge(r, 0)
				total.merge(r, 0)
				return nil
			})
			if err != nil {
				return err
			}
			// Ended sessions one by one: completed ones counted, the
			// durations of those that connected kept for the medians.
			var last key
			var a *acc
			err = each(ctx, tx, with+statsEndedSQL, func(k key, rows *sql.Rows) error {
				var completed, cancelled bool
				var d int64
				if err := rows.Scan(&k.period, &k.operator, &completed, &cancelled, &d); err != nil {
					return err
				}
				if a == nil || k != last {
					a, last = get(k), k
				}
				if completed {
					a.row.Completed++
					total.row.Completed++
				}
				if !cancelled {
					a.durations = append(a.durations, d)
					a.row.TotalDurationMS += d
					total.durations = append(total.durations, d)
					total.row.TotalDurationMS += d
				}
				return nil
			})
			if err != nil {
				return err
			}
			err = each(ctx, tx, with+statsSurveysSQL, func(k key, rows *sql.Rows) error {
				var r StatsRow
				var sum float64
				if err := rows.Scan(&k.period, &k.operator, &r.Surveys, &sum); err != nil {
					return err
				}
				get(k).merge(r, sum)
				total.merge(r, sum)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Stats{}, err
	}
	for _, a := range groups {
		out.Rows = append(out.Rows, a.done())
	}
	slices.SortFunc(out.Rows, func(a, b StatsRow) int {
		return cmp.Or(cmp.Compare(a.Period, b.Period), cmp.Compare(a.Operator, b.Operator))
	})
	out.Total = total.done()
	return out, nil
}

// Stats output formats.
const (
	FormatTable = "table"
	FormatJSON  = "json"
)

// StatsColumns are the columns of the CSV and table outputs.
var StatsColumns = []string{"period", "operator", "sessions", "completed", "median_duration_ms", "total_duration_ms", "surveys", "survey_average", "print_jobs"}

// Write writes the stats as a table (aligned columns, durations as
// h:mm:ss, then the total), CSV (StatsColumns, no total: every line is
// data) or JSON (one object).
func (st Stats) Write(w io.Writer, format string) error {
	switch format {
	case FormatTable, "":
		return st.writeTable(w)
	case FormatCSV:
		cw := csv.NewWriter(w)
		cw.Write(StatsColumns)
		for _, r := range st.Rows {
			cw.Write([]string{r.Period, r.Operator, strconv.Itoa(r.Sessions), strconv.Itoa(r.Completed),
				strconv.FormatFloat(r.MedianDurationMS, 'f', -1, 64), strconv.FormatInt(r.TotalDurationMS, 10),
				strconv.Itoa(r.Surveys), avgText(r.SurveyAverage, ""), strconv.Itoa(r.PrintJobs)})
		}
		cw.Flush()
		return cw.Error()
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return fmt.Errorf("usage: unknown stats format %q (table, csv or json)", format)
}

func (st Stats) writeTable(w io.Writer) error {
	by := st.By
	if by == "" {
		by = ByDay
	}
	cells := [][]string{{by, "operator", "sessions", "completed", "median", "total", "surveys", "average", "prints"}}
	row := func(r StatsRow) {
		op := r.Operator
		if op == "" {
			op = "-"
		}
		cells = append(cells, []string{r.Period, op, strconv.Itoa(r.Sessions), strconv.Itoa(r.Completed),
			clock(int64(math.Round(r.MedianDurationMS))), clock(r.TotalDurationMS),
			strconv.Itoa(r.Surveys), avgText(r.SurveyAverage, "-"), strconv.Itoa(r.PrintJobs)})
	}
	for _, r := range st.Rows {
		row(r)
	}
	if len(st.Rows) > 0 {
		total := st.Total
		total.Operator = "all"
		row(total)
	}
	width := make([]int, len(cells[0]))
	for _, line := range cells {
		for i, c := range line {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, line := range cells {
		for i, c := range line {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			switch {
			case i < 2: // words to the left, numbers to the right
				b.WriteString(c)
				if i < len(line)-1 {
					b.WriteString(pad)
				}
			default:
				b.WriteString(pad)
				b.WriteString(c)
			}
			if i < len(line)-1 {
				b.WriteString("  ")
			}
		}
		b.WriteByte('\n')
	}
	if len(st.Rows) == 0 {
		b.WriteString("no sessions, surveys or print jobs in this period\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// clock writes a duration in milliseconds as h:mm:ss, rounded to the
// second.
func clock(ms int64) string {
	sec := (ms + 500) / 1000
	return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
}

func avgText(a *float64, none string) string {
	if a == nil {
		return none
	}
	return strconv.FormatFloat(*a, 'f', 2, 64)
}
