package usage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// PurgeOptions says what Purge deletes.
type PurgeOptions struct {
	Retention time.Duration // events older than this go, once they have left the kiosk
	Now       time.Time     // zero: the store's clock
}

// PurgeResult tells what a purge did.
type PurgeResult struct {
	Cutoff  time.Time // events before it were candidates
	Deleted int64     // events deleted
	// Unsent counts the deleted events that had never left the kiosk:
	// older than twice the retention, they go all the same, so that a log
	// nobody collects cannot fill the disk.
	Unsent int64
	// Kept counts the events older than the retention kept because they
	// have not been synced or exported yet.
	Kept       int64
	FreedBytes int64 // how much smaller the files are
}

// purgeBatch bounds each delete transaction, so that the kiosk's own
// writes never wait long behind a purge.
const purgeBatch = 2000

// Purge deletes the events older than o.Retention that have left the
// kiosk (acknowledged by the collector, or written by a complete export;
// see MarkExported), and any event older than twice the retention; then
// it gives the space back to the disk. It deletes in small transactions
// and can run while the kiosk records.
func (s *Store) Purge(ctx context.Context, o PurgeOptions) (PurgeResult, error) {
	var res PurgeResult
	if s == nil || s.closed.Load() {
		return res, ErrClosed
	}
	if o.Retention <= 0 {
		return res, errors.New("usage purge: the retention must be positive (usage.retention)")
	}
	now := o.Now
	if now.IsZero() {
		now = s.now()
	}
	res.Cutoff = now.Add(-o.Retention)
	cutoff, hard := formatCeil(res.Cutoff), formatCeil(now.Add(-2*o.Retention))
	before := s.fileSize()

	for first := true; ; first = false {
		var n int64
		err := withTx(ctx, s.w, nil, func(tx *sql.Tx) error {
			left, err := leftSeq(ctx, tx)
			if err != nil {
				return err
			}
			if first {
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE at < ? AND seq > ?`, hard, left).Scan(&res.Unsent); err != nil {
					return err
				}
			}
			r, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq IN (
				SELECT seq FROM events WHERE at < ? AND (seq <= ? OR at < ?) ORDER BY seq LIMIT ?)`,
				cutoff, left, hard, purgeBatch)
			if err != nil {
				return err
			}
			n, err = r.RowsAffected()
			return err
		})
		if err != nil {
			return res, s.describe(fmt.Sprintf("deleting events before %s", cutoff), err)
		}
		res.Deleted += n
		if n < purgeBatch {
			break
		}
	}
	err := withTx(ctx, s.w, nil, func(tx *sql.Tx) error {
		left, err := leftSeq(ctx, tx)
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE at < ? AND seq > ?`, cutoff, left).Scan(&res.Kept); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, setSQL, metaLastPurge, strconv.FormatInt(now.Unix(), 10))
		return err
	})
	if err != nil {
		return res, s.describe("noting the purge", err)
	}
	if res.Deleted > 0 {
		if err := s.reclaim(ctx); err != nil {
			return res, s.describe("giving the space back to the disk", err)
		}
	}
	res.FreedBytes = max(before-s.fileSize(), 0)
	return res, nil
}

// leftSeq is the seq up to which every event has left the kiosk.
func leftSeq(ctx context.Context, tx *sql.Tx) (int64, error) {
	cursor, err := metaInt(ctx, tx, metaSyncCursor)
	if err != nil {
		return 0, err
	}
	exported, err := metaInt(ctx, tx, metaExported)
	return max(cursor, exported), err
}

// reclaim returns the free pages to the file system. A log made before
// incremental auto-vacuum was set is rewritten once to switch it on;
// afterwards the free pages go a few at a time, each step a short write
// that lets the kiosk's own writes through. The WAL is then truncated.
func (s *Store) reclaim(ctx context.Context) error {
	var mode int
	if err := s.w.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		return err
	}
	if mode != 2 {
		if _, err := s.w.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
			return err
		}
		if _, err := s.w.ExecContext(ctx, "VACUUM"); err != nil {
			return err
		}
	} else {
		for last := -1; ; {
			var free int
			if err := s.w.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free); err != nil {
				return err
			}
			if free == 0 || free == last {
				break
			}
			last = free
			// Stepped to the end through Query: the pragma frees one page
			// per step.
			rows, err := s.w.QueryContext(ctx, "PRAGMA incremental_vacuum(256)")
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
	}
	// A reader still on an old snapshot makes this a partial checkpoint,
	// which is fine: the next one finishes the work.
	_, err := s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// fileSize is the size of the log with its WAL.
func (s *Store) fileSize() int64 {
	var n int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
