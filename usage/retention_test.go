package usage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const retention = 395 * 24 * time.Hour

var purgeNow = time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)

// ages records three events of each age: very old (past twice the
// retention), old (past the retention) and recent. It returns their seqs.
func ages(t *testing.T, s *Store) (veryOld, old, recent []int64) {
	t.Helper()
	for _, c := range []struct {
		at   time.Time
		into *[]int64
	}{
		{purgeNow.Add(-2*retention - time.Hour), &veryOld},
		{purgeNow.Add(-retention - time.Hour), &old},
		{purgeNow.Add(-time.Hour), &recent},
	} {
		for range 3 {
			e := mustRecord(t, s, Event{Kind: KindIdleReset, Site: "loiret-gien", At: c.at})
			*c.into = append(*c.into, e.Seq)
		}
	}
	return
}

func seqsLeft(t *testing.T, s *Store) map[int64]bool {
	t.Helper()
	evs, err := s.Events(bg, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int64]bool{}
	for _, e := range evs {
		m[e.Seq] = true
	}
	return m
}

func TestPurgeKeepsWhatHasNotLeft(t *testing.T) {
	s, _ := openTest(t)
	veryOld, old, recent := ages(t, s)
	res, err := s.Purge(bg, PurgeOptions{Retention: retention, Now: purgeNow})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing ever left: only what is past twice the retention goes.
	if res.Deleted != 3 || res.Unsent != 3 || res.Kept != 3 || !res.Cutoff.Equal(purgeNow.Add(-retention)) {
		t.Errorf("result %+v", res)
	}
	left := seqsLeft(t, s)
	for _, q := range veryOld {
		if left[q] {
			t.Errorf("very old %d kept", q)
		}
	}
	for _, q := range append(old, recent...) {
		if !left[q] {
			t.Errorf("%d deleted", q)
		}
	}
	st, _ := s.SyncState(bg)
	if !st.LastPurge.Equal(purgeNow) {
		t.Errorf("last purge %v", st.LastPurge)
	}

	// Synced up to the second old one: the first two old ones go.
	if err := s.moveCursor(bg, old[1]); err != nil {
		t.Fatal(err)
	}
	res, err = s.Purge(bg, PurgeOptions{Retention: retention, Now: purgeNow})
	if err != nil || res.Deleted != 2 || res.Unsent != 0 || res.Kept != 1 {
		t.Errorf("after a sync: %+v %v", res, err)
	}
	if left := seqsLeft(t, s); len(left) != 4 || !left[old[2]] {
		t.Errorf("left %v", left)
	}
}

func TestPurgeAfterExport(t *testing.T) {
	s, path := openTest(t)
	_, old, recent := ages(t, s)
	// An export from a later seq leaves a gap: it does not count.
	if err := MarkExported(bg, path, old[0], recent[2]); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.SyncState(bg); st.Exported != 0 {
		t.Errorf("an export with a gap counted: %+v", st)
	}
	// The whole log on a USB key: every old event may go.
	if err := MarkExported(bg, path, 0, recent[2]); err != nil {
		t.Fatal(err)
	}
	st, _ := s.SyncState(bg)
	if st.Exported != recent[2] || st.Left() != recent[2] {
		t.Errorf("state %+v", st)
	}
	// An older export finishing late does not move the mark back.
	if err := MarkExported(bg, path, 0, old[0]); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.SyncState(bg); st.Exported != recent[2] {
		t.Errorf("mark moved back to %d", st.Exported)
	}
	res, err := s.Purge(bg, PurgeOptions{Retention: retention, Now: purgeNow})
	if err != nil || res.Deleted != 6 || res.Kept != 0 {
		t.Errorf("purge: %+v %v", res, err)
	}
	// An export continuing from the mark moves it on.
	e := mustRecord(t, s, Event{Kind: KindIdleReset, Site: "loiret-gien"})
	if err := MarkExported(bg, path, recent[2], e.Seq); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.SyncState(bg); st.Exported != e.Seq {
		t.Errorf("continued export: %+v", st)
	}
	if err := MarkExported(bg, filepath.Join(t.TempDir(), "none.db"), 0, 5); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing log: %v", err)
	}
	if _, err := s.Purge(bg, PurgeOptions{}); err == nil {
		t.Error("purge without a retention")
	}
}

func TestPurgeGivesSpaceBack(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		s, path := openTest(t)
		if legacy {
			// A log from before incremental auto-vacuum.
			if _, err := s.w.Exec("PRAGMA auto_vacuum = NONE"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.w.Exec("VACUUM"); err != nil {
				t.Fatal(err)
			}
		}
		bulkLoad(t, s, 30000, purgeNow.Add(-2*retention+24*time.Hour), time.Minute)
		bulkLoad(t, s, 100, purgeNow.Add(-time.Hour), time.Second)
		if err := s.moveCursor(bg, 30000); err != nil {
			t.Fatal(err)
		}
		s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		before := s.fileSize()
		res, err := s.Purge(bg, PurgeOptions{Retention: retention, Now: purgeNow})
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(path)
		if res.Deleted != 30000 || res.FreedBytes < before/2 || fi.Size() > before/4 {
			t.Errorf("legacy %v: %+v, %d bytes before, %d after", legacy, res, before, fi.Size())
		}
		var mode int
		var check string
		s.w.QueryRow("PRAGMA auto_vacuum").Scan(&mode)
		s.w.QueryRow("PRAGMA integrity_check").Scan(&check)
		if mode != 2 || check != "ok" {
			t.Errorf("legacy %v: auto_vacuum %d, integrity %q", legacy, mode, check)
		}
		if n, _ := s.Count(bg, "", time.Time{}, time.Time{}); n != 100 {
			t.Errorf("%d events left", n)
		}
	}
}

func TestPurgeWhileRecording(t *testing.T) {
	s, _ := openTest(t)
	bulkLoad(t, s, 20000, purgeNow.Add(-2*retention-24*time.Hour), time.Second)
	done := make(chan int)
	go func() {
		n := 0
		for range 200 {
			if _, err := s.Record(bg, Event{Kind: KindIdleReset, Site: "loiret-gien"}); err != nil {
				t.Error(err)
				break
			}
			n++
		}
		done <- n
	}()
	res, err := s.Purge(bg, PurgeOptions{Retention: retention, Now: purgeNow})
	n := <-done
	if err != nil || res.Deleted != 20000 {
		t.Fatalf("%+v %v", res, err)
	}
	if c, _ := s.Count(bg, "", time.Time{}, time.Time{}); c != n {
		t.Errorf("%d events, %d recorded during the purge", c, n)
	}
}
