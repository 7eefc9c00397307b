package usage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"
)

// ErrClosed is returned by a Store's methods after Close.
var ErrClosed = errors.New("usage log is closed")

//go:embed migrations/*.sql
var embeddedMigrations embed.FS

// migrationFiles holds the migrations/ folder; tests swap it.
var migrationFiles fs.FS = embeddedMigrations

// Connection settings. The writer is the only connection that changes the
// file: WAL so that readers never block it, synchronous=FULL so that an
// event is on disk when Record returns, BEGIN IMMEDIATE so that a write
// transaction takes the lock up front instead of failing half-way.
const (
	// Incremental auto-vacuum lets the daily purge give space back to the
	// disk in small steps instead of rewriting the whole file; it only
	// takes effect on a new file (Purge converts an older one once).
	writerParams = "_journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000&_foreign_keys=on&_txlock=immediate&_auto_vacuum=incremental"
	// Readers open the file read-only and cannot write even by mistake; in
	// WAL mode they read a snapshot while the writer goes on.
	readerParams = "mode=ro&_query_only=1&_busy_timeout=5000"
	maxReaders   = 4
)

const insertSQL = `INSERT INTO events (id, at, site, place, kind, operator, outcome, duration_ms, detail)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// Store is the usage log of one kiosk. It is safe for concurrent use.
type Store struct {
	path   string
	w      *sql.DB   // the single writer connection
	r      *sql.DB   // read-only pool: export, figures, sync
	insert *sql.Stmt // prepared once on the writer
	now    func() time.Time

	mu    sync.Mutex // guards site and place
	site  string
	place func(time.Time) string

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Open opens the usage log at path, creating the file and its folder if
// needed, and brings its schema up to date. A log written by a newer borne
// is refused.
func Open(path string) (*Store, error) {
	s, err := open(path)
	if err != nil && !errors.Is(err, syscall.EROFS) {
		// SQLite says "unable to open database file" when it cannot make
		// its -wal and -shm files: name the real cause.
		if abs, aerr := filepath.Abs(path); aerr == nil && readOnlyFS(filepath.Dir(abs)) {
			err = fmt.Errorf("usage log %s: the disk is mounted read-only (%w)", path, syscall.EROFS)
		}
	}
	return s, err
}

// readOnlyFS reports whether the file system holding dir, or its closest
// existing parent, is mounted read-only.
func readOnlyFS(dir string) bool {
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err == nil {
			return st.Flags&stRdonly != 0
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}

// stRdonly is ST_RDONLY, the read-only flag of statfs.
const stRdonly = 1

func open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("usage log: no database file given (set usage.database or --db)")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("usage log %s: %v", path, err)
	}
	dir := filepath.Dir(abs)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("usage log %s: cannot create the folder %s: %w", path, dir, pathErr(err))
	}
	if err := noLinks(path, abs); err != nil {
		return nil, err
	}
	// Create the file ourselves so that it is not world-readable; SQLite
	// gives its -wal and -shm files the same mode.
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("usage log %s: %w (check the folder is writable by the kiosk user)", path, pathErr(err))
	} else if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("usage log %s: is a folder, not a database file (check usage.database or --db)", path)
	}

	s := &Store{path: path, now: time.Now}
	ok := false
	defer func() {
		if !ok {
			s.closeAll()
		}
	}()

	s.w, err = sql.Open("sqlite3", dsn(abs, writerParams))
	if err != nil {
		return nil, s.describe("", err)
	}
	// One connection, never recycled: SQLite allows one writer at a time,
	// and serialising here avoids "database is locked" between our own
	// goroutines.
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)

	ctx := context.Background()
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return nil, s.describe("", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("usage log %s: the file is in journal mode %q, not WAL (is it on a network or read-only file system?)", path, mode)
	}
	var syncMode int
	if err := s.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return nil, s.describe("", err)
	}
	if syncMode < 2 {
		return nil, fmt.Errorf("usage log %s: synchronous is %d, not FULL (2): events could be lost on power loss", path, syncMode)
	}
	if err := migrate(ctx, s.w, path); err != nil {
		return nil, err
	}
	if s.insert, err = s.w.PrepareContext(ctx, insertSQL); err != nil {
		return nil, s.describe("", err)
	}

	if s.r, err = openReader(abs); err != nil {
		return nil, s.describe("", err)
	}
	s.r.SetMaxOpenConns(maxReaders)
	if err := s.r.PingContext(ctx); err != nil {
		return nil, s.describe("", err)
	}
	ok = true
	return s, nil
}

// noLinks refuses a log whose file, or one SQLite keeps beside it, is a
// symbolic link: SQLite would follow it and create or write the log, its
// journal or its lock elsewhere than the state folder (a dangling link
// makes a new file wherever it points).
func noLinks(path, abs string) error {
	for _, p := range []string{abs, abs + "-wal", abs + "-shm", abs + "-journal", lockPath(abs)} {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		to, _ := os.Readlink(p)
		if p == abs {
			return fmt.Errorf("usage log %s: is a symbolic link (to %s), not a file: point usage.database or --db at the log itself, in the kiosk's state folder", path, to)
		}
		return fmt.Errorf("usage log %s: %s is a symbolic link (to %s): remove it; SQLite would write the log's own files through it", path, filepath.Base(p), to)
	}
	return nil
}

// openReader opens a read-only pool on the file at abs. It never creates
// the file.
func openReader(abs string) (*sql.DB, error) {
	return sql.Open("sqlite3", dsn(abs, readerParams))
}

// Path returns the path the log was opened with.
func (s *Store) Path() string { return s.path }

// SetStamp sets the site id, and the function that gives the place (the
// commune where the kiosk stands at a given time), that Record puts into
// events which leave them empty. place may be nil.
func (s *Store) SetStamp(site string, place func(time.Time) string) {
	s.mu.Lock()
	s.site, s.place = site, place
	s.mu.Unlock()
}

func (s *Store) stamp() (string, func(time.Time) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.site, s.place
}

// Close closes the log. It is safe to call on a nil Store and more than once.
func (s *Store) Close() error {
	if s == nil {
		return nil
	}
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if err := s.closeAll(); err != nil {
			s.closeErr = s.describe("closing", err)
		}
	})
	return s.closeErr
}

// closeAll closes the readers first so that the writer, closing last,
// checkpoints the WAL back into the database file.
func (s *Store) closeAll() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.insert != nil {
		errs = append(errs, s.insert.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}

// loadMigrations returns the embedded migrations in order.
func loadMigrations() ([]Migration, error) {
	ms, err := LoadMigrations(migrationFiles)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", "usage", err)
	}
	return ms, nil
}

// SchemaVersion is the schema version this build writes (PRAGMA user_version).
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate applies the missing migrations in one transaction, so that a
// failure or a power cut leaves the schema as it was.
func migrate(ctx context.Context, db *sql.DB, path string) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	var newer error
	err = withTx(ctx, db, nil, func(tx *sql.Tx) error {
		var have int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
			return err
		}
		if have > len(ms) {
			newer = fmt.Errorf("usage log %s: written by a newer borne (schema version %d, this one knows up to %d); update borne instead of opening it with this version", path, have, len(ms))
			return newer
		}
		for _, m := range ms[have:] {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		if have == len(ms) {
			return nil
		}
		// user_version lives in the file header and is part of the transaction.
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(ms)))
		return err
	})
	if err != nil && !errors.Is(err, newer) {
		return describe(path, "updating the schema", err)
	}
	return err
}

// dsn builds a go-sqlite3 URI for the absolute path abs.
func dsn(abs, params string) string {
	var b strings.Builder
	b.WriteString("file:")
	for i := 0; i < len(abs); i++ {
		switch c := abs[i]; c {
		case '%', '?', '#':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('?')
	b.WriteString(params)
	return b.String()
}

func (s *Store) describe(doing string, err error) error {
	return describe(s.path, doing, err)
}

// describe turns a SQLite error into one line naming the file and saying,
// where it can, what to check.
func describe(path, doing string, err error) error {
	if err == nil {
		return nil
	}
	prefix := "usage log " + path + ": "
	if doing != "" {
		prefix += doing + ": "
	}
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("%s%w", prefix, err)
	}
	hint := ""
	switch se.Code {
	case sqlite3.ErrCantOpen:
		hint = " (check the folder exists and is writable by the kiosk user)"
	case sqlite3.ErrPerm, sqlite3.ErrReadonly, sqlite3.ErrAuth:
		hint = " (check the file and its folder are writable by the kiosk user)"
	case sqlite3.ErrNotADB:
		hint = " (this file is not a SQLite database: check usage.database or --db)"
	case sqlite3.ErrCorrupt:
		hint = " (the file is damaged: keep a copy of it and of its -wal file, and call a technician)"
	case sqlite3.ErrFull:
		hint = " (the disk is full)"
	case sqlite3.ErrBusy, sqlite3.ErrLocked:
		hint = " (another program holds the log: is a second borne running?)"
	case sqlite3.ErrIoErr:
		hint = " (the disk reported an error)"
	}
	return fmt.Errorf("%s%w%s", prefix, err, hint)
}

// pathErr is the reason of a file system error without the path, which
// the caller already names, still wrapped for errors.Is.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// pathErrText is the reason of a file system error without the path,
// which the caller already names.
func pathErrText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
