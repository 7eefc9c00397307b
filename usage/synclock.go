package usage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrSyncBusy is wrapped by the error Sync returns when another sync of
// the same log is running, in this process or another.
var ErrSyncBusy = errors.New("another sync of this usage log is running")

// syncLock is an exclusive flock on a file beside the log. The kernel
// drops it when its holder dies, so a sync killed half-way never blocks
// the next one, and it works across processes (the kiosk's background
// sync and a technician's borne logs sync) as well as between goroutines,
// since each holder opens the file anew.
type syncLock struct{ f *os.File }

func lockPath(dbPath string) string { return dbPath + ".sync-lock" }

func lockSync(dbPath string) (*syncLock, error) {
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		return nil, fmt.Errorf("usage log %s: %v", dbPath, err)
	}
	p := lockPath(abs)
	f, err := OpenStateFile(p, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("usage log %s: cannot create the sync lock %s: %v", dbPath, p, pathErrText(err))
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		holder := ""
		if b, rerr := ReadStateFile(context.Background(), p, 64); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf(" (process %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("usage log %s: %w%s", dbPath, ErrSyncBusy, holder)
		}
		return nil, fmt.Errorf("usage log %s: cannot lock %s: %v", dbPath, p, err)
	}
	// Who holds it, for the message another sync prints; best effort.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &syncLock{f: f}, nil
}

// unlock releases the lock. The file stays: removing it would let two
// syncs lock two different files of the same name.
func (l *syncLock) unlock() {
	if l == nil || l.f == nil {
		return
	}
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}
