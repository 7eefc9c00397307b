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

// Stats counts the fleet's events between o.From and o.To in one snapshot:
// the whole days of o.Location from the roll-up when it counts that time
// zone's days, the rest (a part of a day, or everything for another zone)
// from the events themselves, with the same definitions.
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
	t := newTally(loc)
	err := s.read(ctx, func(tx *sql.Tx) error {
		zone, err := s.dailyZone(ctx, txExec{tx}, false)
		if err != nil {
			return err
		}
		span := splitDays(o.From, o.To, loc)
		if zone != loc.String() {
			return s.tallyEvents(ctx, tx, span.lo, span.hi, t)
		}
		if span.dayLo < span.dayHi {
			if err := s.tallyDaily(ctx, tx, span.dayLo, span.dayHi, t); err != nil {
				return err
			}
		}
		for _, e := range span.edges {
			if err := s.tallyEvents(ctx, tx, e[0], e[1], t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Stats{}, s.describe("counting stats", err)
	}
	return t.stats(o.By), nil
}

// daySpan is a range of stored times cut into the whole days of a
// calendar (dayLo to dayHi, excluded) and the parts of days at its edges.
type daySpan struct {
	lo, hi       string
	dayLo, dayHi string
	edges        [][2]string
}

// splitDays cuts [from, to) (zero: unbounded) at loc's midnights.
func splitDays(from, to time.Time, loc *time.Location) daySpan {
	sp := daySpan{lo: "0000-00-00T00:00:00Z", hi: "9999-99-99T99:99:99Z", dayLo: "0000-00-00", dayHi: "9999-99-99"}
	var first, last time.Time // the whole days' bounds
	if !from.IsZero() {
		sp.lo = usage.FormatCeil(from)
		first = midnight(from, loc)
		if first.Before(from) {
			first = midnight(first.AddDate(0, 0, 1), loc)
		}
		sp.dayLo = first.Format(dayLayout)
	}
	if !to.IsZero() {
		sp.hi = usage.FormatCeil(to)
		last = midnight(to, loc)
		sp.dayHi = last.Format(dayLayout)
	}
	if sp.dayLo >= sp.dayHi {
		sp.edges = [][2]string{{sp.lo, sp.hi}}
		return sp
	}
	if !from.IsZero() && from.Before(first) {
		sp.edges = append(sp.edges, [2]string{sp.lo, usage.FormatCeil(first)})
	}
	if !to.IsZero() && last.Before(to) {
		sp.edges = append(sp.edges, [2]string{usage.FormatCeil(last), sp.hi})
	}
	return sp
}

// midnight is the start of the day of loc's calendar holding t.
func midnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// stats sums the tally's days into periods of by, in period, site,
// place, operator order, with exact medians.
func (t *tally) stats(by string) Stats {
	type group struct {
		row      StatsRow
		scoreSum float64
		durs     []int64
	}
	groups := map[statsKey]*group{}
	total := &group{row: StatsRow{Period: "total"}}
	for k, r := range t.rows {
		period := k.day
		if by == usage.ByMonth {
			period = k.day[:7]
		}
		sk := statsKey{period, k.site, k.place, k.operator}
		g := groups[sk]
		if g == nil {
			g = &group{row: StatsRow{Period: period, Site: k.site, Place: k.place, Operator: k.operator}}
			groups[sk] = g
		}
		for _, a := range []*group{g, total} {
			a.row.Sessions += int(r.sessions)
			a.row.Completed += int(r.completed)
			a.row.TotalDurationMS += r.durationMS
			a.row.Surveys += int(r.surveys)
			a.row.PrintJobs += int(r.printJobs)
			a.scoreSum += r.scoreSum
			a.durs = append(a.durs, r.durations...)
		}
	}
	done := func(g *group) StatsRow {
		r := g.row
		r.MedianDurationMS = usage.Median(g.durs)
		if r.Surveys > 0 {
			avg := math.Round(g.scoreSum/float64(r.Surveys)*100) / 100
			r.SurveyAverage = &avg
		}
		return r
	}
	out := Stats{By: by, Rows: make([]StatsRow, 0, len(groups))}
	for _, g := range groups {
		out.Rows = append(out.Rows, done(g))
	}
	slices.SortFunc(out.Rows, func(a, b StatsRow) int {
		return cmp.Or(cmp.Compare(a.Period, b.Period), cmp.Compare(a.Site, b.Site), cmp.Compare(a.Place, b.Place), cmp.Compare(a.Operator, b.Operator))
	})
	out.Total = done(total)
	return out
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
