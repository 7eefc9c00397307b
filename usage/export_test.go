package usage

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var fixedAt = time.Date(2026, 11, 27, 9, 14, 3, 0, time.UTC)

func exportString(t *testing.T, s *Store, o ExportOptions) (string, Summary) {
	t.Helper()
	var b strings.Builder
	sum, err := s.Export(bg, &b, o)
	if err != nil {
		t.Fatalf("Export(%+v): %v", o, err)
	}
	return b.String(), sum
}

func TestNDJSONExactLines(t *testing.T) {
	s, _ := openTest(t)
	mustRecord(t, s, Event{
		ID: "0b9f8a4e-3c1d-4f6a-9b2e-7d5c1a2b3c4d", At: fixedAt,
		Site: "loiret-gien", Place: "Gien", Kind: KindSessionEnded,
		Operator: "caf", Outcome: OutcomeCompleted, DurationMS: 734000,
	})
	mustRecord(t, s, Event{
		ID: "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", At: fixedAt.Add(61 * time.Second),
		Site: "loiret-gien", Place: `Saint-Benoît "Le Bourg"`, Kind: KindPrintJob,
		Operator: "caf", Outcome: OutcomePrinted, Detail: map[string]any{"pages": 2, "device": "printer"},
	})
	got, sum := exportString(t, s, ExportOptions{})
	want := `{"id":"0b9f8a4e-3c1d-4f6a-9b2e-7d5c1a2b3c4d","seq":1,"at":"2026-11-27T09:14:03Z","site":"loiret-gien","place":"Gien","kind":"session_ended","operator":"caf","outcome":"completed","duration_ms":734000,"detail":{}}` + "\n" +
		`{"id":"1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f","seq":2,"at":"2026-11-27T09:15:04Z","site":"loiret-gien","place":"Saint-Benoît \"Le Bourg\"","kind":"print_job","operator":"caf","outcome":"printed","duration_ms":0,"detail":{"device":"printer","pages":2}}` + "\n"
	if got != want {
		t.Errorf("export:\n%s\nwant:\n%s", got, want)
	}
	if sum != (Summary{Events: 2, FirstSeq: 1, LastSeq: 2}) {
		t.Errorf("summary %+v", sum)
	}
	// Same as ExportFile, and as "ndjson" spelled out.
	var b bytes.Buffer
	if _, err := ExportFile(bg, s.path, &b, ExportOptions{Format: FormatNDJSON}); err != nil || b.String() != want {
		t.Errorf("ExportFile = %q, %v", b.String(), err)
	}
}

// Every exported line decodes with encoding/json to the event Events returns.
func TestNDJSONDecodesToSameEvent(t *testing.T) {
	s, _ := openTest(t)
	places := []string{"Gien", "Châteauneuf-sur-Loire", `a\b"c`, "tab\there", "l'Île", "\u2028x", "<&>"}
	for i, p := range places {
		// Some of these are refused by Record (control characters); put
		// them in directly to check the escaper on what a hand-edited file
		// could hold.
		if _, err := s.Record(bg, Event{Kind: KindSurvey, Place: p, At: fixedAt, Detail: map[string]any{"score": i % 5, "reason": p}}); err != nil {
			if _, err := s.w.Exec(`INSERT INTO events (id, at, place, kind, detail) VALUES (?, ?, ?, ?, ?)`,
				fmt.Sprintf("00000000-0000-4000-8000-%012d", i), fixedAt.Format(TimeFormat), p, KindSurvey, `{"reason":"x"}`); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustRecord(t, s, Event{Kind: KindHardwareFault, Detail: map[string]any{"device": "camera", "reason": "unplugged", "level": true, "code": 12.5}})
	evs, err := s.Events(bg, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	out, sum := exportString(t, s, ExportOptions{})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(evs) || sum.Events != len(evs) {
		t.Fatalf("%d lines, summary %d, %d events", len(lines), sum.Events, len(evs))
	}
	for i, line := range lines {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d %q: %v", i, line, err)
		}
		if !sameEvent(e, evs[i]) {
			t.Errorf("line %d decodes to %+v\nwant %+v", i, e, evs[i])
		}
		// Key order as DESIGN.md shows it.
		var keys []string
		dec := json.NewDecoder(strings.NewReader(line))
		dec.Token()
		for dec.More() {
			k, _ := dec.Token()
			keys = append(keys, k.(string))
			var skip json.RawMessage
			dec.Decode(&skip)
		}
		if strings.Join(keys, ",") != strings.Join(CSVHeader, ",") {
			t.Errorf("keys %v", keys)
		}
	}
}

func TestCSVExport(t *testing.T) {
	s, _ := openTest(t)
	mustRecord(t, s, Event{
		ID: "0b9f8a4e-3c1d-4f6a-9b2e-7d5c1a2b3c4d", At: fixedAt, Site: "loiret-gien",
		Place: `Gien, "centre"`, Kind: KindPrintJob, Operator: "cpam", Outcome: OutcomeFailed,
		DurationMS: 1500, Detail: map[string]any{"pages": 2, "reason": "paper jam, tray 2"},
	})
	mustRecord(t, s, Event{ID: "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", At: fixedAt, Kind: KindIdleReset})
	got, sum := exportString(t, s, ExportOptions{Format: FormatCSV})
	want := "id,seq,at,site,place,kind,operator,outcome,duration_ms,detail\n" +
		`0b9f8a4e-3c1d-4f6a-9b2e-7d5c1a2b3c4d,1,2026-11-27T09:14:03Z,loiret-gien,"Gien, ""centre""",print_job,cpam,failed,1500,"{""pages"":2,""reason"":""paper jam, tray 2""}"` + "\n" +
		`1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f,2,2026-11-27T09:14:03Z,,,idle_reset,,,0,{}` + "\n"
	if got != want {
		t.Errorf("csv:\n%s\nwant:\n%s", got, want)
	}
	if sum != (Summary{Events: 2, FirstSeq: 1, LastSeq: 2}) {
		t.Errorf("summary %+v", sum)
	}
	recs, err := csv.NewReader(strings.NewReader(got)).ReadAll()
	if err != nil || len(recs) != 3 || recs[1][4] != `Gien, "centre"` {
		t.Errorf("csv reads back as %q, %v", recs, err)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(recs[1][9]), &d); err != nil || d["reason"] != "paper jam, tray 2" {
		t.Errorf("detail column %q: %v", recs[1][9], err)
	}
}

func TestExportSinceSeq(t *testing.T) {
	s, _ := openTest(t)
	for i := 0; i < 10; i++ {
		mustRecord(t, s, Event{Kind: KindIdleReset})
	}
	out, sum := exportString(t, s, ExportOptions{SinceSeq: 7})
	if sum != (Summary{Events: 3, FirstSeq: 8, LastSeq: 10}) {
		t.Errorf("since 7: summary %+v", sum)
	}
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.Contains(line, fmt.Sprintf(`"seq":%d,`, 8+i)) {
			t.Errorf("since 7, line %d: %s", i, line)
		}
	}
	out, sum = exportString(t, s, ExportOptions{SinceSeq: 10})
	if out != "" || sum != (Summary{}) {
		t.Errorf("since the last: %q %+v", out, sum)
	}
	out, sum = exportString(t, s, ExportOptions{SinceSeq: 10, Format: FormatCSV})
	if out != strings.Join(CSVHeader, ",")+"\n" || sum.Events != 0 {
		t.Errorf("csv since the last: %q %+v", out, sum)
	}
	if _, sum = exportString(t, s, ExportOptions{SinceSeq: -5}); sum.Events != 10 || sum.FirstSeq != 1 {
		t.Errorf("since -5: %+v", sum)
	}
}

func TestExportUnknownFormat(t *testing.T) {
	s, _ := openTest(t)
	var b bytes.Buffer
	if _, err := s.Export(bg, &b, ExportOptions{Format: "xml"}); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("Export(xml): %v", err)
	}
	if _, err := ExportFile(bg, s.path, &b, ExportOptions{Format: "json"}); err == nil {
		t.Error("ExportFile(json) succeeded")
	}
	if b.Len() != 0 {
		t.Errorf("wrote %q", b.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

func TestExportWriteErrorSaysSo(t *testing.T) {
	s, _ := openTest(t)
	for i := 0; i < 2000; i++ { // more than the buffer holds
		mustRecordFast(t, s, i)
	}
	_, err := s.Export(bg, failWriter{}, ExportOptions{})
	if err == nil || !strings.Contains(err.Error(), "writing the export: no space left on device") {
		t.Errorf("err = %v", err)
	}
}

// mustRecordFast inserts a plausible event in a single statement, without
// the fsync of Record, to fill a log quickly.
func mustRecordFast(t testing.TB, s *Store, i int) {
	t.Helper()
	if _, err := s.w.Exec(`INSERT INTO events (id, at, site, place, kind, operator) VALUES (?, ?, 'loiret-gien', 'Gien', ?, 'caf')`,
		fmt.Sprintf("00000000-0000-4000-8000-%012d", i), fixedAt.Format(TimeFormat), KindOperatorViewed); err != nil {
		t.Fatal(err)
	}
}

// gateWriter blocks its first Write until released, so that a test can act
// while an export is half-way.
type gateWriter struct {
	buf     bytes.Buffer
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.once.Do(func() {
		close(g.started)
		<-g.release
	})
	return g.buf.Write(p)
}

// An export reads one snapshot: events recorded while it runs are neither
// in it nor blocked by it.
func TestExportIsASnapshotAndDoesNotBlockRecord(t *testing.T) {
	s, _ := openTest(t)
	const before = 3000 // several buffers' worth, so the gate closes mid-export
	tx, err := s.w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < before; i++ {
		if _, err := tx.Exec(`INSERT INTO events (id, at, kind) VALUES (?, ?, ?)`,
			fmt.Sprintf("00000000-0000-4000-8000-%012d", i), fixedAt.Format(TimeFormat), KindIdleReset); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	g := &gateWriter{started: make(chan struct{}), release: make(chan struct{})}
	type result struct {
		sum Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := s.Export(bg, g, ExportOptions{})
		done <- result{sum, err}
	}()
	select {
	case <-g.started:
	case <-time.After(10 * time.Second):
		t.Fatal("export did not start writing")
	}
	// The export holds its read transaction: recording must still work, fast.
	start := time.Now()
	for i := 0; i < 20; i++ {
		mustRecord(t, s, Event{Kind: KindSessionStarted})
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("20 records during an export took %v", d)
	}
	close(g.release)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.sum != (Summary{Events: before, FirstSeq: 1, LastSeq: before}) {
		t.Errorf("summary %+v, want the %d events present when the export began", r.sum, before)
	}
	if n := bytes.Count(g.buf.Bytes(), []byte("\n")); n != before {
		t.Errorf("%d lines", n)
	}
	if bytes.Contains(g.buf.Bytes(), []byte(KindSessionStarted)) {
		t.Error("export holds events recorded after it began")
	}
}

// Exports racing a busy writer: every export is whole and contiguous.
func TestExportWhileRecording(t *testing.T) {
	s, _ := openTest(t)
	for i := 0; i < 500; i++ {
		mustRecordFast(t, s, i)
	}
	stop := make(chan struct{})
	var recorded atomic.Int64
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
			if _, err := s.Record(bg, Event{Kind: KindOperatorViewed, Operator: "caf"}); err != nil {
				t.Error(err)
				return
			}
			recorded.Add(1)
		}
	}()
	for round := 0; round < 20; round++ {
		for _, format := range []string{FormatNDJSON, FormatCSV} {
			var b bytes.Buffer
			sum, err := s.Export(bg, &b, ExportOptions{Format: format, SinceSeq: int64(round * 10)})
			if err != nil {
				t.Fatal(err)
			}
			checkContiguous(t, format, b.Bytes(), sum, int64(round*10)+1)
		}
	}
	close(stop)
	wg.Wait()
	if recorded.Load() == 0 {
		t.Error("no event was recorded during the exports")
	}
}

func checkContiguous(t *testing.T, format string, out []byte, sum Summary, first int64) {
	t.Helper()
	var seqs []int64
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if format == FormatCSV {
			var seq int64
			if len(seqs) == 0 && strings.HasPrefix(sc.Text(), "id,") {
				seqs = append(seqs, -1) // header marker
				continue
			}
			rec := strings.Split(sc.Text(), ",")
			fmt.Sscan(rec[1], &seq)
			seqs = append(seqs, seq)
			continue
		}
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s line %q: %v", format, sc.Text(), err)
		}
		seqs = append(seqs, e.Seq)
	}
	if format == FormatCSV {
		if len(seqs) == 0 || seqs[0] != -1 {
			t.Fatalf("csv without header")
		}
		seqs = seqs[1:]
	}
	if len(seqs) != sum.Events {
		t.Fatalf("%s: %d lines, summary says %d", format, len(seqs), sum.Events)
	}
	if sum.Events == 0 {
		return
	}
	if sum.FirstSeq != first || seqs[0] != first || seqs[len(seqs)-1] != sum.LastSeq {
		t.Errorf("%s: seqs %d..%d, summary %+v, want first %d", format, seqs[0], seqs[len(seqs)-1], sum, first)
	}
	if sum.LastSeq-sum.FirstSeq+1 != int64(sum.Events) {
		t.Errorf("%s: summary %+v is not contiguous", format, sum)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("%s: seq %d follows %d", format, seqs[i], seqs[i-1])
		}
	}
}

func TestExportFileMissingIsNotCreated(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{filepath.Join(dir, "usage.db"), filepath.Join(dir, "no", "such", "usage.db")} {
		var b bytes.Buffer
		_, err := ExportFile(bg, p, &b, ExportOptions{})
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("ExportFile(%s) = %v", p, err)
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ExportFile created %s (%v)", p, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("ExportFile left %d entries in the folder", len(entries))
	}
	if _, err := ExportFile(bg, dir, io.Discard, ExportOptions{}); err == nil || !strings.Contains(err.Error(), "folder") {
		t.Errorf("ExportFile(folder) = %v", err)
	}
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	if _, err := ExportFile(bg, empty, io.Discard, ExportOptions{}); err == nil || !strings.Contains(err.Error(), "not a borne usage log") {
		t.Errorf("ExportFile(empty file) = %v", err)
	}
}

// ExportFile reads a log the kiosk has open, and one it has closed,
// without changing it.
func TestExportFileWhileOpenAndAfterClose(t *testing.T) {
	s, path := openTest(t)
	for i := 0; i < 5; i++ {
		mustRecord(t, s, Event{Kind: KindSurvey, Detail: map[string]any{"score": i + 1}})
	}
	want, _ := exportString(t, s, ExportOptions{Format: FormatCSV, SinceSeq: 2})
	var b bytes.Buffer
	sum, err := ExportFile(bg, path, &b, ExportOptions{Format: FormatCSV, SinceSeq: 2})
	if err != nil || b.String() != want || sum != (Summary{Events: 3, FirstSeq: 3, LastSeq: 5}) {
		t.Errorf("while open: %+v %v\n%s\nwant\n%s", sum, err, b.String(), want)
	}
	mustRecord(t, s, Event{Kind: KindShellStopped}) // still writable after
	s.Close()
	fi, _ := os.Stat(path)
	b.Reset()
	if sum, err := ExportFile(bg, path, &b, ExportOptions{}); err != nil || sum.Events != 6 {
		t.Errorf("after close: %+v %v", sum, err)
	}
	if fi2, _ := os.Stat(path); fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Error("ExportFile changed the database file")
	}
}

func TestDetailJSONStaysOnOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "{}",
		"{}":                   "{}",
		`{"pages":2}`:          `{"pages":2}`,
		"{\n  \"pages\": 2\n}": `{"pages":2}`,
	} {
		if got := detailJSON(in); got != want {
			t.Errorf("detailJSON(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "Gien", `a"b\c`, "\x00\x1f\x7f", "é\u2028\u2029", "\xff", "a\xc3", "<&>", "\t\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONString(nil, s)
		if !json.Valid(out) {
			t.Fatalf("%q -> invalid JSON %q", s, out)
		}
		if bytes.ContainsAny(out, "\n\r\u2028\u2029") {
			t.Fatalf("%q -> %q spans lines", s, out)
		}
		var got, want string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		std, _ := json.Marshal(s)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%q -> %q decodes to %q, encoding/json gives %q", s, out, got, want)
		}
	})
}

// rowByRow is the NDJSON export read column by column: what the packed
// batches must give, byte for byte.
func rowByRow(t *testing.T, s *Store) string {
	t.Helper()
	tx, err := s.r.BeginTx(bg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var out []byte
	if err := eachRow(bg, tx, 0, -1, func(r *row) error { out = appendNDJSON(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// Several batches of events with every kind of text a log holds (accents,
// quotes, backslashes, a line separator, empty fields): the packed export
// is the column-by-column one, and its summary counts them all.
func TestPackedExportAcrossBatches(t *testing.T) {
	s, _ := openTest(t)
	places := []string{"Gien", "Châteauneuf-sur-Loire", `Saint-"Denis"\de-l'Hôtel`, "Sully\u2028sur-Loire", ""}
	n := 2*packedBatch + 123
	tx, err := s.w.BeginTx(bg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		detail := `{}`
		if i%3 == 0 {
			detail = fmt.Sprintf(`{"pages":%d,"reason":"bourrage \"papier\" bac 2"}`, i%4+1)
		}
		_, err := tx.Exec(`INSERT INTO events (id, at, site, place, kind, operator, outcome, duration_ms, detail)
			VALUES (?, '2026-11-27T09:14:03Z', 'loiret-gien', ?, 'print_job', 'caf', 'printed', ?, ?)`,
			fmt.Sprintf("id-%06d", i), places[i%len(places)], i*1000, detail)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`DELETE FROM events WHERE seq % 1000 = 7`); err != nil { // gaps in seq
		t.Fatal(err)
	}
	got, sum := exportString(t, s, ExportOptions{})
	if want := rowByRow(t, s); got != want {
		t.Fatalf("packed and column-by-column exports differ (%d and %d bytes)", len(got), len(want))
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if sum.Events != len(lines) || sum.FirstSeq != 1 || sum.LastSeq != int64(n) {
		t.Fatalf("summary %+v for %d lines of %d events", sum, len(lines), n)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("invalid line %q", l)
		}
	}
}

// A log edited by hand can hold the separators the packed batches use: the
// batch is read again column by column, and the export stays exact.
func TestPackedExportFallsBackOnSeparators(t *testing.T) {
	for _, sep := range []string{"\x1f", "\x1e"} {
		s, _ := openTest(t)
		for i, place := range []string{"Gien", "Gi" + sep + "en", "Briare"} {
			_, err := s.w.Exec(`INSERT INTO events (id, at, kind, place) VALUES (?, '2026-11-27T09:14:03Z', 'idle_reset', ?)`,
				fmt.Sprintf("id-%d", i), place)
			if err != nil {
				t.Fatal(err)
			}
		}
		got, sum := exportString(t, s, ExportOptions{})
		if want := rowByRow(t, s); got != want || sum.Events != 3 || sum.LastSeq != 3 {
			t.Fatalf("export %+v:\n%s\nwant:\n%s", sum, got, want)
		}
		if esc := fmt.Sprintf(`"place":"Gi\u%04xen"`, sep[0]); !strings.Contains(got, esc) {
			t.Fatalf("no %s in:\n%s", esc, got)
		}
	}
}
