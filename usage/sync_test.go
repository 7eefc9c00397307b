package usage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var monthStart = time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)

// checkDelivered checks that the collector holds every event of s, each
// once, first received in seq order, and that the cursor is at the end.
func checkDelivered(t *testing.T, s *Store, c *collector) {
	t.Helper()
	all, err := s.Events(bg, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := c.storedEvents()
	if len(got) != len(all) {
		t.Fatalf("the collector holds %d events, the kiosk %d", len(got), len(all))
	}
	for i := range all {
		if got[i].ID != all[i].ID || got[i].Seq != all[i].Seq || !got[i].At.Equal(all[i].At) || got[i].Kind != all[i].Kind {
			t.Fatalf("event %d: collector %+v, kiosk %+v", i, got[i], all[i])
		}
	}
	st, err := s.SyncState(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) > 0 && (st.Cursor != all[len(all)-1].Seq || st.Unsynced != 0) {
		t.Errorf("sync state %+v, want cursor %d and nothing unsynced", st, all[len(all)-1].Seq)
	}
}

func TestSyncAMonthOnce(t *testing.T) {
	s, _ := openTest(t)
	c := newCollector(t)
	// A month of a busy kiosk, offline all along: 30 days, 150 events a day.
	bulkLoad(t, s, 4500, monthStart, 30*24*time.Hour/4500)
	var batches []SyncProgress
	o := c.options()
	o.Site = "loiret-gien"
	o.Progress = func(p SyncProgress) { batches = append(batches, p) }
	res, err := s.Sync(bg, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 4500 || res.Batches != 5 || res.FirstSeq != 1 || res.LastSeq != 4500 || res.Cursor != 4500 || res.Retries != 0 {
		t.Errorf("result %+v", res)
	}
	checkDelivered(t, s, c)
	if c.keys[0] != "loiret-gien:1-1000" || c.keys[4] != "loiret-gien:4001-4500" {
		t.Errorf("keys %v", c.keys)
	}
	if len(batches) != 5 || batches[1].FirstSeq != 1001 || batches[1].Events != 1000 {
		t.Errorf("progress %+v", batches)
	}
	st, _ := s.SyncState(bg)
	if st.LastSync.IsZero() || time.Since(st.LastSync) > time.Minute {
		t.Errorf("last sync %v", st.LastSync)
	}

	// Nothing more to send: no request at all.
	_, _, before := c.counts()
	res, err = s.Sync(bg, o)
	if _, _, after := c.counts(); err != nil || res.Events != 0 || after != before {
		t.Errorf("second sync: %+v %v, %d requests", res, err, after-before)
	}
	// A few more, later: only they go.
	mustRecord(t, s, Event{Kind: KindShellStarted, Site: "loiret-gien"})
	res, err = s.Sync(bg, o)
	if err != nil || res.Events != 1 || res.FirstSeq != 4501 {
		t.Errorf("third sync: %+v %v", res, err)
	}
	checkDelivered(t, s, c)
	if _, received, _ := c.counts(); received != 4501 {
		t.Errorf("the collector received %d events, want 4501 (no resend)", received)
	}
}

func TestSyncBatchesStayUnderAMebibyte(t *testing.T) {
	s, _ := openTest(t)
	c := newCollector(t)
	long := strings.Repeat("x", MaxDetailString)
	tx, _ := s.w.Begin()
	stmt := tx.Stmt(s.insert)
	for i := range 1500 {
		e := Event{ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), At: monthStart, Site: "loiret-gien", Kind: KindHardwareFault,
			Detail: map[string]any{"device": long, "reason": long, "code": long, "level": long, "message_kind": long}}
		detail, err := check(&e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stmt.Exec(e.ID, e.At.Format(TimeFormat), e.Site, e.Place, e.Kind, "", "", 0, detail); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	res, err := s.Sync(bg, c.options())
	if err != nil {
		t.Fatal(err)
	}
	// About 1.2 kB an event: a mebibyte holds some 850, so 1,500 need two
	// batches, each under the limit (the collector checks).
	if res.Batches != 2 || res.Events != 1500 {
		t.Errorf("result %+v", res)
	}
	checkDelivered(t, s, c)
}

func TestSyncRetriesUntilTheCollectorRecovers(t *testing.T) {
	s, _ := openTest(t)
	c := newCollector(t)
	bulkLoad(t, s, 2500, monthStart, time.Minute)
	c.inject(fail500, fail500, answerOK, fail429, fail408, fail503, answerOK, hang, fail500, answerOK)
	o := c.options()
	// Long enough for a 1,000-event batch under -race on a busy machine;
	// the hang fault waits it out once.
	o.RequestTimeout = 3 * time.Second
	var waits []time.Duration
	var failures []string
	o.Progress = func(p SyncProgress) {
		if p.Err != nil {
			failures = append(failures, p.Err.Error())
		}
	}
	o.sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	res, err := s.Sync(bg, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Retries != 7 || res.Events != 2500 {
		t.Errorf("result %+v", res)
	}
	checkDelivered(t, s, c)
	if stored, received, _ := c.counts(); stored != 2500 || received != 2500 {
		t.Errorf("stored %d, received %d: failed attempts must not store", stored, received)
	}
	// Back-off: within its doubling ceiling (1, 2, 4 ms… capped at 5 ms).
	for i, w := range waits {
		if w < 0 || w > 5*time.Millisecond {
			t.Errorf("wait %d: %v", i, w)
		}
	}
	for _, want := range []string{"500 Internal Server Error: database down", "429 Too Many Requests: slow down", "408", "503", "no answer in time"} {
		if !strings.Contains(strings.Join(failures, "\n"), want) {
			t.Errorf("failures %q do not mention %q", failures, want)
		}
	}
}

func TestSyncHonoursRetryAfter(t *testing.T) {
	s, _ := openTest(t)
	c := newCollector(t)
	bulkLoad(t, s, 10, monthStart, time.Minute)
	c.retryAfter = "7"
	c.inject(fail429, fail503)
	var waits []time.Duration
	o := c.options()
	o.sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	if _, err := s.Sync(bg, o); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 2 || waits[0] != 7*time.Second || waits[1] != 7*time.Second {
		t.Errorf("waits %v, want 7s twice", waits)
	}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":                              0,
		"12":                            12 * time.Second,
		"-3":                            0,
		"soon":                          0,
		"99999":                         time.Hour,
		"Fri, 27 Nov 2026 09:00:30 GMT": 30 * time.Second,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestSyncBackoffIsCappedWithJitter(t *testing.T) {
	lo, hi := time.Second, 5*time.Minute
	seen := map[time.Duration]bool{}
	for attempt := range 40 {
		ceiling := min(hi, lo<<min(attempt, 30))
		for range 20 {
			d := backoff(attempt, lo, hi)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: %v outside [0, %v]", attempt, d, ceiling)
			}
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct waits: no jitter?", len(seen))
	}
}

func TestSyncOnceStopsAtTheFirstFailure(t *testing.T) {
	s, _ := openTest(t)
	c := newCollector(t)
	bulkLoad(t, s, 1500, monthStart, time.Minute)
	c.inject(answerOK, fail500)
	o := c.options()
	o.Once = true
	res, err := s.Sync(bg, o)
	if err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "events 1001 to 1500") {
		t.Fatalf("err = %v", err)
	}
	if res.Events != 1000 || res.Cursor != 1000 {
		t.Errorf("result %+v: the first batch went, the cursor follows it", res)
	}
	if _, _, requests := c.counts(); requests != 2 {
		t.Errorf("%d requests, want 2 (no retry with Once)", requests)
	}
	// The next run sends the rest, and only the rest.
	if _, err := s.Sync(bg, o); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, s, c)
	if _, received, _ := c.counts(); received != 1500 {
		t.Errorf("received %d", received)
	}
}

func TestSyncStopsOnOther4xx(t *testing.T) {
	s, _ := openTest(t)
	c := newCollector(t)
	bulkLoad(t, s, 10, monthStart, time.Minute)
	c.inject(fail400)
	res, err := s.Sync(bg, c.options())
	var ce *CollectorError
	if !errors.As(err, &ce) || ce.Status != 400 || ce.Retryable {
		t.Fatalf("err = %#v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "400 Bad Request: unknown site [31mloiret-gien") || strings.Contains(msg, "\x1b") || strings.Contains(msg, "second line") {
		t.Errorf("message %q: want the status and the first line of the body, without control characters", msg)
	}
	if _, _, requests := c.counts(); requests != 1 || res.Cursor != 0 {
		t.Errorf("%d requests, cursor %d: a 4xx must stop at once", requests, res.Cursor)
	}
	// A wrong token is a 401: the same.
	o := c.options()
	o.Token = "wrong"
	if _, err := s.Sync(bg, o); err == nil || !strings.Contains(err.Error(), "401 Unauthorized: bad token") {
		t.Errorf("wrong token: %v", err)
	}
	if st, _ := s.SyncState(bg); st.Cursor != 0 {
		t.Errorf("cursor moved to %d", st.Cursor)
	}
}

func TestSyncAckLostAfterTheCollectorStored(t *testing.T) {
	s, _ := openTest(t)
	c := newCollector(t)
	bulkLoad(t, s, 2000, monthStart, time.Minute)
	// The first batch is stored three times without the kiosk hearing of
	// it: the connection drops, then an answer is cut short twice.
	c.inject(dropAfterStore, truncated, dropAfterStore, answerOK, truncated, answerOK)
	res, err := s.Sync(bg, c.options())
	if err != nil {
		t.Fatal(err)
	}
	if res.Retries != 4 {
		t.Errorf("retries %d, want 4", res.Retries)
	}
	checkDelivered(t, s, c)
	stored, received, _ := c.counts()
	if stored != 2000 || received != 2000*2+1000*2 {
		t.Errorf("stored %d, received %d: resent batches must be stored once", stored, received)
	}
	// Each resend had the same key.
	if c.keys[0] != c.keys[1] || c.keys[1] != c.keys[2] || c.keys[2] != c.keys[3] || c.keys[4] != c.keys[5] {
		t.Errorf("keys %v", c.keys)
	}
}

func TestSyncCrashBetweenAckAndCursor(t *testing.T) {
	s, _ := openTest(t)
	c := newCollector(t)
	bulkLoad(t, s, 2500, monthStart, time.Minute)
	o := c.options()
	crash := errors.New("power cut")
	acks := 0
	o.afterAck = func() error {
		if acks++; acks == 2 {
			return crash
		}
		return nil
	}
	if _, err := s.Sync(bg, o); !errors.Is(err, crash) {
		t.Fatalf("err = %v", err)
	}
	if st, _ := s.SyncState(bg); st.Cursor != 1000 {
		t.Fatalf("cursor %d, want 1000: the second batch's ACK never reached the cursor", st.Cursor)
	}
	o.afterAck = nil
	if _, err := s.Sync(bg, o); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, s, c)
	if stored, received, _ := c.counts(); stored != 2500 || received != 3500 {
		t.Errorf("stored %d, received %d", stored, received)
	}
}

func TestSyncOrderIsSeqNotTime(t *testing.T) {
	s, _ := openTest(t)
	c := newCollector(t)
	// The clock went back an hour between these two.
	a := mustRecord(t, s, Event{Kind: KindShellStarted, Site: "loiret-gien", At: monthStart.Add(time.Hour)})
	b := mustRecord(t, s, Event{Kind: KindIdleReset, Site: "loiret-gien", At: monthStart})
	if _, err := s.Sync(bg, c.options()); err != nil {
		t.Fatal(err)
	}
	got := c.storedEvents()
	if len(got) != 2 || got[0].ID != a.ID || got[1].ID != b.ID {
		t.Errorf("order %+v", got)
	}
}

func TestSyncWhileRecording(t *testing.T) {
	s, _ := openTest(t)
	c := newCollector(t)
	o := c.options()
	o.MaxEvents = 7 // many small batches, to cross the writer often
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Record(bg, Event{Kind: KindOperatorViewed, Site: "loiret-gien", Operator: "caf"}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if _, err := s.Sync(bg, o); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if _, err := s.Sync(bg, o); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, s, c)
	if stored, received, _ := c.counts(); stored != received || stored < 50 {
		t.Errorf("stored %d, received %d", stored, received)
	}
}

func TestSyncNeverTwoAtOnce(t *testing.T) {
	s, path := openTest(t)
	c := newCollector(t)
	bulkLoad(t, s, 3000, monthStart, time.Minute)
	release := make(chan struct{})
	var once sync.Once
	c.onStored = func() { once.Do(func() { <-release }) }

	first := make(chan error, 1)
	go func() { _, err := s.Sync(bg, c.options()); first <- err }()
	for {
		if _, _, n := c.counts(); n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// In this process, on the same Store and on another Store of the file.
	if _, err := s.Sync(bg, c.options()); !errors.Is(err, ErrSyncBusy) {
		t.Errorf("second sync: %v", err)
	}
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	_, err = s2.Sync(bg, c.options())
	if !errors.Is(err, ErrSyncBusy) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", os.Getpid())) {
		t.Errorf("sync from another store: %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	maxIn := c.maxInflight
	c.mu.Unlock()
	if maxIn != 1 {
		t.Errorf("%d requests at once", maxIn)
	}
	checkDelivered(t, s, c)
}

// holdLockMode is the child process of TestSyncLockAcrossProcesses: it
// takes the sync lock, says so, and holds it until killed.
func holdLockMode(path string) {
	l, err := lockSync(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	defer l.unlock()
	fmt.Println("locked")
	time.Sleep(time.Minute)
}

func TestSyncLockAcrossProcesses(t *testing.T) {
	s, path := openTest(t)
	c := newCollector(t)
	bulkLoad(t, s, 10, monthStart, time.Minute)
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "BORNE_USAGE_CHILD=holdlock", "BORNE_USAGE_DB="+path)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "locked") {
		t.Fatalf("child: %q", buf[:n])
	}
	_, err = s.Sync(bg, c.options())
	if !errors.Is(err, ErrSyncBusy) || !strings.Contains(err.Error(), "process "+strconv.Itoa(child.Process.Pid)) {
		t.Fatalf("sync while another process holds the lock: %v", err)
	}
	// Killed, it holds nothing any more.
	child.Process.Kill()
	child.Wait()
	if _, err := s.Sync(bg, c.options()); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, s, c)
}

func TestSyncStopsWithTheContext(t *testing.T) {
	s, _ := openTest(t)
	c := newCollector(t)
	bulkLoad(t, s, 10, monthStart, time.Minute)
	for range 1000 {
		c.inject(fail500)
	}
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Sync(ctx, c.options())
	if err == nil || !strings.Contains(err.Error(), "sync stopped") || time.Since(start) > 2*time.Second {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
	if _, err := s.Sync(bg, SyncOptions{}); err == nil || !strings.Contains(err.Error(), "usage.sync.url") {
		t.Errorf("no URL: %v", err)
	}
	// A collector that is not there at all.
	o := c.options()
	o.URL = "http://127.0.0.1:1/events"
	o.Once = true
	if _, err := s.Sync(bg, o); err == nil || !strings.Contains(err.Error(), "could not be reached") {
		t.Errorf("no collector: %v", err)
	}
}
