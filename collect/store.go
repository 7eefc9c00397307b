// Package collect is the Département's collector: the server side of the
// kiosks' sync protocol (DESIGN.md, "Sync"), the fleet's events on SQLite
// or PostgreSQL, and the fleet's figures and health.
package collect

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/mattn/go-sqlite3"

	"github.com/loiret/borne/usage"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// SQLite settings, as the kiosk's log (usage/store.go): one writer, WAL,
// synchronous=FULL so an acknowledged batch is on disk, BEGIN IMMEDIATE.
// The writer keeps 64 MiB of pages (SQLite's default is 2 MiB): the
// events' random ids spread each batch over the whole primary key, and
// the indexes' pages would otherwise be read again for every batch.
const (
	sqliteWriter = "_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_txlock=immediate&_cache_size=-65536"
	sqliteReader = "mode=ro&_query_only=1&_busy_timeout=10000"
)

// The writer copies the log back into the database every 256 MiB of log
// rather than SQLite's 4 MiB: a group of batches rewrites most pages of
// the id index, and a checkpoint after each group wrote them all again
// (a quarter of the time of a large sync). Each checkpoint now writes the
// last copy of a page once; the log is cut back to 64 MiB after it.
const writerDriver = "sqlite3-collect-writer"

func init() {
	sql.Register(writerDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 65536; PRAGMA journal_size_limit = 67108864; PRAGMA temp_store = MEMORY", nil)
		return err
	}})
}

// Store is the fleet's events on one engine. Safe for concurrent use.
type Store struct {
	name string  // the file, or the URL without its password, for errors
	pg   bool    // PostgreSQL; SQLite otherwise
	w    *sql.DB // SQLite: the single writer; PostgreSQL: the pool
	r    *sql.DB // SQLite: a read-only pool; PostgreSQL: w
	now  func() time.Time

	// The writer of batches (writeLoop).
	queue   chan *pending
	quit    chan struct{}
	writers sync.WaitGroup
	closing sync.Once
}

// Open opens the store database names (a SQLite file, created with its
// folder if needed, or a postgres:// URL) and brings its schema up to
// date.
func Open(ctx context.Context, database string) (*Store, error) {
	s := &Store{name: database, pg: isPostgresURL(database), now: time.Now}
	var err error
	if s.pg {
		err = s.openPostgres(ctx, database)
	} else {
		err = s.openSQLite(ctx, database)
	}
	if err == nil {
		err = s.migrate(ctx)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.queue, s.quit = make(chan *pending), make(chan struct{})
	// SQLite has one writing connection. PostgreSQL takes a second group
	// while the first waits for its commit to reach the disk.
	writers := 1
	if s.pg {
		writers = 2
	}
	for range writers {
		s.writers.Go(s.writeLoop)
	}
	return s, nil
}

func (s *Store) openPostgres(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("database: %q is not a PostgreSQL URL: %v", redact(url), err)
	}
	s.name = redact(url)
	s.w = stdlib.OpenDB(*cfg)
	s.w.SetMaxOpenConns(16)
	s.w.SetMaxIdleConns(16)
	s.r = s.w
	if err := s.w.PingContext(ctx); err != nil {
		return s.describe("connecting", err)
	}
	return nil
}

func (s *Store) openSQLite(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("database %s: %v", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return fmt.Errorf("database %s: cannot create its folder: %v", path, plainErr(err))
	}
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640); err == nil {
		f.Close()
	}
	if s.w, err = sql.Open(writerDriver, sqliteDSN(abs, sqliteWriter)); err != nil {
		return s.describe("", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return s.describe("", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("database %s: journal mode %q, not WAL (is it on a network file system?)", path, mode)
	}
	var syncMode int
	if err := s.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return s.describe("", err)
	}
	if syncMode < 2 {
		return fmt.Errorf("database %s: synchronous is %d, not FULL (2): acknowledged batches could be lost on power loss", path, syncMode)
	}
	if s.r, err = sql.Open("sqlite3", sqliteDSN(abs, sqliteReader)); err != nil {
		return s.describe("", err)
	}
	s.r.SetMaxOpenConns(4)
	return nil
}

// Close closes the store; safe on nil and twice.
func (s *Store) Close() error {
	if s == nil {
		return nil
	}
	s.closing.Do(func() {
		if s.quit != nil {
			close(s.quit)
		}
		s.writers.Wait()
	})
	var errs []error
	if s.r != nil && s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	s.r, s.w = nil, nil
	return errors.Join(errs...)
}

// Engine names the engine: "sqlite" or "postgres".
func (s *Store) Engine() string {
	if s.pg {
		return "postgres"
	}
	return "sqlite"
}

// loadMigrations returns the embedded migrations in order.
func loadMigrations() ([]usage.Migration, error) {
	ms, err := usage.LoadMigrations(migrationFiles)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", "collect", err)
	}
	return ms, nil
}

// migrate applies the missing migrations in one transaction, the same
// files on both engines; the version is kept in a table both have. On
// PostgreSQL an advisory lock keeps two collectors starting together from
// migrating twice.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	var newer error
	err = s.withTx(ctx, func(tx *sql.Tx) error {
		if s.pg {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(4242015)`); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&have); err != nil {
			return err
		}
		if have > len(ms) {
			newer = fmt.Errorf("database %s: written by a newer borne (schema version %d, this one knows up to %d): update borne", s.name, have, len(ms))
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
		if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_version (version) VALUES (?)`), len(ms))
		return err
	})
	if err != nil && !errors.Is(err, newer) {
		return s.describe("updating the schema", err)
	}
	return err
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int {
	ms, _ := loadMigrations()
	return len(ms)
}

// withTx runs f in one transaction on the writer.
func (s *Store) withTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// q writes a query's ? placeholders as $1, $2… for PostgreSQL. Queries
// here hold no ? in their literals.
func (s *Store) q(query string) string {
	if !s.pg {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (s *Store) describe(doing string, err error) error {
	if err == nil {
		return nil
	}
	prefix := "database " + s.name + ": "
	if doing != "" {
		prefix += doing + ": "
	}
	var se sqlite3.Error
	var pe *pgconn.PgError
	hint := ""
	switch {
	case errors.As(err, &se):
		switch se.Code {
		case sqlite3.ErrCantOpen, sqlite3.ErrPerm, sqlite3.ErrReadonly:
			hint = " (check the file and its folder are writable by the collector's user)"
		case sqlite3.ErrNotADB:
			hint = " (this file is not a SQLite database: check database in the config)"
		case sqlite3.ErrFull:
			hint = " (the disk is full)"
		}
	case errors.As(err, &pe):
		switch pe.Code {
		case "28000", "28P01":
			hint = " (check the user in the URL and pg_hba.conf)"
		case "3D000":
			hint = " (create the database first: createdb)"
		}
	}
	return fmt.Errorf("%s%w%s", prefix, err, hint)
}

// redact drops a password from a URL, for messages.
func redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@")
	if at < 0 {
		return url
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	return scheme + "://" + user + rest[at:]
}

func sqliteDSN(abs, params string) string {
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
	return b.String() + "?" + params
}
