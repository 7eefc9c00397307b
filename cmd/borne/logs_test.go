package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/usage"
)

// testCollector keeps each event id once, as the Département's collector.
type testCollector struct {
	srv      *httptest.Server
	mu       sync.Mutex
	ids      map[string]bool
	received int
	requests int
	status   int          // answer this instead of storing, when set
	before   func()       // runs before a batch is stored
	after    func(string) // runs after a batch is stored, with its key
}

func newTestCollector(t *testing.T) *testCollector {
	c := &testCollector{ids: map[string]bool{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.requests++
		status, before, after := c.status, c.before, c.after
		c.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		if r.Header.Get("Borne-Log-Generation") == "" {
			http.Error(w, "which log?", http.StatusBadRequest)
			return
		}
		if status != 0 {
			http.Error(w, "collector says no", status)
			return
		}
		if before != nil {
			before()
		}
		sc := bufio.NewScanner(r.Body)
		var ids []string
		for sc.Scan() {
			var e struct{ ID string }
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				http.Error(w, "bad line", http.StatusBadRequest)
				return
			}
			ids = append(ids, e.ID)
		}
		c.mu.Lock()
		c.received += len(ids)
		for _, id := range ids {
			c.ids[id] = true
		}
		c.mu.Unlock()
		// The acknowledgement DESIGN.md's "Sync" asks for.
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"idempotency_key": r.Header.Get("Idempotency-Key"), "stored": len(ids)})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if after != nil {
			after(r.Header.Get("Idempotency-Key"))
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *testCollector) hooks(before func(), after func(string)) {
	c.mu.Lock()
	c.before, c.after = before, after
	c.mu.Unlock()
}

func (c *testCollector) counts() (stored, received, requests int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids), c.received, c.requests
}

// syncConfig is testConfig with a sync to url, its token file, a metrics
// file and a short retention.
func syncConfig(t *testing.T, url string) (cfg, db string) {
	t.Helper()
	cfg, db = testConfig(t)
	dir := filepath.Dir(cfg)
	token := filepath.Join(dir, "sync.token")
	if err := os.WriteFile(token, []byte("t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(cfg)
	extra := fmt.Sprintf("retention = \"30d\"\nmetrics_file = %q\n\n[usage.sync]\nurl = %q\ntoken_file = %q\ninterval = \"1m\"\nallow_loopback_http = true\n",
		filepath.Join(dir, "borne.prom"), url, token)
	body = bytes.Replace(body, []byte("[usage]\n"), []byte("[usage]\n"), 1)
	body = bytes.Replace(body, []byte("\n[operators]"), []byte(extra+"\n[operators]"), 1)
	if err := os.WriteFile(cfg, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg, db
}

// fillLog records n events, a minute apart from start.
func fillLog(t *testing.T, db string, n int, start time.Time) {
	t.Helper()
	s, err := usage.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kinds := []string{usage.KindSessionStarted, usage.KindSessionEnded, usage.KindSurvey, usage.KindPrintJob}
	for i := range n {
		e := usage.Event{Kind: kinds[i%4], At: start.Add(time.Duration(i) * time.Minute), Site: "test-gien", Place: "Gien", Operator: "caf"}
		switch e.Kind {
		case usage.KindSessionEnded:
			e.Outcome, e.DurationMS = usage.OutcomeCompleted, int64(60000*(1+i%7))
		case usage.KindSurvey:
			e.Detail = map[string]any{"score": 1 + i%5}
		case usage.KindPrintJob:
			e.Outcome = usage.OutcomePrinted
		}
		if _, err := s.Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
}

func syncState(t *testing.T, db string) usage.SyncState {
	t.Helper()
	s, err := usage.OpenExisting(db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.SyncState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestLogsSyncKilledBetweenAckAndCursor runs the real binary: the
// collector stores the first batch and acknowledges it while the test
// holds the log's write lock, so the sync is stuck between the ACK and
// its cursor update when it is killed with SIGKILL. The next sync sends
// the batch again; the collector, keeping each id once, holds no
// duplicate, and its total equals the kiosk's.
func TestLogsSyncKilledBetweenAckAndCursor(t *testing.T) {
	c := newTestCollector(t)
	cfg, db := syncConfig(t, c.srv.URL)
	fillLog(t, db, 2500, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))

	lock, err := sql.Open("sqlite3", "file:"+db+"?_txlock=immediate&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	var tx *sql.Tx
	acked := make(chan string, 1)
	c.hooks(func() {
		// Taken before the batch is stored and acknowledged: the sync
		// reads through its read pool, unhindered, but cannot write.
		if tx == nil {
			var err error
			if tx, err = lock.Begin(); err != nil {
				t.Error(err)
			}
		}
	}, func(key string) {
		select {
		case acked <- key:
		default:
		}
	})
	cmd := exec.Command(binary, "logs", "sync", "--config", cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case key := <-acked:
		if key != "test-gien:1-1000" {
			t.Errorf("first key %q", key)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no batch came: %s", stderr.String())
	}
	time.Sleep(300 * time.Millisecond) // well into the cursor update's wait for the lock
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, _, requests := c.counts(); requests != 1 {
		t.Fatalf("%d requests before the kill: the sync went past its cursor update", requests)
	}
	tx.Rollback()
	if st := syncState(t, db); st.Cursor != 0 {
		t.Fatalf("cursor %d after a kill before the cursor update", st.Cursor)
	}

	c.hooks(nil, nil)
	code, out := runBinary(t, "logs", "sync", "--config", cfg)
	if code != 0 || !strings.Contains(out, "sent 2500 events (seq 1 to 2500) in 3 batches") {
		t.Fatalf("second sync: %d %s", code, out)
	}
	stored, received, _ := c.counts()
	if stored != 2500 || received != 3500 {
		t.Errorf("collector: %d stored, %d received; want 2500 stored (the first batch twice received)", stored, received)
	}
	if st := syncState(t, db); st.Cursor != 2500 || st.Unsynced != 0 || st.LastSync.IsZero() {
		t.Errorf("sync state %+v", st)
	}
	code, out = runBinary(t, "logs", "sync", "--config", cfg, "--once")
	if code != 0 || !strings.Contains(out, "nothing to send") {
		t.Errorf("third sync: %d %s", code, out)
	}
}

func runBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatal(err)
	}
	return 0, string(out)
}

func TestLogsSyncFailuresArePlain(t *testing.T) {
	c := newTestCollector(t)
	cfg, db := syncConfig(t, c.srv.URL)
	fillLog(t, db, 10, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	for _, status := range []int{500, 429, 403} {
		c.mu.Lock()
		c.status = status
		c.mu.Unlock()
		args := []string{"logs", "sync", "--config", cfg}
		if status != 403 {
			args = append(args, "--once") // without it, it would retry
		}
		code, out := runBinary(t, args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 1 || len(lines) != 1 || !strings.Contains(out, fmt.Sprintf("answered %d %s: collector says no", status, http.StatusText(status))) {
			t.Errorf("HTTP %d: exit %d, %q", status, code, out)
		}
	}
	if st := syncState(t, db); st.Cursor != 0 {
		t.Errorf("cursor %d", st.Cursor)
	}
	// A missing log is not created.
	code, out := runBinary(t, "logs", "sync", "--config", cfg, "--db", db+".none")
	if code != 1 || !strings.Contains(out, "no such file") {
		t.Errorf("missing log: %d %q", code, out)
	}
	if _, err := os.Stat(db + ".none"); err == nil {
		t.Error("sync created a log")
	}
	// A world-readable token is a config error, at its line.
	token := filepath.Join(filepath.Dir(cfg), "sync.token")
	os.Chmod(token, 0o644)
	code, out = runBinary(t, "logs", "sync", "--config", cfg)
	if code != 2 || !strings.Contains(out, cfg+":") || !strings.Contains(out, "usage.sync.token_file") || !strings.Contains(out, "readable by every user") {
		t.Errorf("world-readable token: %d %q", code, out)
	}
	// No collector configured.
	plain, _ := testConfig(t)
	code, out = runBinary(t, "logs", "sync", "--config", plain)
	if code != 2 || !strings.Contains(out, "usage.sync.url is not set") {
		t.Errorf("no url: %d %q", code, out)
	}
}

// TestLogsSyncRedirectedOrInClear runs the real binary against a
// collector that redirects (a captive portal) and a config that sends
// the token in clear: neither moves the cursor nor reaches elsewhere.
func TestLogsSyncRedirectedOrInClear(t *testing.T) {
	var portal atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		portal.Add(1)
		io.WriteString(w, "<html>Wi-Fi</html>")
	}))
	defer other.Close()
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/login", http.StatusFound)
	}))
	defer moved.Close()
	cfg, db := syncConfig(t, moved.URL)
	fillLog(t, db, 5, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	code, out := runBinary(t, "logs", "sync", "--config", cfg)
	if code != 1 || !strings.Contains(out, "302 Found pointing to "+other.URL+"/login") {
		t.Errorf("redirected: exit %d, %q", code, out)
	}
	if st := syncState(t, db); st.Cursor != 0 || portal.Load() != 0 {
		t.Errorf("cursor %d, %d requests at the portal", st.Cursor, portal.Load())
	}
	// Without allow_loopback_http, http:// is a config error at its place.
	body, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(body, []byte("allow_loopback_http = true\n"), nil, 1), 0o600)
	code, out = runBinary(t, "config", "check", "--config", cfg)
	if code != 2 || !regexp.MustCompile(regexp.QuoteMeta(cfg)+`:\d+:7: usage.sync.url: .*in clear`).MatchString(out) {
		t.Errorf("config check of an http:// url: %d %q", code, out)
	}
}

// TestLogsExportDuringWrites exports with the real binary, to a file, while
// this process records events: each file is whole, its events run without
// a gap from the first, and the summary line tells its count, range and
// SHA-256 exactly.
func TestLogsExportDuringWrites(t *testing.T) {
	_, db := testConfig(t)
	s, err := usage.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Record(t.Context(), usage.Event{Kind: usage.KindIdleReset, Site: "test-gien"}); err != nil {
				t.Error(err)
				return
			}
			// A busy kiosk, not a tight loop: SQLite's busy wait is not
			// fair, and a writer that never pauses starves the export's
			// short write that notes it.
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	dir := t.TempDir()
	var last int64
	for i := range 5 {
		time.Sleep(50 * time.Millisecond)
		out := filepath.Join(dir, fmt.Sprintf("export-%d.ndjson", i))
		code, msg := runBinary(t, "logs", "export", "--db", db, "--out", out)
		if code != 0 {
			t.Fatalf("export: %d %s", code, msg)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		for j, l := range lines {
			var e usage.Event
			if err := json.Unmarshal([]byte(l), &e); err != nil || e.Seq != int64(j+1) {
				t.Fatalf("export %d line %d: seq %d, %v", i, j, e.Seq, err)
			}
		}
		sum := sha256.Sum256(data)
		want := fmt.Sprintf("exported %d events (seq 1 to %d) to %s, sha256 %s\n", len(lines), len(lines), out, hex.EncodeToString(sum[:]))
		if msg != want {
			t.Fatalf("summary %q, want %q", msg, want)
		}
		if int64(len(lines)) <= last {
			t.Errorf("export %d has %d events, the one before %d", i, len(lines), last)
		}
		last = int64(len(lines))
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*part*")); len(leftovers) != 0 {
		t.Errorf("left behind: %v", leftovers)
	}
	// Each complete export is noted for the purge.
	if st, _ := s.SyncState(t.Context()); st.Exported != last {
		t.Errorf("exported mark %d, want %d", st.Exported, last)
	}
}

func TestLogsStats(t *testing.T) {
	_, db := testConfig(t)
	// 96 minutes from 22:30 UTC on 31 October: 23:30 in Paris.
	fillLog(t, db, 96, time.Date(2026, 10, 31, 22, 30, 0, 0, time.UTC))
	code, out := runBinary(t, "logs", "stats", "--db", db, "--format", "csv", "--timezone", "Europe/Paris")
	if code != 0 {
		t.Fatalf("stats: %d %s", code, out)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("csv %q: %v", out, err)
	}
	// The first half hour is still October in Paris.
	if recs[1][0] != "2026-10-31" || recs[2][0] != "2026-11-01" || recs[1][2] != "8" || recs[2][2] != "16" {
		t.Errorf("rows %q", recs)
	}
	code, out = runBinary(t, "logs", "stats", "--db", db, "--format", "json", "--from", "2026-11-01", "--to", "2026-11-01")
	var st usage.Stats
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Rows) != 1 || st.Total.Sessions != 16 || st.Total.Surveys != 17 {
		t.Errorf("json from/to: %d %s", code, out)
	}
	code, out = runBinary(t, "logs", "stats", "--db", db, "--by", "month")
	if code != 0 || !strings.HasPrefix(out, "month    operator  sessions  completed") || !strings.Contains(out, "\n2026-11  caf") {
		t.Errorf("table: %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"--from", "1/11/2026"},
		{"--from", "2026-11-02", "--to", "2026-11-01"},
		{"--format", "xml"},
		{"--by", "week"},
		{"--timezone", "Mars/Olympus"},
	} {
		code, out := runBinary(t, append([]string{"logs", "stats", "--db", db}, args...)...)
		if code != 2 || strings.Count(out, "\n") != 1 {
			t.Errorf("%v: %d %q", args, code, out)
		}
	}
}

func TestLogsPurge(t *testing.T) {
	c := newTestCollector(t)
	cfg, db := syncConfig(t, c.srv.URL) // retention 30d
	now := time.Now()
	fillLog(t, db, 40, now.Add(-70*24*time.Hour)) // past twice the retention
	fillLog(t, db, 40, now.Add(-40*24*time.Hour)) // past the retention
	fillLog(t, db, 20, now.Add(-24*time.Hour))    // recent
	code, out := runBinary(t, "logs", "purge", "--config", cfg)
	if code != 0 || !strings.Contains(out, "deleted 40 events") || !strings.Contains(out, "40 of them never synced nor exported") || !strings.Contains(out, "kept 40 older events") {
		t.Fatalf("purge before any sync: %d %s", code, out)
	}
	if code, out := runBinary(t, "logs", "sync", "--config", cfg); code != 0 {
		t.Fatalf("sync: %s", out)
	}
	code, out = runBinary(t, "logs", "purge", "--config", cfg)
	if code != 0 || !strings.Contains(out, "deleted 40 events") || strings.Contains(out, "kept") {
		t.Fatalf("purge after a sync: %d %s", code, out)
	}
	if st := syncState(t, db); st.LastSeq != 100 || st.LastPurge.IsZero() {
		t.Errorf("state %+v", st)
	}
}

// TestJobs runs the shell's background jobs on a log: they sync what is
// recorded, purge, and keep the metrics file with the calls, the devices,
// the log's health and the last sync.
func TestJobs(t *testing.T) {
	defer func(a, b, c, d time.Duration) { syncFirst, purgeFirst, metricsSettle, healthPoll = a, b, c, d }(syncFirst, purgeFirst, metricsSettle, healthPoll)
	syncFirst, purgeFirst, metricsSettle, healthPoll = 0, 0, 10*time.Millisecond, 20*time.Millisecond
	col := newTestCollector(t)
	cfgPath, _ := syncConfig(t, col.srv.URL)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := openLater(cfg.Usage.Database, logger, nil)
	defer rec.Close()
	for _, e := range []usage.Event{
		{Kind: usage.KindSessionEnded, Operator: "caf", Outcome: usage.OutcomeCompleted, DurationMS: 1000},
		{Kind: usage.KindSessionEnded, Operator: "caf", Outcome: usage.OutcomeCompleted, DurationMS: 2000},
		{Kind: usage.KindSessionEnded, Operator: "essai", Outcome: usage.OutcomeFailed},
	} {
		e.Site = cfg.Site.ID
		rec.record(e)
	}
	j := startJobs(cfg, rec, logger, func(f func()) { go f() })
	defer j.Stop()
	j.device(hw.Change{Device: "printer", OK: false, Reason: "media-empty"})
	j.device(hw.Change{Device: "printer", Job: "7", OK: true}) // a job, not the printer's state

	deadline := time.Now().Add(15 * time.Second)
	var metrics string
	for {
		b, _ := os.ReadFile(cfg.Usage.MetricsFile)
		metrics = string(b)
		stored, _, _ := col.counts()
		if stored == 3 && strings.Contains(metrics, `borne_device_up{device="printer"} 0`) &&
			strings.Contains(metrics, "borne_unsynced_events 0") && !strings.Contains(metrics, "borne_last_sync_timestamp_seconds 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs: %d events at the collector, metrics:\n%s", stored, metrics)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		`borne_calls_total{operator="caf",outcome="completed"} 2`,
		`borne_calls_total{operator="essai",outcome="failed"} 1`,
		"borne_usage_log_up 1",
		"borne_usage_buffered_events 0",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
	s, err := rec.wait(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for {
		if st, _ := s.SyncState(t.Context()); !st.LastPurge.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the daily purge never ran")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// borne doctor's lines on this kiosk.
	checks := usageChecks(t.Context(), cfg)
	if len(checks) != 2 || checks[0].Name != "usage" || checks[1].Name != "sync" {
		t.Fatalf("checks %+v", checks)
	}
	for _, c := range checks {
		if c.Health != hw.OK || c.Needed {
			t.Errorf("check %+v", c)
		}
	}
	// The shell says it cannot write: doctor says so too.
	j.Stop() // or it would write the file again
	usage.WriteFileAtomic(cfg.Usage.MetricsFile, usage.NewMetrics().Render(usage.MetricsState{Buffered: 12}), 0o644)
	if c := usageChecks(t.Context(), cfg)[0]; c.Health != hw.Degraded || !strings.Contains(c.Reason, "the running shell cannot write the log: 12 events wait in memory") {
		t.Errorf("usage check %+v", c)
	}
	// Nothing synced yet, on another log.
	other := *cfg
	other.Usage.Database = filepath.Join(t.TempDir(), "other.db")
	fillLog(t, other.Usage.Database, 3, time.Now())
	if c := usageChecks(t.Context(), &other)[1]; c.Health != hw.Degraded || !strings.Contains(c.Reason, "3 events wait; the collector at") {
		t.Errorf("sync check %+v", c)
	}
}
