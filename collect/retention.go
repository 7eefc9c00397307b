package collect

import (
	"context"
	"database/sql"
	"time"

	"github.com/loiret/borne/usage"
)

// Purge deletes the events older than retention, and recounts the logs
// they came from and the roll-up's days, in one transaction. It returns how many it deleted.
func (s *Store) Purge(ctx context.Context, retention time.Duration) (int64, error) {
	cutoff := s.now().Add(-retention)
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM events WHERE at < ?`), usage.FormatCeil(cutoff))
		if err != nil {
			return err
		}
		if n, _ = res.RowsAffected(); n == 0 {
			return nil
		}
		if err := s.purgeDays(ctx, tx, cutoff); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE generations SET
	events = (SELECT COUNT(*) FROM events e WHERE e.site = generations.site AND e.generation = generations.generation),
	min_seq = COALESCE((SELECT MIN(seq) FROM events e WHERE e.site = generations.site AND e.generation = generations.generation), 0),
	max_seq = COALESCE((SELECT MAX(seq) FROM events e WHERE e.site = generations.site AND e.generation = generations.generation), 0),
	last_at = COALESCE((SELECT MAX(at) FROM events e WHERE e.site = generations.site AND e.generation = generations.generation), '')`); err != nil {
			return err
		}
		// A log with nothing left that has not synced within the
		// retention is gone for good.
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM generations WHERE events = 0 AND last_sync < ?`), cutoff.Unix())
		return err
	})
	if err != nil {
		return 0, s.describe("purging past the retention", err)
	}
	return n, nil
}
