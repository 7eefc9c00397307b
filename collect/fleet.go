package collect

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loiret/borne/usage"
)

// FleetOptions says how to judge the kiosks.
type FleetOptions struct {
	// SyncInterval is the kiosks' usage.sync.interval: silent for three
	// of them, a kiosk needs a visit.
	SyncInterval time.Duration
	Now          time.Time // zero: now
}

// Generation is one log of a kiosk: a new one starts when the kiosk's
// log is recreated, at seq 1.
type Generation struct {
	ID        string    `json:"id"` // "" from kiosks that do not send it
	FirstSync time.Time `json:"first_sync"`
	LastSync  time.Time `json:"last_sync"`
	Events    int64     `json:"events"` // held, each id once
	MinSeq    int64     `json:"min_seq"`
	MaxSeq    int64     `json:"max_seq"`
	Holes     int64     `json:"holes"` // seqs between MinSeq and MaxSeq that never arrived
}

// Kiosk is one line of the fleet view.
type Kiosk struct {
	Site         string       `json:"site"`
	LastSync     *time.Time   `json:"last_sync"`  // nil: never synced
	LastEvent    *time.Time   `json:"last_event"` // the newest event held
	Events       int64        `json:"events"`
	Holes        int64        `json:"holes"`
	Generations  []Generation `json:"generations"`
	Faults       int          `json:"hardware_faults_last_day"`
	OutOfService int          `json:"out_of_service_last_day"`
	OutNow       bool         `json:"out_of_service_now"` // its last service event put it out of service
	Silent       bool         `json:"silent"`             // no sync for three sync intervals
	NeedsVisit   bool         `json:"needs_visit"`
	Why          []string     `json:"why"` // what needs a visit
}

// Fleet is every kiosk known (a token or a batch), by site.
type Fleet struct {
	At     time.Time `json:"at"`
	Kiosks []Kiosk   `json:"kiosks"`
}

// NeedsVisit tells whether any kiosk needs a visit.
func (f Fleet) NeedsVisit() bool {
	return slices.ContainsFunc(f.Kiosks, func(k Kiosk) bool { return k.NeedsVisit })
}

// Fleet reads the state of every kiosk: from the generations' counters,
// the tokens, and the service events of the last day, never a scan of
// every event.
func (s *Store) Fleet(ctx context.Context, o FleetOptions) (Fleet, error) {
	now := o.Now
	if now.IsZero() {
		now = s.now()
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	f := Fleet{At: now.UTC().Truncate(time.Second), Kiosks: []Kiosk{}}
	byID := map[string]int{} // index in f.Kiosks
	add := func(site string) {
		if _, ok := byID[site]; !ok {
			byID[site] = len(f.Kiosks)
			f.Kiosks = append(f.Kiosks, Kiosk{Site: site, Generations: []Generation{}})
		}
	}
	// Gathered by site first (pointers into a growing slice are not kept
	// across appends), then joined.
	type genRow struct {
		site string
		g    Generation
		last string
	}
	var gens []genRow
	var sites []string
	var faults []struct {
		site, kind string
		n          int
	}
	var service []struct{ site, kind, at string }
	dayAgo := usage.FormatCeil(now.Add(-24 * time.Hour))
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := queryEach(ctx, tx, `SELECT DISTINCT site FROM tokens`, nil, func(rows *sql.Rows) error {
			var site string
			err := rows.Scan(&site)
			sites = append(sites, site)
			return err
		}); err != nil {
			return err
		}
		if err := queryEach(ctx, tx, `SELECT site, generation, first_sync, last_sync, events, min_seq, max_seq, last_at FROM generations`, nil, func(rows *sql.Rows) error {
			var r genRow
			var first, last int64
			if err := rows.Scan(&r.site, &r.g.ID, &first, &last, &r.g.Events, &r.g.MinSeq, &r.g.MaxSeq, &r.last); err != nil {
				return err
			}
			r.g.FirstSync, r.g.LastSync = time.Unix(first, 0).UTC(), time.Unix(last, 0).UTC()
			if r.g.Events > 0 {
				r.g.Holes = r.g.MaxSeq - r.g.MinSeq + 1 - r.g.Events
			}
			gens = append(gens, r)
			return nil
		}); err != nil {
			return err
		}
		if err := queryEach(ctx, tx, s.q(`SELECT site, kind, COUNT(*) FROM events WHERE `+healthKinds+` AND kind IN ('hardware_fault', 'out_of_service') AND at >= ? GROUP BY site, kind`), []any{dayAgo}, func(rows *sql.Rows) error {
			var r struct {
				site, kind string
				n          int
			}
			err := rows.Scan(&r.site, &r.kind, &r.n)
			faults = append(faults, r)
			return err
		}); err != nil {
			return err
		}
		return queryEach(ctx, tx, `SELECT site, kind, MAX(at) FROM events WHERE `+healthKinds+` AND kind IN ('out_of_service', 'back_in_service') GROUP BY site, kind`, nil, func(rows *sql.Rows) error {
			var r struct{ site, kind, at string }
			err := rows.Scan(&r.site, &r.kind, &r.at)
			service = append(service, r)
			return err
		})
	})
	if err != nil {
		return Fleet{}, s.describe("reading the fleet", err)
	}
	for _, site := range sites {
		add(site)
	}
	lastAt := map[string]string{}
	for _, r := range gens {
		add(r.site)
		lastAt[r.site] = max(lastAt[r.site], r.last)
	}
	for i := range f.Kiosks {
		k := &f.Kiosks[i]
		for _, r := range gens {
			if r.site != k.Site {
				continue
			}
			k.Generations = append(k.Generations, r.g)
			k.Events += r.g.Events
			k.Holes += r.g.Holes
			if k.LastSync == nil || r.g.LastSync.After(*k.LastSync) {
				t := r.g.LastSync
				k.LastSync = &t
			}
		}
		slices.SortFunc(k.Generations, func(a, b Generation) int { return a.FirstSync.Compare(b.FirstSync) })
		if t, err := time.Parse(usage.TimeFormat, lastAt[k.Site]); err == nil {
			k.LastEvent = &t
		}
	}
	for _, r := range faults {
		i, ok := byID[r.site]
		switch {
		case !ok: // events of a site without a token nor a batch: none
		case r.kind == usage.KindHardwareFault:
			f.Kiosks[i].Faults = r.n
		default:
			f.Kiosks[i].OutOfService = r.n
		}
	}
	out, back := map[string]string{}, map[string]string{}
	for _, r := range service {
		if r.kind == usage.KindOutOfService {
			out[r.site] = r.at
		} else {
			back[r.site] = r.at
		}
	}
	silence := 3 * o.SyncInterval
	for i := range f.Kiosks {
		k := &f.Kiosks[i]
		k.OutNow = out[k.Site] != "" && out[k.Site] > back[k.Site]
		k.Silent = k.LastSync == nil || now.Sub(*k.LastSync) > silence
		switch {
		case k.LastSync == nil:
			k.Why = append(k.Why, "never synced")
		case k.Silent:
			k.Why = append(k.Why, "silent for "+since(now.Sub(*k.LastSync)))
		}
		if k.Faults > 0 {
			k.Why = append(k.Why, fmt.Sprintf("%d hardware faults in the last day", k.Faults))
		}
		if k.OutNow {
			k.Why = append(k.Why, "out of service")
		}
		k.NeedsVisit = len(k.Why) > 0
		if k.Why == nil {
			k.Why = []string{}
		}
	}
	slices.SortFunc(f.Kiosks, func(a, b Kiosk) int { return cmp.Compare(a.Site, b.Site) })
	return f, nil
}

// since writes a silence in the largest unit that fits.
func since(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	}
	return fmt.Sprintf("%d minutes", int(d/time.Minute))
}

// read runs f in one read-only snapshot.
func (s *Store) read(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: isolation(s.pg)})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// isolation gives PostgreSQL's readers one snapshot, as SQLite's have.
func isolation(pg bool) sql.IsolationLevel {
	if pg {
		return sql.LevelRepeatableRead
	}
	return sql.LevelDefault
}

func queryEach(ctx context.Context, tx *sql.Tx, q string, args []any, f func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Fleet output formats.
const (
	FormatTable = "table"
	FormatCSV   = "csv"
	FormatJSON  = "json"
)

// FleetColumns are the columns of the table and CSV outputs.
var FleetColumns = []string{"site", "last_sync", "last_event", "events", "generations", "holes", "faults_24h", "out_of_service_24h", "state"}

// Write writes the fleet as a table (times in loc), CSV or JSON.
func (f Fleet) Write(w io.Writer, format string, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.In(loc).Format("2006-01-02 15:04")
	}
	var lines [][]string
	for _, k := range f.Kiosks {
		state := "ok"
		if k.NeedsVisit {
			state = "VISIT: " + strings.Join(k.Why, ", ")
		}
		lines = append(lines, []string{k.Site, when(k.LastSync), when(k.LastEvent), strconv.FormatInt(k.Events, 10),
			strconv.Itoa(len(k.Generations)), strconv.FormatInt(k.Holes, 10), strconv.Itoa(k.Faults), strconv.Itoa(k.OutOfService), state})
	}
	switch format {
	case FormatTable, "":
		head := []string{"site", "last sync", "last event", "events", "logs", "holes", "faults 24h", "out 24h", "state"}
		if len(lines) == 0 {
			_, err := io.WriteString(w, "no kiosk yet: give each one a token (borne collect token add SITE)\n")
			return err
		}
		return writeTable(w, head, lines, 3, 8)
	case FormatCSV:
		cw := csv.NewWriter(w)
		cw.Write(FleetColumns)
		cw.WriteAll(lines)
		return cw.Error()
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(f)
	}
	return fmt.Errorf("unknown format %q (table, csv or json)", format)
}

// writeTable aligns cells in columns: words left, numbers (the columns
// numFrom to numTo, excluded) right.
func writeTable(w io.Writer, head []string, lines [][]string, numFrom, numTo int) error {
	all := append([][]string{head}, lines...)
	width := make([]int, len(head))
	for _, l := range all {
		for i, c := range l {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for _, l := range all {
		for i, c := range l {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			last := i == len(l)-1
			if i >= numFrom && i < numTo {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c)
				if !last {
					b.WriteString(pad)
				}
			}
			if !last {
				b.WriteString("  ")
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMetrics writes the fleet in Prometheus' text format, one series per
// kiosk for each figure of the fleet view.
func (f Fleet) WriteMetrics(w io.Writer) error {
	var b strings.Builder
	gauge := func(name, help string, value func(k Kiosk) float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for _, k := range f.Kiosks {
			fmt.Fprintf(&b, "%s{site=%q} %s\n", name, k.Site, strconv.FormatFloat(value(k), 'f', -1, 64))
		}
	}
	unix := func(t *time.Time) float64 {
		if t == nil {
			return 0
		}
		return float64(t.Unix())
	}
	flag := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	gauge("borne_collect_last_sync_timestamp_seconds", "Time of the kiosk's last batch received (0: never).", func(k Kiosk) float64 { return unix(k.LastSync) })
	gauge("borne_collect_last_event_timestamp_seconds", "Time of the newest event held from the kiosk (0: none).", func(k Kiosk) float64 { return unix(k.LastEvent) })
	gauge("borne_collect_events", "Events held from the kiosk, each id once.", func(k Kiosk) float64 { return float64(k.Events) })
	gauge("borne_collect_log_generations", "Usage logs of the kiosk seen (more than one: its log was recreated).", func(k Kiosk) float64 { return float64(len(k.Generations)) })
	gauge("borne_collect_seq_holes", "Events the kiosk's seq says were recorded and never arrived.", func(k Kiosk) float64 { return float64(k.Holes) })
	gauge("borne_collect_hardware_faults_last_day", "hardware_fault events in the last 24 hours.", func(k Kiosk) float64 { return float64(k.Faults) })
	gauge("borne_collect_out_of_service_last_day", "out_of_service events in the last 24 hours.", func(k Kiosk) float64 { return float64(k.OutOfService) })
	gauge("borne_collect_out_of_service", "1 when the kiosk's last service event put it out of service.", func(k Kiosk) float64 { return flag(k.OutNow) })
	gauge("borne_collect_silent", "1 when the kiosk has not synced for three sync intervals.", func(k Kiosk) float64 { return flag(k.Silent) })
	gauge("borne_collect_needs_visit", "1 when the kiosk needs a visit (silent, faults in the last day, out of service).", func(k Kiosk) float64 { return flag(k.NeedsVisit) })
	_, err := io.WriteString(w, b.String())
	return err
}

// SiteIDs returns how many times each event id of site is held: once,
// always, as the tests check.
func (s *Store) SiteIDs(ctx context.Context, site string) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT id, COUNT(*) FROM events WHERE site = ? GROUP BY id`), site)
	if err != nil {
		return nil, s.describe("reading ids", err)
	}
	defer rows.Close()
	ids := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		ids[id] = n
	}
	return ids, rows.Err()
}
