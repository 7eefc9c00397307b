package usage

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

var benchDir string // removed by TestMain

func TestMain(m *testing.M) {
	// The test binary is also the child process of the crash tests.
	switch os.Getenv("BORNE_USAGE_CHILD") {
	case "holdlock":
		holdLockMode(os.Getenv("BORNE_USAGE_DB"))
		os.Exit(0)
	case "writer":
		writerMode(os.Getenv("BORNE_USAGE_DB"))
		os.Exit(0)
	}
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// BenchmarkRecord measures one durable event: an fsync per op, as on the kiosk.
func BenchmarkRecord(b *testing.B) {
	s, _ := openTest(b)
	s.SetStamp("loiret-gien", func(time.Time) string { return "Gien" })
	e := Event{Kind: KindSessionEnded, Operator: "caf", Outcome: OutcomeCompleted, DurationMS: 734000}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Record(bg, e); err != nil {
			b.Fatal(err)
		}
	}
}

const bigRows = 1_000_000

var (
	bigOnce sync.Once
	bigPath string
	bigErr  error
)

// bigLog builds, once per run, a log of a million plausible events with a
// single INSERT … SELECT in one transaction. With BORNE_BENCH_DIR set, the
// log is kept in that folder and reused by later runs.
func bigLog(b *testing.B) string {
	bigOnce.Do(func() {
		if keep := os.Getenv("BORNE_BENCH_DIR"); keep != "" {
			bigPath = filepath.Join(keep, "usage-1m.db")
			if _, err := os.Stat(bigPath); err == nil {
				return
			}
		} else {
			benchDir, bigErr = os.MkdirTemp("", "usage-bench-")
			if bigErr != nil {
				return
			}
			bigPath = filepath.Join(benchDir, "usage.db")
		}
		var s *Store
		if s, bigErr = Open(bigPath); bigErr != nil {
			return
		}
		defer s.Close()
		start := time.Now()
		_, bigErr = s.w.Exec(fmt.Sprintf(`
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
INSERT INTO events (id, at, site, place, kind, operator, outcome, duration_ms, detail)
SELECT
	lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' ||
	      substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
	strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', 1764000000 + i * 30, 'unixepoch'),
	'loiret-gien',
	CASE i %% 3 WHEN 0 THEN 'Gien' WHEN 1 THEN 'Briare' ELSE 'Châteauneuf-sur-Loire' END,
	CASE i %% 6 WHEN 0 THEN 'operator_viewed' WHEN 1 THEN 'session_started' WHEN 2 THEN 'session_ended'
	            WHEN 3 THEN 'print_job' WHEN 4 THEN 'survey' ELSE 'idle_reset' END,
	CASE i %% 6 WHEN 5 THEN '' ELSE CASE i %% 5 WHEN 0 THEN 'caf' WHEN 1 THEN 'cpam' WHEN 2 THEN 'carsat' WHEN 3 THEN 'adil' ELSE 'cdad' END END,
	CASE i %% 6 WHEN 2 THEN 'completed' WHEN 3 THEN 'printed' ELSE '' END,
	CASE i %% 6 WHEN 2 THEN 60000 + (i %% 2000) * 1000 ELSE 0 END,
	CASE i %% 6 WHEN 3 THEN '{"pages":' || (1 + i %% 4) || '}' WHEN 4 THEN '{"score":' || (1 + i %% 5) || '}' ELSE '{}' END
FROM n`, bigRows))
		if bigErr == nil {
			fmt.Fprintf(os.Stderr, "built a log of %d events in %v\n", bigRows, time.Since(start).Round(time.Millisecond))
		}
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigPath
}

// BenchmarkExport1M measures a whole NDJSON export of a million events.
func BenchmarkExport1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a log of a million events")
	}
	path := bigLog(b)
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storeExport := s.Export
	fileExport := func(ctx context.Context, w io.Writer, o ExportOptions) (Summary, error) {
		return ExportFile(ctx, path, w, o)
	}
	background := func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }
	for _, c := range []struct {
		name   string
		ctx    func() (context.Context, context.CancelFunc)
		export func(context.Context, io.Writer, ExportOptions) (Summary, error)
		o      ExportOptions
	}{
		{"ndjson", background, storeExport, ExportOptions{}},
		// As borne logs export runs it: from the file, with a context
		// cancelled on a signal.
		{"ndjson-file-cancellable", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, fileExport, ExportOptions{}},
		{"csv", background, storeExport, ExportOptions{Format: FormatCSV}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx, cancel := c.ctx()
			defer cancel()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sum, err := c.export(ctx, io.Discard, c.o)
				if err != nil {
					b.Fatal(err)
				}
				if sum.Events != bigRows {
					b.Fatalf("exported %d events", sum.Events)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/export")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/bigRows, "ns/event")
		})
	}
}

// BenchmarkRecordLatency reports the spread of durable Record calls, the
// figure a citizen's touch waits on: p50 and p99 in microseconds.
func BenchmarkRecordLatency(b *testing.B) {
	for _, c := range []struct {
		name   string
		record func(b *testing.B) func(Event) error
	}{
		{"store", func(b *testing.B) func(Event) error {
			s, _ := openTest(b)
			s.SetStamp("loiret-gien", func(time.Time) string { return "Gien" })
			return func(e Event) error { _, err := s.Record(bg, e); return err }
		}},
		// As the shell records: through the Buffer, which waits for the
		// write when the log works.
		{"buffer", func(b *testing.B) func(Event) error {
			path := filepath.Join(b.TempDir(), "usage.db")
			buf := NewBuffer(func() (*Store, error) { return Open(path) }, BufferOptions{})
			buf.SetStamp("loiret-gien", func(time.Time) string { return "Gien" })
			b.Cleanup(func() { buf.Close() })
			if _, err := buf.Store(bg); err != nil {
				b.Fatal(err)
			}
			return func(e Event) error {
				got, err := buf.Record(bg, e)
				if err == nil && got.Seq == 0 {
					err = fmt.Errorf("event kept in memory: %v", buf.Health().Err)
				}
				return err
			}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			record := c.record(b)
			e := Event{Kind: KindSessionEnded, Operator: "caf", Outcome: OutcomeCompleted, DurationMS: 734000}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if err := record(e); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkSync100k sends 100,000 events to a collector on this machine
// that keeps each id once: 100 batches, each a POST and a durable cursor
// update.
func BenchmarkSync100k(b *testing.B) {
	const n = 100_000
	s, _ := openTest(b)
	bulkLoad(b, s, n, monthStart, time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if _, err := s.w.Exec(`DELETE FROM meta WHERE key = ?`, metaSyncCursor); err != nil {
			b.Fatal(err)
		}
		c := newCollector(b)
		c.check = false
		o := c.options()
		b.StartTimer()
		res, err := s.Sync(bg, o)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if stored, _, _ := c.counts(); res.Events != n || stored != n {
			b.Fatalf("sent %d, stored %d", res.Events, stored)
		}
		b.StartTimer()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/sync")
}

// BenchmarkStatsYear counts a year of a busy kiosk (200,000 events) by day
// and by month in the site's time zone.
func BenchmarkStatsYear(b *testing.B) {
	const n = 200_000
	s, _ := openTest(b)
	bulkLoad(b, s, n, time.Date(2026, 1, 1, 7, 0, 0, 0, time.UTC), 365*24*time.Hour/n)
	loc := paris(b)
	sessions := (n + 4) / 6 // bulkLoad's second kind of six
	for _, by := range []string{ByDay, ByMonth} {
		b.Run(by, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				st, err := s.Stats(bg, StatsOptions{Location: loc, By: by})
				if err != nil {
					b.Fatal(err)
				}
				if st.Total.Sessions != sessions {
					b.Fatalf("sessions %d", st.Total.Sessions)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/stats")
		})
	}
}
