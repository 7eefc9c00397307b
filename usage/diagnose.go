package usage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// lowSpace is the free space under which the log counts as full: a few
// hundred events, and room for SQLite's journal.
const lowSpace = 1 << 20

// Diagnosis is what borne doctor says of the usage log.
type Diagnosis struct {
	Exists bool
	// Reason is "" when the log can be written, else one of read_only,
	// disk_full, corrupt, io_error, cannot_open; Err says it in full.
	Reason    string
	Err       error
	FreeBytes uint64
	// Sync is read from the log when it could be; SyncErr says why not.
	Sync    SyncState
	SyncErr error
}

// Diagnose examines the log at dbPath without writing to it: the folder
// and its file system, free space, and the file's structure (a quick
// check, which reads the whole file). It can run while the kiosk writes.
func Diagnose(ctx context.Context, dbPath string) Diagnosis {
	var d Diagnosis
	if dbPath == "" {
		d.Reason, d.Err = "cannot_open", errors.New("no database file given (set usage.database)")
		return d
	}
	// A folder not made yet is made by the shell: judge the closest one
	// that exists.
	dir := filepath.Dir(dbPath)
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(dir, &sfs); err != nil {
		d.Reason, d.Err = "cannot_open", fmt.Errorf("the folder %s: %w", dir, pathErr(err))
		return d
	}
	d.FreeBytes = sfs.Bavail * uint64(sfs.Bsize)
	fi, err := os.Lstat(dbPath)
	d.Exists = err == nil
	abs, _ := filepath.Abs(dbPath)
	switch {
	case noLinks(dbPath, abs) != nil:
		d.Reason, d.Err = "cannot_open", noLinks(dbPath, abs)
		return d
	case sfs.Flags&stRdonly != 0:
		d.Reason, d.Err = "read_only", fmt.Errorf("the file system of %s is mounted read-only", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		d.Reason, d.Err = "cannot_open", fmt.Errorf("%s: %w", dbPath, pathErr(err))
	case err == nil && fi.IsDir():
		d.Reason, d.Err = "cannot_open", fmt.Errorf("%s is a folder, not a database file", dbPath)
	case syscall.Access(dir, 2) != nil: // W_OK: SQLite writes its -wal and -shm there
		d.Reason, d.Err = "read_only", fmt.Errorf("the folder %s is not writable", dir)
	case d.Exists && syscall.Access(dbPath, 2) != nil:
		d.Reason, d.Err = "read_only", fmt.Errorf("%s is not writable", dbPath)
	case d.FreeBytes < lowSpace:
		d.Reason, d.Err = "disk_full", fmt.Errorf("only %d bytes free on the disk of %s", d.FreeBytes, dir)
	}
	if !d.Exists {
		d.SyncErr = errors.New("no log yet")
		return d
	}
	db, err := openReadOnly(ctx, dbPath)
	if err != nil {
		if d.Reason == "" {
			d.Reason, d.Err = storageReason(err), err
		}
		d.SyncErr = err
		return d
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&check); err != nil || check != "ok" {
		if err == nil {
			err = fmt.Errorf("the quick check found: %s", check)
		}
		d.Reason, d.Err = "corrupt", describe(dbPath, "checking the file", err)
	}
	d.Sync, d.SyncErr = readSyncState(ctx, db)
	return d
}
