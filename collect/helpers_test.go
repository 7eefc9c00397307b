package collect

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/loiret/borne/collect/pgtest"
	"github.com/loiret/borne/usage"
)

// cluster is the PostgreSQL every test of this package shares; each test
// gets its own database on it.
var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	var err error
	cluster, err = pgtest.Start(pgtest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "collect tests need a real PostgreSQL:", err)
		os.Exit(1)
	}
	code := m.Run()
	for _, c := range []*pgtest.Cluster{cluster, durable} {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping PostgreSQL:", err)
		}
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// engines runs f once on a fresh SQLite file and once on a fresh
// PostgreSQL database.
func engines(t *testing.T, f func(t *testing.T, s *Store)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			f(t, openStore(t, engine))
		})
	}
}

func openStore(t testing.TB, engine string) *Store {
	t.Helper()
	db := filepath.Join(t.TempDir(), "events.db")
	if engine == "postgres" {
		var err error
		if db, err = cluster.NewDatabase(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// As the collector keeps it, in the tests' time zone.
	if _, err := s.KeepDaily(context.Background(), paris(t)); err != nil {
		t.Fatal(err)
	}
	return s
}

func testConfig(database string) *Config {
	c, err := ParseConfig("collector.toml", fmt.Appendf(nil, "database = %q\nread_timeout = \"3s\"\nmax_requests = 4\n", database))
	if err != nil {
		panic(err)
	}
	return c
}

// serve runs the collector's handler on a real loopback server, with the
// http.Server's own limits.
func serve(t testing.TB, s *Store, cfg *Config) (*Server, *httptest.Server) {
	t.Helper()
	if cfg == nil {
		cfg = testConfig("unused")
	}
	srv := NewServer(cfg, s, t.Logf)
	hs := httptest.NewUnstartedServer(nil)
	real := srv.HTTPServer()
	hs.Config = real
	hs.Start()
	t.Cleanup(hs.Close)
	return srv, hs
}

// kiosk is a real kiosk usage log.
type kiosk struct {
	site, place string
	log         *usage.Store
}

func newKiosk(t testing.TB, site, place string) *kiosk {
	t.Helper()
	l, err := usage.Open(filepath.Join(t.TempDir(), site+".db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	l.SetStamp(site, func(time.Time) string { return place })
	return &kiosk{site: site, place: place, log: l}
}

// fill records n events, every 7 minutes from start, in a mix that touches
// every figure of the stats: sessions of each outcome, surveys, prints.
func (k *kiosk) fill(t testing.TB, n int, start time.Time) {
	t.Helper()
	ops := []string{"caf", "cpam", "carsat"}
	for i := range n {
		e := usage.Event{At: start.Add(time.Duration(i) * 7 * time.Minute), Operator: ops[i%3]}
		switch i % 8 {
		case 0, 1:
			e.Kind = usage.KindSessionStarted
		case 2:
			e.Kind, e.Outcome, e.DurationMS = usage.KindSessionEnded, usage.OutcomeCompleted, int64(1000*(60+i%97))
		case 3:
			e.Kind, e.Outcome, e.DurationMS = usage.KindSessionEnded, []string{usage.OutcomeCancelled, usage.OutcomeTimeout, usage.OutcomeFailed}[i%3], int64(1000*(i%13))
		case 4:
			e.Kind, e.Detail = usage.KindSurvey, map[string]any{"score": 1 + i%5}
		case 5:
			e.Kind, e.Outcome, e.Detail = usage.KindPrintJob, []string{usage.OutcomePrinted, usage.OutcomeFailed}[i%2], map[string]any{"pages": 1 + i%3}
		case 6:
			e.Kind = usage.KindOperatorViewed
		case 7:
			e.Kind, e.Operator, e.Detail = usage.KindHardwareFault, "", map[string]any{"device": "printer", "reason": "offline"}
		}
		if _, err := k.log.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// sync sends the kiosk's log with the kiosk's own sync client.
func (k *kiosk) sync(t testing.TB, url, token string) (usage.SyncResult, error) {
	t.Helper()
	return k.log.Sync(context.Background(), usage.SyncOptions{URL: url + EventsPath, Token: token, Site: k.site, Once: true, AllowLoopbackHTTP: true})
}

func count(t testing.TB, s *Store, where string, args ...any) int {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(context.Background(), s.q("SELECT COUNT(*) FROM events "+where), args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
