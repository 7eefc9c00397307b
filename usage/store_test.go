package usage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
)

var bg = context.Background()

func openTest(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "var", "lib", "borne", "usage.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func mustRecord(t testing.TB, s *Store, e Event) Event {
	t.Helper()
	got, err := s.Record(bg, e)
	if err != nil {
		t.Fatalf("Record(%+v): %v", e, err)
	}
	return got
}

// sameEvent compares two events, times with Equal.
func sameEvent(a, b Event) bool {
	if !a.At.Equal(b.At) {
		return false
	}
	a.At, b.At = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func TestRoundTripEveryField(t *testing.T) {
	s, _ := openTest(t)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	in := Event{
		ID:         "0B9F8A4E-3C1D-4F6A-9B2E-7D5C1A2B3C4D", // normalised to lower case
		At:         time.Date(2026, 11, 27, 10, 14, 3, 987654321, paris),
		Site:       "loiret-gien",
		Place:      "Saint-Benoît-sur-Loire",
		Kind:       KindHardwareFault,
		Operator:   "caf",
		Outcome:    OutcomeFailed,
		DurationMS: 734000,
		Detail: map[string]any{
			"pages": 3, "score": 4.5, "device": "printer", "reason": "out_of_paper",
			"attempts": int64(2), "lockout_s": uint16(60), "level": true, "code": "E42", "message_kind": "closed",
		},
	}
	got := mustRecord(t, s, in)
	if got.Seq != 1 {
		t.Errorf("Seq = %d, want 1", got.Seq)
	}
	if got.ID != "0b9f8a4e-3c1d-4f6a-9b2e-7d5c1a2b3c4d" {
		t.Errorf("ID = %q", got.ID)
	}
	wantAt := time.Date(2026, 11, 27, 9, 14, 3, 0, time.UTC)
	if !got.At.Equal(wantAt) || got.At.Location() != time.UTC {
		t.Errorf("At = %v, want %v", got.At, wantAt)
	}

	evs, err := s.Events(bg, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Event{
		ID: "0b9f8a4e-3c1d-4f6a-9b2e-7d5c1a2b3c4d", Seq: 1, At: wantAt,
		Site: "loiret-gien", Place: "Saint-Benoît-sur-Loire", Kind: KindHardwareFault,
		Operator: "caf", Outcome: OutcomeFailed, DurationMS: 734000,
		Detail: map[string]any{
			"pages": 3.0, "score": 4.5, "device": "printer", "reason": "out_of_paper",
			"attempts": 2.0, "lockout_s": 60.0, "level": true, "code": "E42", "message_kind": "closed",
		},
	}
	if len(evs) != 1 || !sameEvent(evs[0], want) {
		t.Fatalf("Events = %+v\nwant     %+v", evs, want)
	}
	if evs[0].At.Location() != time.UTC {
		t.Errorf("read At location = %v, want UTC", evs[0].At.Location())
	}
}

func TestRecordDefaultsAndStamp(t *testing.T) {
	s, _ := openTest(t)
	now := time.Date(2026, 3, 2, 8, 59, 59, 999_000_000, time.UTC)
	s.now = func() time.Time { return now }
	var placeAt time.Time
	s.SetStamp("loiret-gien", func(at time.Time) string { placeAt = at; return "Briare" })

	e := mustRecord(t, s, Event{Kind: KindIdleReset})
	u, err := uuid.Parse(e.ID)
	if err != nil || u.Version() != 4 || u.String() != e.ID {
		t.Errorf("ID %q: want a lower-case v4 UUID (%v)", e.ID, err)
	}
	if want := now.Truncate(time.Second); !e.At.Equal(want) {
		t.Errorf("At = %v, want %v", e.At, want)
	}
	if !placeAt.Equal(e.At) {
		t.Errorf("place func got %v, want the event time %v", placeAt, e.At)
	}
	if e.Site != "loiret-gien" || e.Place != "Briare" {
		t.Errorf("stamp: site %q place %q", e.Site, e.Place)
	}
	if e.Detail == nil || len(e.Detail) != 0 {
		t.Errorf("Detail = %#v, want empty map", e.Detail)
	}
	// An explicit site and place win over the stamp.
	e2 := mustRecord(t, s, Event{Kind: KindIdleReset, Site: "other", Place: "Gien"})
	if e2.Site != "other" || e2.Place != "Gien" {
		t.Errorf("explicit site/place replaced: %q %q", e2.Site, e2.Place)
	}
	var detail string
	if err := s.w.QueryRow(`SELECT detail FROM events WHERE seq = ?`, e.Seq).Scan(&detail); err != nil || detail != "{}" {
		t.Errorf("stored detail = %q (%v), want {}", detail, err)
	}
}

func TestSeqNeverReused(t *testing.T) {
	s, path := openTest(t)
	var last int64
	for i := 0; i < 5; i++ {
		e := mustRecord(t, s, Event{Kind: KindOperatorViewed, Operator: "caf"})
		if e.Seq <= last {
			t.Fatalf("seq %d after %d", e.Seq, last)
		}
		last = e.Seq
	}
	if last != 5 {
		t.Fatalf("last seq %d, want 5", last)
	}
	// Delete the newest row, as a purge might, then reopen.
	if _, err := s.w.Exec(`DELETE FROM events WHERE seq = 5`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if n, _ := s2.LastSeq(bg); n != 4 {
		t.Errorf("LastSeq after delete = %d, want 4", n)
	}
	if e := mustRecord(t, s2, Event{Kind: KindOperatorViewed}); e.Seq != 6 {
		t.Errorf("seq after deleting 5 and reopening = %d, want 6", e.Seq)
	}
	if _, err := s2.w.Exec(`DELETE FROM events`); err != nil {
		t.Fatal(err)
	}
	if e := mustRecord(t, s2, Event{Kind: KindOperatorViewed}); e.Seq != 7 {
		t.Errorf("seq after emptying the log = %d, want 7", e.Seq)
	}
}

func TestUniqueIDs(t *testing.T) {
	s, _ := openTest(t)
	seen := map[string]bool{}
	for i := 0; i < 300; i++ {
		e := mustRecord(t, s, Event{Kind: KindIdleReset})
		if seen[e.ID] {
			t.Fatalf("id %s given twice", e.ID)
		}
		seen[e.ID] = true
	}
	dup := Event{ID: uuid.NewString(), Kind: KindIdleReset}
	mustRecord(t, s, dup)
	_, err := s.Record(bg, dup)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "already recorded") {
		t.Errorf("duplicate id: err = %v", err)
	}
	if _, err := s.Record(bg, Event{ID: "not-a-uuid", Kind: KindIdleReset}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad id: err = %v", err)
	}
}

func TestPragmas(t *testing.T) {
	s, _ := openTest(t)
	checks := []struct {
		db    *sql.DB
		query string
		want  string
	}{
		{s.w, "PRAGMA journal_mode", "wal"},
		{s.w, "PRAGMA synchronous", "2"},
		{s.w, "PRAGMA foreign_keys", "1"},
		{s.w, "PRAGMA busy_timeout", "5000"},
		{s.w, "PRAGMA user_version", fmt.Sprint(SchemaVersion())},
		{s.r, "PRAGMA journal_mode", "wal"},
		{s.r, "PRAGMA query_only", "1"},
		{s.r, "PRAGMA busy_timeout", "5000"},
	}
	for _, c := range checks {
		var got string
		if err := c.db.QueryRow(c.query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		if got != c.want {
			t.Errorf("%s = %q, want %q", c.query, got, c.want)
		}
	}
	if SchemaVersion() < 1 {
		t.Errorf("SchemaVersion = %d", SchemaVersion())
	}
	if s.w.Stats().MaxOpenConnections != 1 {
		t.Errorf("writer pool allows %d connections", s.w.Stats().MaxOpenConnections)
	}
	// The reader pool cannot write.
	if _, err := s.r.Exec(`INSERT INTO meta (key, value) VALUES ('x', 'y')`); err == nil {
		t.Error("reader pool accepted a write")
	}
	// The file is not world-readable.
	fi, err := os.Stat(s.path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o007 != 0 {
		t.Errorf("file mode %v, want no access for others", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(s.path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o750&^currentUmask() {
		t.Errorf("folder mode %v, want 0750", di.Mode().Perm())
	}
}

func currentUmask() os.FileMode {
	dir, err := os.MkdirTemp("", "umask")
	if err != nil {
		return 0
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "d")
	if os.Mkdir(p, 0o777) != nil {
		return 0
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return 0o777 &^ fi.Mode().Perm()
}

func TestMigrationsEmbedded(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 || !strings.Contains(ms[0].SQL, "AUTOINCREMENT") {
		t.Fatalf("migrations = %+v", ms)
	}
}

// withMigrations replaces the embedded migrations for one test: the
// embedded ones plus extra files.
func withMigrations(t *testing.T, extra map[string]string) {
	t.Helper()
	m := fstest.MapFS{}
	entries, err := fs.ReadDir(embeddedMigrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, _ := fs.ReadFile(embeddedMigrations, "migrations/"+e.Name())
		m["migrations/"+e.Name()] = &fstest.MapFile{Data: b}
	}
	for name, sql := range extra {
		m["migrations/"+name] = &fstest.MapFile{Data: []byte(sql)}
	}
	old := migrationFiles
	migrationFiles = m
	t.Cleanup(func() { migrationFiles = old })
}

func userVersion(t *testing.T, path string) (version int, tables []string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	return version, tables
}

func TestMigrationsAreAllOrNothing(t *testing.T) {
	n := SchemaVersion()
	withMigrations(t, map[string]string{
		fmt.Sprintf("%04d_ok.sql", n+1):     "CREATE TABLE later (x INTEGER);",
		fmt.Sprintf("%04d_broken.sql", n+2): "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;",
	})
	path := filepath.Join(t.TempDir(), "usage.db")
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), "broken.sql") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open with a broken migration: %v", err)
	}
	if v, tables := userVersion(t, path); v != 0 || len(tables) != 0 {
		t.Errorf("after a failed migration: user_version %d, tables %v; want 0 and none", v, tables)
	}
}

func TestMigrationUpgradesAnExistingLog(t *testing.T) {
	s, path := openTest(t)
	e := mustRecord(t, s, Event{Kind: KindShellStarted})
	s.Close()
	n := SchemaVersion()
	withMigrations(t, map[string]string{fmt.Sprintf("%04d_more.sql", n+1): "CREATE TABLE later (x INTEGER);"})
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := s2.Events(bg, 0, 0)
	s2.Close()
	if len(evs) != 1 || evs[0].ID != e.ID {
		t.Errorf("events after upgrade: %+v", evs)
	}
	if v, tables := userVersion(t, path); v != n+1 || !strings.Contains(strings.Join(tables, ","), "later") {
		t.Errorf("after upgrade: user_version %d, tables %v", v, tables)
	}
}

func TestReopenKeepsData(t *testing.T) {
	s, path := openTest(t)
	e := mustRecord(t, s, Event{Kind: KindShellStarted})
	s.Close()
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	evs, err := s2.Events(bg, 0, 0)
	if err != nil || len(evs) != 1 || evs[0].ID != e.ID {
		t.Fatalf("after reopen: %+v, %v", evs, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, path := openTest(t)
	mustRecord(t, s, Event{Kind: KindShellStarted})
	if _, err := s.w.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(path)
	if err == nil {
		t.Fatal("Open accepted a log from a newer version")
	}
	for _, want := range []string{path, "newer borne", fmt.Sprint(SchemaVersion() + 1)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := ExportFile(bg, path, &strings.Builder{}, ExportOptions{}); err == nil || !strings.Contains(err.Error(), "newer borne") {
		t.Errorf("ExportFile on a newer log: %v", err)
	}
}

func TestOpenErrorsArePlain(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("hello, I am not a database, but long enough to have a header............................................................"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want []string
	}{
		{filepath.Join(file, "usage.db"), []string{"usage log " + filepath.Join(file, "usage.db"), "cannot create the folder"}},
		{dir, []string{"usage log " + dir + ": is a folder, not a database file"}},
		{file, []string{"usage log " + file, "not a SQLite database"}},
		{"", []string{"no database file given"}},
	}
	for _, c := range cases {
		s, err := Open(c.path)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", c.path)
			continue
		}
		t.Logf("Open(%q): %v", c.path, err)
		if strings.Count(err.Error(), "\n") != 0 {
			t.Errorf("Open(%q): error spans lines: %q", c.path, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%q) = %q, want it to contain %q", c.path, err, w)
			}
		}
	}
}

func TestUnknownKindAndOutcomeRefused(t *testing.T) {
	s, _ := openTest(t)
	bad := []Event{
		{Kind: "session_over"},
		{Kind: ""},
		{Kind: KindSessionEnded, Outcome: "great"},
		{Kind: KindSessionEnded, DurationMS: -1},
		{Kind: KindSessionEnded, Operator: "Mme Dupont"},
		{Kind: KindSessionEnded, Site: strings.Repeat("a", 65)},
		{Kind: KindSessionEnded, Place: "Gien\n06 12 34 56 78"},
		{Kind: KindSessionEnded, At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, e := range bad {
		if _, err := s.Record(bg, e); !errors.Is(err, ErrInvalid) {
			t.Errorf("Record(%+v): err = %v, want ErrInvalid", e, err)
		}
	}
	if _, err := s.Count(bg, "nope", time.Time{}, time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Count(unknown kind): %v", err)
	}
	if n, _ := s.Count(bg, "", time.Time{}, time.Time{}); n != 0 {
		t.Errorf("%d refused events were stored", n)
	}
}

func TestDetailAllowList(t *testing.T) {
	s, _ := openTest(t)
	bad := []map[string]any{
		{"name": "Jean Dupont"},
		{"reason": strings.Repeat("x", 300)},
		{"reason": "ok", "phone": "0612345678"},
		{"device": map[string]any{"reason": "x"}},
		{"device": []string{"a"}},
		{"code": nil},
		{"score": math.NaN()},
		{"score": math.Inf(1)},
		{"reason": "line\nbreak"},
		{"reason": "\xff\xfe"},
	}
	for _, d := range bad {
		if _, err := s.Record(bg, Event{Kind: KindSurvey, Detail: d}); !errors.Is(err, ErrInvalid) {
			t.Errorf("detail %v: err = %v, want ErrInvalid", d, err)
		}
	}
	if n, _ := s.Count(bg, "", time.Time{}, time.Time{}); n != 0 {
		t.Errorf("%d refused events were stored", n)
	}
	good := []map[string]any{
		{"score": 5},
		{"pages": 2},
		{"device": "camera", "reason": strings.Repeat("x", MaxDetailString)},
		{"attempts": 3, "lockout_s": 60.0, "level": false, "code": "E1", "message_kind": "maintenance"},
	}
	for _, d := range good {
		if _, err := s.Record(bg, Event{Kind: KindSurvey, Detail: d}); err != nil {
			t.Errorf("detail %v refused: %v", d, err)
		}
	}
}

func TestCount(t *testing.T) {
	s, _ := openTest(t)
	base := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for i, k := range []string{KindSessionStarted, KindSessionEnded, KindSessionStarted, KindPrintJob, KindSessionStarted} {
		mustRecord(t, s, Event{Kind: k, At: base.Add(time.Duration(i) * time.Hour)})
	}
	cases := []struct {
		kind     string
		from, to time.Time
		want     int
	}{
		{"", time.Time{}, time.Time{}, 5},
		{KindSessionStarted, time.Time{}, time.Time{}, 3},
		{KindSessionStarted, base, base.Add(2 * time.Hour), 1},                                // [09:00, 11:00)
		{KindSessionStarted, base, base.Add(2*time.Hour + time.Second), 2},                    // 11:00 included
		{"", base.Add(time.Millisecond), time.Time{}, 4},                                      // 09:00:00 is before 09:00:00.001
		{"", time.Time{}, base.Add(time.Millisecond), 1},                                      // 09:00:00 is before 09:00:00.001
		{KindPrintJob, base.Add(3 * time.Hour).In(time.FixedZone("x", 7200)), time.Time{}, 1}, // zones do not matter
		{KindSurvey, time.Time{}, time.Time{}, 0},
	}
	for _, c := range cases {
		got, err := s.Count(bg, c.kind, c.from, c.to)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("Count(%q, %v, %v) = %d, want %d", c.kind, c.from, c.to, got, c.want)
		}
	}
}

func TestEventsSinceAndLimit(t *testing.T) {
	s, _ := openTest(t)
	if n, err := s.LastSeq(bg); n != 0 || err != nil {
		t.Errorf("LastSeq of empty log = %d, %v", n, err)
	}
	for i := 0; i < 10; i++ {
		mustRecord(t, s, Event{Kind: KindIdleReset})
	}
	evs, err := s.Events(bg, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, e := range evs {
		seqs = append(seqs, e.Seq)
	}
	if !reflect.DeepEqual(seqs, []int64{4, 5, 6, 7}) {
		t.Errorf("Events(3, 4) seqs = %v", seqs)
	}
	if evs, _ := s.Events(bg, 10, 5); len(evs) != 0 {
		t.Errorf("Events after the last = %d", len(evs))
	}
	if n, _ := s.LastSeq(bg); n != 10 {
		t.Errorf("LastSeq = %d", n)
	}
}

func TestConcurrentRecord(t *testing.T) {
	s, _ := openTest(t)
	const workers, each = 8, 40
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs = map[int64]bool{}
		ids  = map[string]bool{}
		errs []error
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				e, err := s.Record(bg, Event{Kind: KindOperatorViewed, Operator: fmt.Sprintf("op%d", w)})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					if seqs[e.Seq] || ids[e.ID] {
						errs = append(errs, fmt.Errorf("duplicate seq %d or id %s", e.Seq, e.ID))
					}
					seqs[e.Seq], ids[e.ID] = true, true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, first: %v", len(errs), errs[0])
	}
	if len(seqs) != workers*each {
		t.Errorf("%d distinct seqs, want %d", len(seqs), workers*each)
	}
	for i := int64(1); i <= workers*each; i++ {
		if !seqs[i] {
			t.Errorf("seq %d missing", i)
		}
	}
	if n, _ := s.Count(bg, KindOperatorViewed, time.Time{}, time.Time{}); n != workers*each {
		t.Errorf("Count = %d", n)
	}
}

func TestCloseNilSafeAndIdempotent(t *testing.T) {
	var nilStore *Store
	if err := nilStore.Close(); err != nil {
		t.Errorf("nil Close: %v", err)
	}
	s, _ := openTest(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Record(bg, Event{Kind: KindIdleReset}); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close: %v", err)
	}
	if _, err := s.Export(bg, &strings.Builder{}, ExportOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Export after Close: %v", err)
	}
	if _, err := s.Events(bg, 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Events after Close: %v", err)
	}
}

func TestSchemaChecksBackTheValidation(t *testing.T) {
	// Rows that bypass Record still cannot break the export format.
	s, _ := openTest(t)
	bad := []string{
		`INSERT INTO events (id, at, kind, detail) VALUES ('a', '2026-11-27T09:14:03Z', 'x', 'not json')`,
		`INSERT INTO events (id, at, kind, detail) VALUES ('b', '2026-11-27T09:14:03Z', 'x', '[1]')`,
		`INSERT INTO events (id, at, kind) VALUES ('c', '2026-11-27 09:14:03', 'x')`,
		`INSERT INTO events (id, at, kind, duration_ms) VALUES ('d', '2026-11-27T09:14:03Z', 'x', 'long')`,
	}
	for _, q := range bad {
		if _, err := s.w.Exec(q); err == nil {
			t.Errorf("schema accepted: %s", q)
		}
	}
}
