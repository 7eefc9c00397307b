package usage

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fastBuffer is a Buffer on the log at path that retries quickly.
func fastBuffer(t *testing.T, open func() (*Store, error)) *Buffer {
	t.Helper()
	b := NewBuffer(open, BufferOptions{Logger: quiet, MinRetry: 5 * time.Millisecond, MaxRetry: 40 * time.Millisecond, Wait: time.Second})
	b.SetStamp("loiret-gien", func(time.Time) string { return "Gien" })
	t.Cleanup(func() { b.Close() })
	return b
}

func openAt(path string) func() (*Store, error) { return func() (*Store, error) { return Open(path) } }

// waitDrained waits until the buffer has written everything and works.
func waitDrained(t *testing.T, b *Buffer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		h := b.Health()
		if h.Err == nil && h.Pending == 0 && h.Open {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the buffer did not drain: %+v", h)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFailing waits until the buffer reports a failure.
func waitFailing(t *testing.T, b *Buffer) Health {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h := b.Health()
		if h.Err != nil {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("the buffer never reported a failure: %+v", h)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recordAt records events one second apart from start, as a citizen's
// touches would, and returns them as Record gave them back.
func recordAt(t *testing.T, b *Buffer, start time.Time, n int) []Event {
	t.Helper()
	out := make([]Event, n)
	for i := range n {
		e, err := b.Record(bg, Event{Kind: KindOperatorViewed, Operator: "caf", At: start.Add(time.Duration(i) * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e
	}
	return out
}

// checkLogged checks that want, in this order and with their times and
// ids, are in the log at path, ignoring the usage_log fault events, and
// that the file passes the integrity check.
func checkLogged(t *testing.T, path string, want []Event) []Event {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var check string
	if err := s.w.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	all, err := s.Events(bg, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got, faults []Event
	for _, e := range all {
		if e.Detail["device"] == "usage_log" {
			faults = append(faults, e)
			continue
		}
		got = append(got, e)
	}
	if len(got) != len(want) {
		t.Fatalf("the log holds %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || !got[i].At.Equal(want[i].At) || got[i].Site != "loiret-gien" || got[i].Place != "Gien" {
			t.Fatalf("event %d: %+v, want %+v", i, got[i], want[i])
		}
		if i > 0 && got[i].Seq <= got[i-1].Seq {
			t.Fatalf("seq out of order at %d", i)
		}
	}
	return faults
}

func TestBufferRecordsBeforeTheLogOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	release := make(chan struct{})
	b := NewBuffer(func() (*Store, error) { <-release; return Open(path) },
		BufferOptions{Logger: quiet, Wait: 20 * time.Millisecond})
	b.SetStamp("loiret-gien", func(time.Time) string { return "Gien" })
	defer b.Close()
	start := time.Now()
	evs := recordAt(t, b, monthStart, 5)
	if time.Since(start) > 2*time.Second {
		t.Errorf("five Records took %v while the log opened", time.Since(start))
	}
	for _, e := range evs {
		if e.Seq != 0 || e.ID == "" {
			t.Errorf("event %+v: want an id and no seq yet", e)
		}
	}
	ctx, cancel := context.WithTimeout(bg, 10*time.Millisecond)
	if _, err := b.Store(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Store before open: %v", err)
	}
	cancel()
	close(release)
	if s, err := b.Store(bg); err != nil || s == nil {
		t.Fatalf("Store: %v", err)
	}
	waitDrained(t, b)
	// Once open, Record returns with the event on disk.
	e, err := b.Record(bg, Event{Kind: KindIdleReset, At: monthStart.Add(time.Hour)})
	if err != nil || e.Seq != 6 {
		t.Errorf("Record once open: %+v %v", e, err)
	}
	if faults := checkLogged(t, path, append(evs, e)); len(faults) != 0 {
		t.Errorf("a slow open is no fault: %+v", faults)
	}
	// An invalid event is refused at once, never queued.
	if _, err := b.Record(bg, Event{Kind: "nonsense"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid event: %v", err)
	}
	if b.Health().Pending != 0 {
		t.Error("the invalid event was queued")
	}
}

func TestBufferSurvivesInjectedFaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	var mode atomic.Int32 // 0 fine, 1 full, 2 written-but-error once
	var calls atomic.Int32
	b := fastBuffer(t, openAt(path))
	b.write = func(ctx context.Context, s *Store, e Event) (Event, error) {
		calls.Add(1)
		switch mode.Load() {
		case 1:
			return e, s.describe("recording", sqlite3.Error{Code: sqlite3.ErrFull})
		case 2:
			mode.Store(0)
			got, err := s.Record(ctx, e)
			if err != nil {
				return got, err
			}
			// On disk, but the caller hears of an I/O error: the retry
			// must not write it twice.
			return got, s.describe("recording", sqlite3.Error{Code: sqlite3.ErrIoErr})
		}
		return s.Record(ctx, e)
	}
	var want []Event
	want = append(want, recordAt(t, b, monthStart, 3)...)
	mode.Store(1)
	start := time.Now()
	want = append(want, recordAt(t, b, monthStart.Add(time.Minute), 20)...)
	h := waitFailing(t, b)
	if storageReason(h.Err) != "disk_full" || !strings.Contains(h.Problem().Error(), "the disk is full") {
		t.Errorf("health %+v: %v", h, h.Problem())
	}
	// The first Record waited for its write and heard of the failure;
	// the others returned at once.
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("20 Records took %v on a full disk", took)
	}
	// It retries, with back-off: not once per Record.
	time.Sleep(100 * time.Millisecond)
	if n := calls.Load(); n > 40 {
		t.Errorf("%d write attempts in 100 ms", n)
	}
	mode.Store(2)
	waitDrained(t, b)
	want = append(want, recordAt(t, b, monthStart.Add(time.Hour), 2)...)
	faults := checkLogged(t, path, want)
	if len(faults) != 2 || faults[0].Kind != KindHardwareFault || faults[0].Detail["reason"] != "disk_full" || faults[1].Kind != KindHardwareRecovered {
		t.Errorf("fault events %+v", faults)
	}
}

func TestBufferKeepsAtMostTenThousand(t *testing.T) {
	b := fastBuffer(t, func() (*Store, error) { return nil, errors.New("no disk") })
	waitFailing(t, b)
	start := time.Now()
	var first, last Event
	for i := range MaxBuffered + 50 {
		e, err := b.Record(bg, Event{Kind: KindIdleReset})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = e
		}
		last = e
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("%d Records took %v", MaxBuffered+50, took)
	}
	h := b.Health()
	if h.Pending != MaxBuffered || h.Dropped < 50 {
		t.Fatalf("health %+v, want %d pending and 50 or more dropped", h, MaxBuffered)
	}
	b.mu.Lock()
	q := b.queue
	kept := map[string]bool{}
	for _, it := range q {
		kept[it.e.ID] = true
	}
	b.mu.Unlock()
	if kept[first.ID] || !kept[last.ID] {
		t.Error("the oldest events should go first")
	}
	if !strings.Contains(h.Problem().Error(), "were lost because memory was full") {
		t.Errorf("problem: %v", h.Problem())
	}
}

func TestBufferCloseWritesWhatIsLeft(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	var fail atomic.Bool
	fail.Store(true)
	b := NewBuffer(openAt(path), BufferOptions{Logger: quiet, MinRetry: time.Hour})
	b.SetStamp("loiret-gien", func(time.Time) string { return "Gien" })
	b.write = func(ctx context.Context, s *Store, e Event) (Event, error) {
		if fail.Load() {
			return e, sqlite3.Error{Code: sqlite3.ErrBusy}
		}
		return s.Record(ctx, e)
	}
	evs := recordAt(t, b, monthStart, 4)
	waitFailing(t, b)
	fail.Store(false)
	// The next retry is an hour away: Close writes them itself.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if faults := checkLogged(t, path, evs); len(faults) != 0 {
		t.Errorf("a busy log is no fault: %+v", faults)
	}
	if _, err := b.Record(bg, Event{Kind: KindIdleReset}); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestBufferConcurrentRecordsAllLand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	b := fastBuffer(t, openAt(path))
	var wg sync.WaitGroup
	var n atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				if e, err := b.Record(bg, Event{Kind: KindIdleReset}); err != nil || e.Seq == 0 {
					t.Errorf("Record: %+v %v", e, err)
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	s, err := b.Store(bg)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Count(bg, "", time.Time{}, time.Time{}); int64(c) != n.Load() {
		t.Errorf("%d events in the log, %d recorded", c, n.Load())
	}
}

func TestBufferDamagedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("this is not a database at all. ", 200)), 0o640); err != nil {
		t.Fatal(err)
	}
	b := fastBuffer(t, openAt(path))
	evs := recordAt(t, b, monthStart, 3)
	h := waitFailing(t, b)
	if storageReason(h.Err) != "corrupt" || !strings.Contains(h.Problem().Error(), "the file is damaged") {
		t.Errorf("health %+v: %v", h, h.Problem())
	}
	if d := Diagnose(bg, path); d.Reason != "corrupt" {
		t.Errorf("Diagnose: %+v", d)
	}
	// The technician keeps the damaged file aside; the kiosk starts a new
	// log and writes what it kept.
	if err := os.Rename(path, path+".damaged"); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, b)
	faults := checkLogged(t, path, evs)
	if len(faults) != 2 || faults[0].Detail["reason"] != "corrupt" {
		t.Errorf("fault events %+v", faults)
	}
	b.Close()
	if d := Diagnose(bg, path); d.Reason != "" || d.Err != nil || !d.Exists || d.Sync.LastSeq != 5 {
		t.Errorf("Diagnose of a good log: %+v", d)
	}
}

// mountTmpfs mounts a small tmpfs for one test: a disk that can be full
// or read-only for real.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

func remount(t *testing.T, dir, size string, readOnly bool) {
	t.Helper()
	flags := uintptr(syscall.MS_REMOUNT)
	if readOnly {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, "size="+size); err != nil {
		t.Fatalf("remount %s read-only=%v: %v", dir, readOnly, err)
	}
}

// TestBufferReadOnlyBind opens an existing log through a read-only bind
// mount, as a kiosk restarted on a disk that went read-only: events wait
// in memory until the mount is writable again. (Linux refuses to make a
// mount read-only while a file on it is open for writing, so a disk that
// fails under an open log is the injected-fault test's job.)
func TestBufferReadOnlyBind(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o750); err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(real, "usage.db"))
	if err != nil {
		t.Fatal(err)
	}
	before := mustRecord(t, s, Event{Kind: KindShellStopped, Site: "loiret-gien", Place: "Gien", At: monthStart.Add(-time.Hour)})
	s.Close()
	view := filepath.Join(dir, "view")
	if err := os.Mkdir(view, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(real, view, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(view, syscall.MNT_DETACH) })
	if err := syscall.Mount("", view, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("read-only bind: %v", err)
	}
	path := filepath.Join(view, "usage.db")
	b := fastBuffer(t, openAt(path))
	start := time.Now()
	want := recordAt(t, b, monthStart, 30)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("30 Records took %v on a read-only disk", took)
	}
	h := waitFailing(t, b)
	if r := storageReason(h.Err); r != "read_only" || h.Pending < 30 {
		t.Errorf("reason %q, health %+v", r, h)
	}
	if p := h.Problem().Error(); !strings.Contains(p, "read-only") || !strings.Contains(p, "events kept in memory") {
		t.Errorf("problem: %s", p)
	}
	if d := Diagnose(bg, path); d.Reason != "read_only" {
		t.Errorf("Diagnose: %+v", d)
	}
	if err := syscall.Mount("", view, "", syscall.MS_BIND|syscall.MS_REMOUNT, ""); err != nil {
		t.Fatalf("writable again: %v", err)
	}
	waitDrained(t, b)
	b.Close()
	faults := checkLogged(t, path, append([]Event{before}, want...))
	if len(faults) != 2 || faults[0].Detail["reason"] != "read_only" || faults[1].Kind != KindHardwareRecovered {
		t.Errorf("fault events %+v", faults)
	}
}

func TestBufferReadOnlyFromTheStart(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	remount(t, dir, "8m", true)
	path := filepath.Join(dir, "borne", "usage.db")
	b := fastBuffer(t, openAt(path))
	want := recordAt(t, b, monthStart, 10)
	h := waitFailing(t, b)
	if r := storageReason(h.Err); r != "read_only" {
		t.Errorf("reason %q for %v", r, h.Err)
	}
	if _, err := b.Store(bg); err == nil {
		t.Error("Store on a read-only disk")
	}
	remount(t, dir, "8m", false)
	waitDrained(t, b)
	checkLogged(t, path, want)
}

func TestBufferDiskFull(t *testing.T) {
	const size = "2m"
	dir := mountTmpfs(t, size)
	path := filepath.Join(dir, "usage.db")
	b := fastBuffer(t, openAt(path))
	want := recordAt(t, b, monthStart, 3)
	// Fill the disk.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	// Until SQLite needs a new page of its WAL, writes may still fit.
	var h Health
	for i := 0; ; i++ {
		want = append(want, recordAt(t, b, monthStart.Add(time.Duration(i+1)*time.Minute), 1)...)
		if h = b.Health(); h.Err != nil {
			break
		}
		if i > 5000 {
			t.Fatal("the disk never filled up")
		}
	}
	if storageReason(h.Err) != "disk_full" {
		t.Errorf("reason %q for %v", storageReason(h.Err), h.Err)
	}
	want = append(want, recordAt(t, b, monthStart.Add(24*time.Hour), 20)...)
	if d := Diagnose(bg, path); d.Reason != "disk_full" {
		t.Errorf("Diagnose: %+v", d)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, b)
	faults := checkLogged(t, path, want)
	if len(faults) != 2 || faults[0].Detail["reason"] != "disk_full" {
		t.Errorf("fault events %+v", faults)
	}
}
