package collect

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loiret/borne/collect/collecttest"
	"github.com/loiret/borne/collect/pgtest"
	"github.com/loiret/borne/config"
	"github.com/loiret/borne/usage"
)

// The big benchmarks build a million events; they run with -bench only,
// never under -short:
//
//	go test ./collect -run '^$' -bench 'Ingest1M|FleetYear' -benchtime 1x

const (
	benchKiosks = 30
	benchEvents = 1_000_000
)

var (
	benchOnce  sync.Once
	benchDir   string
	benchLogs  []string // the 30 kiosks' logs, as built
	benchCSV   string   // the same events as the collector's rows, for the floors
	benchErr   error
	durableOne sync.Once
	durable    *pgtest.Cluster
)

func benchSite(i int) string { return fmt.Sprintf("loiret-k%02d", i) }

// benchData builds, once per run, 30 kiosk logs holding a million events
// between them, and the same events as a CSV of the collector's rows.
func benchData(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a million events")
	}
	benchOnce.Do(func() {
		if benchDir, benchErr = os.MkdirTemp("", "collect-bench-"); benchErr != nil {
			return
		}
		// psql runs as nobody and reads the rows itself.
		if benchErr = os.Chmod(benchDir, 0o755); benchErr != nil {
			return
		}
		start := time.Date(2026, 1, 1, 7, 0, 0, 0, time.UTC)
		per := benchEvents / benchKiosks
		f, err := os.Create(filepath.Join(benchDir, "rows.csv"))
		if err != nil {
			benchErr = err
			return
		}
		defer f.Close()
		w := csv.NewWriter(f)
		for i := range benchKiosks {
			n := per
			if i == 0 {
				n += benchEvents - per*benchKiosks
			}
			path := filepath.Join(benchDir, benchSite(i)+".db")
			if benchErr = collecttest.FillLog(path, benchSite(i), "Commune "+strconv.Itoa(i), n, start, 5*time.Minute); benchErr != nil {
				return
			}
			benchLogs = append(benchLogs, path)
			l, err := usage.OpenExisting(path)
			if err != nil {
				benchErr = err
				return
			}
			evs, err := l.Events(context.Background(), 0, 0)
			l.Close()
			if err != nil {
				benchErr = err
				return
			}
			for _, e := range evs {
				ev := Event{Event: e}
				// Through the collector's own checks, as the server does.
				if ev.detail, err = usage.CheckEvent(&ev.Event); err != nil {
					benchErr = err
					return
				}
				score := "NULL" // the floors read it as no score
				if s, ok := e.Detail["score"].(float64); ok && e.Kind == usage.KindSurvey {
					score = strconv.FormatFloat(s, 'f', -1, 64)
				}
				w.Write([]string{e.ID, e.Site, "", strconv.FormatInt(e.Seq, 10), e.At.Format(usage.TimeFormat), e.Place, e.Kind, e.Operator, e.Outcome,
					strconv.FormatInt(e.DurationMS, 10), score, ev.detail, "1767225600"})
			}
		}
		w.Flush()
		benchErr = w.Error()
		benchCSV = f.Name()
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
}

// durableCluster is a PostgreSQL with fsync on, as a production server.
func durableCluster(b *testing.B) *pgtest.Cluster {
	durableOne.Do(func() {
		var err error
		if durable, err = pgtest.Start(pgtest.Options{Durable: true}); err != nil {
			b.Fatal(err)
		}
	})
	if durable == nil {
		b.Fatal("no PostgreSQL")
	}
	return durable
}

func benchDatabase(b *testing.B, engine string) string {
	if engine == "postgres" {
		url, err := durableCluster(b).NewDatabase(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		return url
	}
	return filepath.Join(b.TempDir(), "events.db")
}

// BenchmarkIngest1M: 30 kiosks sync a million events at once, with the
// kiosk's own sync client, into a real collector server; beside it the
// engine's floor, the same rows loaded by the engine's own bulk loader.
func BenchmarkIngest1M(b *testing.B) {
	benchData(b)
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			b.StopTimer()
			for range b.N {
				s, hs, logs := ingestSetup(b, engine)
				b.StartTimer()
				t0 := time.Now()
				var wg sync.WaitGroup
				errs := make(chan error, benchKiosks)
				for i, path := range logs {
					wg.Go(func() {
						l, err := usage.OpenExisting(path)
						if err != nil {
							errs <- err
							return
						}
						defer l.Close()
						if _, err := l.Sync(context.Background(), usage.SyncOptions{URL: hs + EventsPath, Token: benchTokens[i], Site: benchSite(i), AllowLoopbackHTTP: true}); err != nil {
							errs <- err
						}
					})
				}
				wg.Wait()
				took := time.Since(t0)
				b.StopTimer()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				if n := count(b, s, ""); n != benchEvents {
					b.Fatalf("%d events stored", n)
				}
				b.ReportMetric(float64(benchEvents)/took.Seconds(), "events/s")
			}
		})
		b.Run(engine+"-floor", func(b *testing.B) {
			b.StopTimer()
			for range b.N {
				db := benchDatabase(b, engine)
				s, err := Open(context.Background(), db)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
				var cmd *exec.Cmd
				if engine == "postgres" {
					cmd = durable.Psql(filepath.Base(firstPath(db)), "-c", `\copy events FROM '`+benchCSV+`' WITH (FORMAT csv, NULL 'NULL')`)
				} else {
					cmd = exec.Command("sqlite3", db, ".mode csv", ".import "+benchCSV+" events")
				}
				b.StartTimer()
				t0 := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %v\n%s", cmd.Args, err, out)
				}
				took := time.Since(t0)
				b.StopTimer()
				b.ReportMetric(float64(benchEvents)/took.Seconds(), "events/s")
			}
		})
	}
}

var benchTokens []string

// ingestSetup is a fresh store and server with the 30 kiosks' tokens, and
// fresh copies of their logs (nothing synced yet).
func ingestSetup(b *testing.B, engine string) (*Store, string, []string) {
	s, err := Open(context.Background(), benchDatabase(b, engine))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	benchTokens = benchTokens[:0]
	for i := range benchKiosks {
		tok, err := s.AddToken(context.Background(), benchSite(i))
		if err != nil {
			b.Fatal(err)
		}
		benchTokens = append(benchTokens, tok)
	}
	cfg := testConfig("unused")
	cfg.MaxRequests = 64
	cfg.ReadTimeout = config.Duration(DefaultReadTimeout)
	_, hs := serve(b, s, cfg)
	dir := b.TempDir()
	var logs []string
	for _, p := range benchLogs {
		to := filepath.Join(dir, filepath.Base(p))
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			b.Fatal(err)
		}
		logs = append(logs, to)
	}
	return s, hs.URL, logs
}

// firstPath is the database name of a postgres URL.
func firstPath(url string) string {
	rest := url[len("postgres://"):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			rest = rest[i+1:]
			break
		}
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] == '?' {
			return rest[:i]
		}
	}
	return rest
}

// BenchmarkFleetYear: stats and fleet over a year of 30 kiosks, 3 million
// events, on PostgreSQL (the aim) and on SQLite (the default).
func BenchmarkFleetYear(b *testing.B) {
	if testing.Short() {
		b.Skip("builds 3 million events")
	}
	for _, engine := range []string{"postgres", "sqlite"} {
		b.Run(engine, func(b *testing.B) { fleetYear(b, engine) })
	}
}

func fleetYear(b *testing.B, engine string) {
	s, err := Open(context.Background(), benchDatabase(b, engine))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	if err := fillYear(s, 3_000_000); err != nil {
		b.Fatal(err)
	}
	b.Logf("built 3,000,000 events in %v", time.Since(start).Round(time.Millisecond))
	loc := paris(b)
	start = time.Now()
	if _, err := s.KeepDaily(context.Background(), loc); err != nil {
		b.Fatal(err)
	}
	b.Logf("counted their days in the roll-up in %v (the collector's start after a change of time zone)", time.Since(start).Round(time.Millisecond))
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	to := from.AddDate(1, 0, 0)
	for _, by := range []string{usage.ByMonth, usage.ByDay} {
		b.Run("stats-by-"+by, func(b *testing.B) {
			for b.Loop() {
				st, err := s.Stats(context.Background(), StatsOptions{From: from, To: to, Location: loc, By: by})
				if err != nil {
					b.Fatal(err)
				}
				if st.Total.Sessions == 0 {
					b.Fatal("no sessions")
				}
			}
		})
	}
	b.Run("fleet", func(b *testing.B) {
		for b.Loop() {
			f, err := s.Fleet(context.Background(), FleetOptions{})
			if err != nil || len(f.Kiosks) != benchKiosks {
				b.Fatal(err, len(f.Kiosks))
			}
		}
	})
}

// yearMix is the mix of collecttest.FillLog as columns of a row made from
// kiosk k and its event i, in SQL both engines read.
const yearMix = `'Commune ' || k,
	CASE WHEN i % 97 = 96 THEN 'hardware_fault' ELSE
	CASE i % 7 WHEN 0 THEN 'operator_viewed' WHEN 1 THEN 'session_started' WHEN 2 THEN 'session_ended'
	            WHEN 3 THEN 'print_job' WHEN 4 THEN 'survey' WHEN 5 THEN 'session_started' ELSE 'session_ended' END END,
	CASE WHEN i % 97 = 96 THEN '' ELSE CASE i % 5 WHEN 0 THEN 'caf' WHEN 1 THEN 'cpam' WHEN 2 THEN 'carsat' WHEN 3 THEN 'adil' ELSE 'cdad' END END,
	CASE WHEN i % 97 = 96 THEN '' ELSE
	CASE i % 7 WHEN 2 THEN 'completed' WHEN 3 THEN 'printed' WHEN 6 THEN 'cancelled' ELSE '' END END,
	CASE i % 7 WHEN 2 THEN 60000 + (i % 2000) * 1000 ELSE 0 END,
	CASE i % 7 WHEN 4 THEN 1 + i % 5 ELSE NULL END,
	'{}', 1767225600`

// fillYear writes n events of 30 kiosks over 2026 straight into the
// store's engine, with the mix of collecttest.FillLog, and their
// generations.
func fillYear(s *Store, n int) error {
	ctx := context.Background()
	per := n / benchKiosks
	step := 365 * 24 * 3600 / per
	const insert = `INSERT INTO events (id, site, generation, seq, at, place, kind, operator, outcome, duration_ms, score, detail, received)`
	fill := fmt.Sprintf(insert+`
SELECT md5(k::text || '-' || i::text), 'loiret-k' || lpad(k::text, 2, '0'), '', i + 1,
	to_char(to_timestamp(1767225600 + i * %d + k * 60) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	{mix}
FROM generate_series(0, %d) k, generate_series(0, %d) i`, step, benchKiosks-1, per-1)
	settle := `VACUUM ANALYZE events` // as a running server's autovacuum would have left it
	if !s.pg {
		fill = fmt.Sprintf(`WITH RECURSIVE ks(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM ks WHERE k < %d),
	ns(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM ns WHERE i < %d)
`+insert+`
SELECT lower(hex(randomblob(16))), 'loiret-k' || printf('%%02d', k), '', i + 1,
	strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', 1767225600 + i * %d + k * 60, 'unixepoch'),
	{mix}
FROM ks, ns`, benchKiosks-1, per-1, step)
		settle = `ANALYZE`
	}
	if _, err := s.w.ExecContext(ctx, strings.Replace(fill, "{mix}", yearMix, 1)); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO generations (site, generation, first_sync, last_sync, batches, events, min_seq, max_seq, last_at)
SELECT site, generation, 1767225600, 1798761600, 100, COUNT(*), MIN(seq), MAX(seq), MAX(at) FROM events GROUP BY site, generation`)
	if err == nil {
		_, err = s.w.ExecContext(ctx, settle)
	}
	return err
}

// BenchmarkParseBatch: reading and checking a full batch of a thousand
// events, as the server does for each request.
func BenchmarkParseBatch(b *testing.B) {
	var body []byte
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for i := range usage.MaxBatchEvents {
		e := usage.Event{ID: fmt.Sprintf("0b7e3c1a-5d2f-4e8b-9a6c-%012d", i), Seq: int64(i + 1), At: at.Add(time.Duration(i) * time.Minute),
			Site: "loiret-gien", Place: "Gien", Kind: usage.KindOperatorViewed, Operator: "caf", Detail: map[string]any{}}
		switch i % 5 {
		case 1:
			e.Kind, e.Outcome, e.DurationMS = usage.KindSessionEnded, usage.OutcomeCompleted, 754000
		case 2:
			e.Kind, e.Detail = usage.KindSurvey, map[string]any{"score": 4}
		case 3:
			e.Kind, e.Outcome, e.Detail = usage.KindPrintJob, usage.OutcomePrinted, map[string]any{"pages": 2}
		}
		line, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		body = append(append(body, line...), '\n')
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if evs, err := ParseBatch(body); err != nil || len(evs) != usage.MaxBatchEvents {
			b.Fatal(len(evs), err)
		}
	}
}
