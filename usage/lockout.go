package usage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Lockout keeps the maintenance PIN's failed attempts in a small file,
// written and synced before each check, so pulling the plug between a
// wrong guess and its count gains a stranger nothing.
type Lockout struct {
	path string
	max  int
	mu   sync.Mutex
}

// Attempt is what one PIN attempt found.
type Attempt struct {
	OK       bool
	Failures int       // failed attempts in a row, this one included
	Until    time.Time // locked until then; zero when not locked
	Refused  bool      // locked: the PIN was not even checked
	NewLock  bool      // this failure started (or lengthened) a lock-out
}

const (
	firstLockout = 30 * time.Second
	maxLockout   = time.Hour
)

// NewLockout keeps its state in path; maxAttempts failures in a row start
// a 30 s lock-out that doubles with each further failure, up to an hour.
func NewLockout(path string, maxAttempts int) *Lockout {
	return &Lockout{path: path, max: max(maxAttempts, 1)}
}

// lockoutFor is the lock-out after n failures in a row.
func (l *Lockout) lockoutFor(n int) time.Duration {
	d := firstLockout
	for i := l.max; i < n && d < maxLockout; i++ {
		d *= 2
	}
	return min(d, maxLockout)
}

// State is the current count and lock-out, for the PIN pad.
func (l *Lockout) State() (Attempt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.read(time.Now())
}

// Try checks one PIN: refused at once while locked; otherwise the failure
// is counted durably first, then check runs, then a success clears the
// count and a failure may start a lock-out.
func (l *Lockout) Try(now time.Time, check func() (bool, error)) (Attempt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, err := l.read(now)
	if err != nil {
		return st, err
	}
	if now.Before(st.Until) {
		st.Refused = true
		return st, nil
	}
	st.Failures++
	st.Until = time.Time{}
	if err := l.write(st); err != nil {
		return st, err // without a durable count there is no check
	}
	ok, err := check()
	if err != nil {
		return st, err
	}
	if ok {
		st = Attempt{OK: true}
		return st, l.write(st)
	}
	if st.Failures >= l.max {
		st.Until = now.Add(l.lockoutFor(st.Failures)).Truncate(time.Second)
		st.NewLock = true
	}
	return st, l.write(st)
}

// read loads the state at now. A file that cannot be understood (empty,
// garbled, too big, not a plain file) counts as a lock-out, never as a
// clean slate, and is rewritten at once as that lock-out with its date, so
// that it ends like any other. A lock longer than the longest there is
// (a tampered file, a clock stepped back) is cut to that and written so.
func (l *Lockout) read(now time.Time) (Attempt, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := ReadStateFile(ctx, l.path, 64)
	if errors.Is(err, fs.ErrNotExist) {
		return Attempt{}, nil
	}
	if err != nil && !errors.Is(err, ErrNotRegular) && !errors.Is(err, ErrTooLarge) {
		return Attempt{}, fmt.Errorf("maintenance attempts %s: %w", l.path, err)
	}
	st, ok := parseAttempts(b)
	if err != nil || !ok {
		st = Attempt{Failures: l.max, Until: now.Add(firstLockout).Truncate(time.Second)}
		return st, l.write(st)
	}
	if longest := now.Add(maxLockout); st.Until.After(longest) {
		st.Until = longest.Truncate(time.Second)
		return st, l.write(st)
	}
	return st, nil
}

// parseAttempts reads "FAILURES UNTIL" (UNTIL in Unix seconds, 0 for none).
func parseAttempts(b []byte) (Attempt, bool) {
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return Attempt{}, false
	}
	n, err1 := strconv.Atoi(f[0])
	u, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || n < 0 || u < 0 {
		return Attempt{}, false
	}
	st := Attempt{Failures: n}
	if u > 0 {
		st.Until = time.Unix(u, 0)
	}
	return st, true
}

func (l *Lockout) write(st Attempt) error {
	var until int64
	if !st.Until.IsZero() {
		until = st.Until.Unix()
	}
	err := os.MkdirAll(filepath.Dir(l.path), 0o750)
	if err == nil {
		err = WriteFileAtomic(l.path, fmt.Appendf(nil, "%d %d\n", st.Failures, until), 0o640)
	}
	if err != nil {
		return fmt.Errorf("maintenance attempts %s: %w", l.path, err)
	}
	return nil
}
