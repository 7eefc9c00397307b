package usage

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLockoutCountsBeforeChecking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "attempts")
	l := NewLockout(path, 5)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	_, err := l.Try(now, func() (bool, error) {
		// The plug is pulled during the check: the count is already there.
		st, err := NewLockout(path, 5).State()
		if err != nil || st.Failures != 1 {
			t.Fatalf("during the check: %+v %v", st, err)
		}
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLockoutDoublesUpToAnHour(t *testing.T) {
	path := filepath.Join(t.TempDir(), "attempts")
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	wrong := func() (bool, error) { return false, nil }
	l := NewLockout(path, 5)
	for i := 1; i <= 4; i++ {
		a, _ := l.Try(now, wrong)
		if a.Failures != i || !a.Until.IsZero() {
			t.Fatalf("attempt %d: %+v", i, a)
		}
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute}
	for i, w := range want {
		// A fresh Lockout each time: the state lives in the file.
		a, _ := NewLockout(path, 5).Try(now, wrong)
		if !a.NewLock || a.Until.Sub(now) != w {
			t.Fatalf("failure %d: locked %v, want %v (%+v)", 5+i, a.Until.Sub(now), w, a)
		}
		refused, _ := NewLockout(path, 5).Try(now.Add(w-time.Second), func() (bool, error) {
			t.Fatal("checked while locked")
			return true, nil
		})
		if !refused.Refused {
			t.Fatalf("not refused while locked: %+v", refused)
		}
		now = now.Add(w)
	}
	for range 10 {
		a, _ := l.Try(now, wrong)
		now = a.Until
	}
	a, _ := l.Try(now, wrong)
	if a.Until.Sub(now) != time.Hour {
		t.Fatalf("lock-out past an hour: %v", a.Until.Sub(now))
	}
	ok, _ := l.Try(a.Until, func() (bool, error) { return true, nil })
	if !ok.OK || ok.Failures != 0 {
		t.Fatalf("right PIN after the lock-out: %+v", ok)
	}
	if st, _ := l.State(); st.Failures != 0 || !st.Until.IsZero() {
		t.Fatalf("state after success: %+v", st)
	}
}

func TestLockoutCorruptFileLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "attempts")
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := NewLockout(path, 5).Try(time.Now(), func() (bool, error) { return true, nil })
	if err != nil || !a.Refused {
		t.Fatalf("a corrupt file let a check through: %+v %v", a, err)
	}
}

func TestLockoutUnwritableRefuses(t *testing.T) {
	// A file where the folder should be: nothing can be written, even as root.
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	checked := false
	_, err := NewLockout(filepath.Join(notDir, "attempts"), 5).Try(time.Now(), func() (bool, error) {
		checked = true
		return true, nil
	})
	if err == nil || checked {
		t.Fatalf("checked without a durable count: err %v checked %v", err, checked)
	}
}
