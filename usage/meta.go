package usage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// Keys of the meta table. Seqs only ever move forward: a late writer
// (an old sync finishing after a newer one) can never move them back.
const (
	metaSyncCursor = "sync_cursor"    // highest seq a collector acknowledged
	metaLastSync   = "last_sync_at"   // when a collector last acknowledged a batch
	metaExported   = "exported_seq"   // highest seq every event up to which left on a file
	metaLastPurge  = "last_purge_at"  // when the retention purge last ran to the end
	metaGeneration = "log_generation" // the log's id, made when it was created (migration 0003)
)

// raiseSQL sets an integer meta value unless the stored one is already
// higher.
const raiseSQL = `INSERT INTO meta (key, value) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value
WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)`

const setSQL = `INSERT INTO meta (key, value) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value`

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// metaInt reads an integer meta value, 0 when absent.
func metaInt(ctx context.Context, q querier, key string) (int64, error) {
	var v sql.NullString
	err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !v.Valid) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v.String, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("meta %s: %q is not a number", key, v.String)
	}
	return n, nil
}

// Generation is the log's generation id: a UUID made when the log was
// created, sent with every sync batch so that a collector tells a log
// recreated after corruption (seq back to 1) from one that lost events.
func (s *Store) Generation(ctx context.Context) (string, error) {
	if s == nil || s.closed.Load() {
		return "", ErrClosed
	}
	var g sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, metaGeneration).Scan(&g)
	if err == nil && !uuidPattern.MatchString(g.String) {
		err = fmt.Errorf("the log's generation %q is not a UUID", g.String)
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = errors.New("the log has no generation id")
	}
	return g.String, s.describe("reading the log's generation", err)
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// metaTime reads a time kept as Unix seconds, zero when absent.
func metaTime(ctx context.Context, q querier, key string) (time.Time, error) {
	n, err := metaInt(ctx, q, key)
	if err != nil || n == 0 {
		return time.Time{}, err
	}
	return time.Unix(n, 0).UTC(), nil
}

// SyncState is where the log stands with respect to the places its
// events go: the collector and exported files.
type SyncState struct {
	LastSeq   int64     // highest seq in the log
	Cursor    int64     // every event up to this seq was acknowledged by the collector
	Exported  int64     // every event up to this seq was written by a complete export
	Unsynced  int64     // events in the log after Cursor
	LastSync  time.Time // last acknowledgement by the collector; zero: never
	LastPurge time.Time // last complete retention purge; zero: never
}

// Left is the seq up to which every event has left the kiosk one way or
// the other.
func (st SyncState) Left() int64 { return max(st.Cursor, st.Exported) }

// SyncState reads the sync cursor and the export mark, in one snapshot.
func (s *Store) SyncState(ctx context.Context) (SyncState, error) {
	if s == nil || s.closed.Load() {
		return SyncState{}, ErrClosed
	}
	st, err := readSyncState(ctx, s.r)
	return st, s.describe("reading the sync state", err)
}

func readSyncState(ctx context.Context, db *sql.DB) (SyncState, error) {
	var st SyncState
	err := withTx(ctx, db, &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) error {
		var err error
		if st.Cursor, err = metaInt(ctx, tx, metaSyncCursor); err != nil {
			return err
		}
		if st.Exported, err = metaInt(ctx, tx, metaExported); err != nil {
			return err
		}
		if st.LastSync, err = metaTime(ctx, tx, metaLastSync); err != nil {
			return err
		}
		if st.LastPurge, err = metaTime(ctx, tx, metaLastPurge); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&st.LastSeq); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE seq > ?`, st.Cursor).Scan(&st.Unsynced)
	})
	return st, err
}

// MarkExported notes in the log at dbPath that an export holding every
// event after sinceSeq up to lastSeq is complete (written, synced and
// renamed), so that the retention purge may delete them. The mark only
// moves when the export continues what had already left the kiosk by
// sync or export: an export from a later seq leaves a gap that must not
// count as exported. Nothing is written when lastSeq <= sinceSeq.
func MarkExported(ctx context.Context, dbPath string, sinceSeq, lastSeq int64) error {
	if lastSeq <= sinceSeq {
		return nil
	}
	db, err := openWriterConn(dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	err = withTx(ctx, db, nil, func(tx *sql.Tx) error {
		cursor, err := metaInt(ctx, tx, metaSyncCursor)
		if err != nil {
			return err
		}
		exported, err := metaInt(ctx, tx, metaExported)
		if err != nil {
			return err
		}
		if sinceSeq > max(cursor, exported) {
			return nil
		}
		_, err = tx.ExecContext(ctx, raiseSQL, metaExported, strconv.FormatInt(lastSeq, 10))
		return err
	})
	return describe(dbPath, "noting the export", err)
}

// openWriterConn opens one writing connection on an existing log, for
// the small updates other processes than the kiosk make (the export mark).
// It neither creates the file nor changes its schema.
func openWriterConn(dbPath string) (*sql.DB, error) {
	abs, err := existingLog(dbPath)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite3", dsn(abs, "_busy_timeout=5000&_txlock=immediate&_synchronous=FULL"))
	if err != nil {
		return nil, describe(dbPath, "", err)
	}
	db.SetMaxOpenConns(1)
	var version int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		db.Close()
		return nil, describe(dbPath, "", err)
	}
	if err := checkVersion(dbPath, version); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// existingLog checks that dbPath names a file and returns its absolute
// path: the tools that read a log must never create an empty one.
func existingLog(dbPath string) (string, error) {
	if dbPath == "" {
		return "", errors.New("usage log: no database file given (set usage.database or --db)")
	}
	fi, err := os.Lstat(dbPath)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		to, _ := os.Readlink(dbPath)
		return "", fmt.Errorf("usage log %s: is a symbolic link (to %s), not a file: give the log itself", dbPath, to)
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("usage log %s: no such file (check --db or usage.database)", dbPath)
	case err != nil:
		return "", fmt.Errorf("usage log %s: %v", dbPath, pathErrText(err))
	case fi.IsDir():
		return "", fmt.Errorf("usage log %s: is a folder, not a database file", dbPath)
	}
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		return "", fmt.Errorf("usage log %s: %v", dbPath, err)
	}
	return abs, nil
}

func checkVersion(dbPath string, version int) error {
	switch known := SchemaVersion(); {
	case version == 0:
		return fmt.Errorf("usage log %s: not a borne usage log (no schema)", dbPath)
	case version > known:
		return fmt.Errorf("usage log %s: written by a newer borne (schema version %d, this one knows up to %d); use that version", dbPath, version, known)
	}
	return nil
}

// OpenExisting opens the log at path like Open, but refuses to create it:
// for the tools (sync, purge) that would otherwise leave an empty log
// where a wrong path was given.
func OpenExisting(path string) (*Store, error) {
	if _, err := existingLog(path); err != nil {
		return nil, err
	}
	return Open(path)
}

// openReadOnly opens an existing log read-only, checking its schema, for
// tools that only read it while the kiosk writes.
func openReadOnly(ctx context.Context, dbPath string) (*sql.DB, error) {
	abs, err := existingLog(dbPath)
	if err != nil {
		return nil, err
	}
	db, err := openReader(abs)
	if err != nil {
		return nil, describe(dbPath, "", err)
	}
	db.SetMaxOpenConns(1)
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		db.Close()
		return nil, describe(dbPath, "", err)
	}
	if err := checkVersion(dbPath, version); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
