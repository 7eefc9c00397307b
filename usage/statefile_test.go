package usage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// HostileStateFiles makes, at path, each thing a state file must survive,
// by name: what a tampered or damaged kiosk could hold there. future is
// the content of a well-formed file dated far ahead, for the file at hand.
func hostileStateFiles(t *testing.T, future string) map[string]func(path string) {
	t.Helper()
	write := func(data string) func(string) {
		return func(path string) {
			if err := os.WriteFile(path, []byte(data), 0o640); err != nil {
				t.Fatal(err)
			}
		}
	}
	return map[string]func(string){
		"empty":        write(""),
		"garbled":      write("\x00\xffgarbage\n1 2 3\n"),
		"future-dated": write(future),
		"huge":         write(strings.Repeat("7 ", 2<<20)),
		"a FIFO": func(path string) {
			if err := syscall.Mkfifo(path, 0o640); err != nil {
				t.Fatal(err)
			}
		},
		"a dangling symlink": func(path string) {
			if err := os.Symlink(filepath.Join(filepath.Dir(path), "nowhere"), path); err != nil {
				t.Fatal(err)
			}
		},
		"a symlink to a file": func(path string) {
			other := filepath.Join(filepath.Dir(path), "elsewhere")
			os.WriteFile(other, []byte("0 0\n"), 0o640)
			if err := os.Symlink(other, path); err != nil {
				t.Fatal(err)
			}
		},
		"a symlink to /dev/zero": func(path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		},
		"/dev/zero itself": func(path string) {
			// The same device as /dev/zero (1, 5), made at the path.
			if err := syscall.Mknod(path, syscall.S_IFCHR|0o640, 1<<8|5); err != nil {
				t.Fatalf("mknod: %v (the tests run as root)", err)
			}
		},
		"a folder": func(path string) {
			if err := os.Mkdir(path, 0o750); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func TestReadStateFileNeverBlocks(t *testing.T) {
	for name, mk := range hostileStateFiles(t, "1 99999999999\n") {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state")
			mk(path)
			done := make(chan error, 1)
			go func() {
				b, err := ReadStateFile(bg, path, 0)
				if err == nil && len(b) > MaxStateFile {
					err = fmt.Errorf("read %d bytes", len(b))
				}
				done <- err
			}()
			select {
			case err := <-done:
				plain := name == "empty" || name == "garbled" || name == "future-dated"
				if plain && err != nil {
					t.Errorf("a plain small file: %v", err)
				}
				if !plain && err == nil {
					t.Errorf("%s was read as a state file", name)
				}
				if name == "huge" && !errors.Is(err, ErrTooLarge) {
					t.Errorf("huge: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ReadStateFile blocked")
			}
		})
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := ReadStateFile(ctx, "/etc/hostname", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("past its context: %v", err)
	}
}

func TestLockoutHealsFromAnyFile(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	future := fmt.Sprintf("5 %d\n", now.Add(400*24*time.Hour).Unix())
	right := func() (bool, error) { return true, nil }
	for name, mk := range hostileStateFiles(t, future) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "attempts")
			mk(path)
			l := NewLockout(path, 5)
			done := make(chan Attempt, 1)
			go func() {
				a, err := l.Try(now, right)
				if err != nil && name != "a folder" {
					t.Errorf("Try: %v", err)
				}
				done <- a
			}()
			var a Attempt
			select {
			case a = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the PIN check hangs on the attempts file")
			}
			if name == "a folder" {
				// Nothing can be written over a folder: refused, and said.
				if a.OK {
					t.Error("a folder as the attempts file let the PIN through")
				}
				return
			}
			// Never a clean slate, never more than the longest lock-out.
			longest := time.Hour
			if name != "future-dated" {
				longest = firstLockout
			}
			if !a.Refused || a.Until.Sub(now) > longest || a.Until.Before(now) {
				t.Fatalf("first attempt: %+v, want refused for at most %v", a, longest)
			}
			// Rewritten once as that dated lock: a plain small file now.
			fi, err := os.Lstat(path)
			if err != nil || !fi.Mode().IsRegular() || fi.Size() > 64 {
				t.Fatalf("after the first read: %v %v", fi, err)
			}
			again, _ := NewLockout(path, 5).State()
			if !again.Until.Equal(a.Until) {
				t.Errorf("a second read moved the lock from %v to %v", a.Until, again.Until)
			}
			// And it ends.
			ok, err := NewLockout(path, 5).Try(a.Until, right)
			if err != nil || !ok.OK {
				t.Errorf("after the lock: %+v %v", ok, err)
			}
			if name == "a symlink to a file" {
				if b, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "elsewhere")); string(b) != "0 0\n" {
					t.Errorf("the link's target was written: %q", b)
				}
			}
		})
	}
}

func TestLockoutClockSteppedBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "attempts")
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	l := NewLockout(path, 1)
	if a, _ := l.Try(now, func() (bool, error) { return false, nil }); !a.NewLock {
		t.Fatalf("no lock: %+v", a)
	}
	// The clock goes back a day: the stored lock is now a day and some
	// seconds away; it counts for an hour at most.
	back := now.Add(-24 * time.Hour)
	a, err := l.Try(back, func() (bool, error) { return true, nil })
	if err != nil || !a.Refused || a.Until.Sub(back) > time.Hour {
		t.Fatalf("after the step: %+v %v", a, err)
	}
	if ok, _ := l.Try(back.Add(time.Hour), func() (bool, error) { return true, nil }); !ok.OK {
		t.Errorf("an hour later: %+v", ok)
	}
}

func TestSymlinkedLogIsRefused(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "var", "lib", "borne")
	os.MkdirAll(state, 0o750)
	elsewhere := filepath.Join(dir, "elsewhere", "usage.db")
	path := filepath.Join(state, "usage.db")
	// A dangling link: SQLite would create its target.
	if err := os.Symlink(elsewhere, path); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), "symbolic link (to "+elsewhere+")") {
		t.Errorf("dangling link: %v", err)
	}
	if _, err := os.Lstat(elsewhere); err == nil {
		t.Error("the link's target was created")
	}
	if _, err := OpenExisting(path); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("tools on a dangling link: %v", err)
	}
	// A link to a real log: refused too, and the log is untouched.
	real := filepath.Join(dir, "real.db")
	s, err := Open(real)
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, s, Event{Kind: KindShellStarted})
	s.Close()
	os.Remove(path)
	os.Symlink(real, path)
	if _, err := Open(path); err == nil {
		t.Error("a symlinked log opened")
	}
	if _, err := ExportFile(bg, path, io.Discard, ExportOptions{}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("export through a link: %v", err)
	}
	// Its -wal as a link, where the log itself is a file.
	os.Remove(path)
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	os.Remove(path + "-wal")
	os.Symlink(filepath.Join(dir, "stolen-wal"), path+"-wal")
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "usage.db-wal is a symbolic link") {
		t.Errorf("symlinked -wal: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "stolen-wal")); err == nil {
		t.Error("the -wal link's target was created")
	}
}
