package collect

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

	"github.com/loiret/borne/usage"
)

// StatsOptions says what Stats counts, as usage.StatsOptions does for one
// kiosk: From included, To excluded, days or months of Location.
type StatsOptions struct {
	From, To time.Time
	Location *time.Location
	By       string // usage.ByDay (default) or usage.ByMonth
}

// StatsRow is logs stats' row with the kiosk's site and the commune where
// it stood (place): one row per period, site, place and operator.
type StatsRow struct {
	Period           string   `json:"period"`
	Site             string   `json:"site"`
	Place            string   `json:"place"`
	Operator         string   `json:"operator"`
	Sessions         int      `json:"sessions"`
	Completed        int      `json:"completed"`
	MedianDurationMS float64  `json:"median_duration_ms"`
	TotalDurationMS  int64    `json:"total_duration_ms"`
	Surveys          int      `json:"surveys"`
	SurveyAverage    *float64 `json:"survey_average"`
	PrintJobs        int      `json:"print_jobs"`
}

// Stats are the fleet's rows in period, site, place, operator order, and
// their total.
type Stats struct {
	By    string     `json:"by"`
	Rows  []StatsRow `json:"rows"`
	Total StatsRow   `json:"total"`
}

type statsKey struct{ period, site, place, operator string }

// group gathers one row.
type group struct {
	row       StatsRow
	scoreSum  float64
	durations []int64 // SQLite: for the exact median
}

func (g *group) done() StatsRow {
	r := g.row
	if g.durations != nil {
		r.MedianDurationMS = usage.Median(g.durations)
	}
	if r.Surveys > 0 {
		avg := math.Round(g.scoreSum/float64(r.Surveys)*100) / 100
		r.SurveyAverage = &avg
	}
	return r
}

// The counts come out of the engine summed by period, site, place and
// operator, with the same definitions as the kiosk's logs stats: sessions
// that started, sessions completed, durations of the sessions that
// connected (not cancelled), surveys with a score, print jobs printed.
// The periods drive the join, each a range of stored times.
const statsSQL = `SELECT p.name, e.site, e.place, e.operator,
	SUM(CASE WHEN e.kind = 'session_started' THEN 1 ELSE 0 END),
	SUM(CASE WHEN e.kind = 'session_ended' AND e.outcome = 'completed' THEN 1 ELSE 0 END),
	CAST(SUM(CASE WHEN e.kind = 'session_ended' AND e.outcome <> 'cancelled' THEN e.duration_ms ELSE 0 END) AS BIGINT),
	SUM(CASE WHEN e.kind = 'survey' AND e.score IS NOT NULL THEN 1 ELSE 0 END),
	SUM(CASE WHEN e.kind = 'survey' AND e.score IS NOT NULL THEN e.score ELSE 0 END),
	SUM(CASE WHEN e.kind = 'print_job' AND e.outcome = 'printed' THEN 1 ELSE 0 END)
FROM %s
GROUP BY p.name, e.site, e.place, e.operator`

// Each period is a range of the index on (kind, at): SQLite's planner
// loops over the periods by itself; PostgreSQL is told to with LATERAL,
// or it compares every event with every period.
const (
	sqliteStatsFrom = `p JOIN events e ON e.at >= p.lo AND e.at < p.hi
WHERE e.kind IN ('session_started', 'session_ended', 'survey', 'print_job')`
	pgStatsFrom = `p CROSS JOIN LATERAL (SELECT site, place, operator, kind, outcome, duration_ms, score FROM events
	WHERE kind IN ('session_started', 'session_ended', 'survey', 'print_job') AND at >= p.lo AND at < p.hi) e`
)

// PostgreSQL gives exact medians itself (percentile_cont of 0.5 is the
// mean of the two middle values, as usage.Median), in a query of their
// own so that the counts above are hashed rather than sorted; SQLite
// sends the durations one by one.
const (
	// The periods of one chunk are contiguous, so the empty grouping set
	// is the median of the chunk's whole range: when one chunk covers the
	// query, it is the total's, read in the same pass.
	pgMediansSQL = `SELECT GROUPING(p.name), COALESCE(p.name, ''), COALESCE(e.site, ''), COALESCE(e.place, ''), COALESCE(e.operator, ''),
	percentile_cont(0.5) WITHIN GROUP (ORDER BY e.duration_ms)
FROM p CROSS JOIN LATERAL (SELECT site, place, operator, duration_ms FROM events
	WHERE kind = 'session_ended' AND outcome <> 'cancelled' AND at >= p.lo AND at < p.hi) e
GROUP BY GROUPING SETS ((p.name, e.site, e.place, e.operator), ())`
	// Room to hash and sort in memory, and no JIT compilation, which
	// costs more than it saves on queries of a second.
	pgStatsSettings  = `SET LOCAL work_mem = '256MB'; SET LOCAL jit = off`
	pgTotalMedianSQL = `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FROM events
WHERE kind = 'session_ended' AND outcome <> 'cancelled' AND at >= $1 AND at < $2`
	durationsSQL = `SELECT p.name, e.site, e.place, e.operator, e.duration_ms
FROM p JOIN events e ON e.at >= p.lo AND e.at < p.hi
WHERE e.kind = 'session_ended' AND e.outcome <> 'cancelled'`
)

// periodsPerQuery is how many periods one query joins.
const periodsPerQuery = 500

// Stats counts the fleet's events between o.From and o.To in one snapshot.
func (s *Store) Stats(ctx context.Context, o StatsOptions) (Stats, error) {
	if o.By == "" {
		o.By = usage.ByDay
	}
	if o.By != usage.ByDay && o.By != usage.ByMonth {
		return Stats{}, fmt.Errorf("unknown stats period %q (day or month)", o.By)
	}
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	lo, hi := "0000-00-00T00:00:00Z", "9999-99-99T99:99:99Z"
	if !o.From.IsZero() {
		lo = usage.FormatCeil(o.From)
	}
	if !o.To.IsZero() {
		hi = usage.FormatCeil(o.To)
	}
	groups := map[statsKey]*group{}
	total := &group{row: StatsRow{Period: "total"}}
	if !s.pg {
		total.durations = []int64{}
	}
	get := func(k statsKey) *group {
		g := groups[k]
		if g == nil {
			g = &group{row: StatsRow{Period: k.period, Site: k.site, Place: k.place, Operator: k.operator}}
			if !s.pg {
				g.durations = []int64{}
			}
			groups[k] = g
		}
		return g
	}
	err := s.read(ctx, func(tx *sql.Tx) error {
		if s.pg {
			if _, err := tx.ExecContext(ctx, pgStatsSettings); err != nil {
				return err
			}
		}
		var first, last sql.NullString
		if err := tx.QueryRowContext(ctx, s.q(`SELECT MIN(at), MAX(at) FROM events WHERE at >= ? AND at < ?`), lo, hi).Scan(&first, &last); err != nil {
			return err
		}
		if !first.Valid {
			return nil
		}
		all, err := usage.Periods(first.String, last.String, loc, o.By)
		if err != nil {
			return err
		}
		all[0].Start = max(all[0].Start, lo)
		all[len(all)-1].End = min(all[len(all)-1].End, hi)
		for ps := range slices.Chunk(all, periodsPerQuery) {
			if err := s.statsChunk(ctx, tx, periodsCTE(ps), get, total); err != nil {
				return err
			}
		}
		if s.pg && len(all) > periodsPerQuery {
			var m sql.NullFloat64
			if err := tx.QueryRowContext(ctx, pgTotalMedianSQL, lo, hi).Scan(&m); err != nil {
				return err
			}
			total.row.MedianDurationMS = m.Float64
		}
		return nil
	})
	if err != nil {
		return Stats{}, s.describe("counting stats", err)
	}
	out := Stats{By: o.By, Rows: make([]StatsRow, 0, len(groups))}
	for _, g := range groups {
		out.Rows = append(out.Rows, g.done())
	}
	slices.SortFunc(out.Rows, func(a, b StatsRow) int {
		return cmp.Or(cmp.Compare(a.Period, b.Period), cmp.Compare(a.Site, b.Site), cmp.Compare(a.Place, b.Place), cmp.Compare(a.Operator, b.Operator))
	})
	out.Total = total.done()
	return out, nil
}

func (s *Store) statsChunk(ctx context.Context, tx *sql.Tx, with string, get func(statsKey) *group, total *group) error {
	from := sqliteStatsFrom
	if s.pg {
		from = pgStatsFrom
	}
	err := queryEach(ctx, tx, with+fmt.Sprintf(statsSQL, from), nil, func(rows *sql.Rows) error {
		var k statsKey
		var r StatsRow
		var sum float64
		if err := rows.Scan(&k.period, &k.site, &k.place, &k.operator, &r.Sessions, &r.Completed, &r.TotalDurationMS, &r.Surveys, &sum, &r.PrintJobs); err != nil {
			return err
		}
		g := get(k)
		for _, a := range []*group{g, total} {
			a.row.Sessions += r.Sessions
			a.row.Completed += r.Completed
			a.row.TotalDurationMS += r.TotalDurationMS
			a.row.Surveys += r.Surveys
			a.row.PrintJobs += r.PrintJobs
			a.scoreSum += sum
		}
		return nil
	})
	if err != nil {
		return err
	}
	if s.pg {
		return queryEach(ctx, tx, with+pgMediansSQL, nil, func(rows *sql.Rows) error {
			var k statsKey
			var whole int
			var m sql.NullFloat64 // no durations at all: the empty set's NULL
			if err := rows.Scan(&whole, &k.period, &k.site, &k.place, &k.operator, &m); err != nil {
				return err
			}
			if whole == 1 {
				total.row.MedianDurationMS = m.Float64
				return nil
			}
			get(k).row.MedianDurationMS = m.Float64
			return nil
		})
	}
	return queryEach(ctx, tx, with+durationsSQL, nil, func(rows *sql.Rows) error {
		var k statsKey
		var d int64
		if err := rows.Scan(&k.period, &k.site, &k.place, &k.operator, &d); err != nil {
			return err
		}
		g := get(k)
		g.durations = append(g.durations, d)
		total.durations = append(total.durations, d)
		return nil
	})
}

// periodsCTE writes the periods as a WITH clause; their names and bounds
// are digits, dashes and colons made here, so they go into the text as
// they are.
func periodsCTE(ps []usage.Period) string {
	var b strings.Builder
	b.WriteString("WITH p(name, lo, hi) AS (VALUES ")
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "('%s','%s','%s')", p.Name, p.Start, p.End)
	}
	b.WriteString(") ")
	return b.String()
}

// StatsColumns are the columns of the CSV output.
var StatsColumns = []string{"period", "site", "place", "operator", "sessions", "completed", "median_duration_ms", "total_duration_ms", "surveys", "survey_average", "print_jobs"}

// Write writes the stats as logs stats does: a table (durations as
// h:mm:ss, then the total), CSV (StatsColumns, every line data) or JSON.
func (st Stats) Write(w io.Writer, format string) error {
	switch format {
	case FormatTable, "":
		return st.writeTable(w)
	case FormatCSV:
		cw := csv.NewWriter(w)
		cw.Write(StatsColumns)
		for _, r := range st.Rows {
			cw.Write([]string{r.Period, r.Site, r.Place, r.Operator, strconv.Itoa(r.Sessions), strconv.Itoa(r.Completed),
				strconv.FormatFloat(r.MedianDurationMS, 'f', -1, 64), strconv.FormatInt(r.TotalDurationMS, 10),
				strconv.Itoa(r.Surveys), usage.AverageText(r.SurveyAverage, ""), strconv.Itoa(r.PrintJobs)})
		}
		cw.Flush()
		return cw.Error()
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return fmt.Errorf("unknown stats format %q (table, csv or json)", format)
}

func (st Stats) writeTable(w io.Writer) error {
	if len(st.Rows) == 0 {
		_, err := io.WriteString(w, "no sessions, surveys or print jobs in this period\n")
		return err
	}
	by := cmp.Or(st.By, usage.ByDay)
	head := []string{by, "site", "place", "operator", "sessions", "completed", "median", "total", "surveys", "average", "prints"}
	dash := func(s string) string { return cmp.Or(s, "-") }
	line := func(r StatsRow) []string {
		return []string{r.Period, dash(r.Site), dash(r.Place), dash(r.Operator), strconv.Itoa(r.Sessions), strconv.Itoa(r.Completed),
			usage.Clock(int64(math.Round(r.MedianDurationMS))), usage.Clock(r.TotalDurationMS),
			strconv.Itoa(r.Surveys), usage.AverageText(r.SurveyAverage, "-"), strconv.Itoa(r.PrintJobs)}
	}
	var lines [][]string
	for _, r := range st.Rows {
		lines = append(lines, line(r))
	}
	t := st.Total
	t.Site, t.Place, t.Operator = "all", "all", "all"
	lines = append(lines, line(t))
	return writeTable(w, head, lines, 4, len(head))
}
