package collect

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/loiret/borne/usage"
)

// Ingest stores a checked batch of site's log generation, whole or not at
// all, and counts its new events in the roll-up: events whose id is held
// already are skipped. It returns how many events of the batch the store
// now holds (all of them) and how many it did not hold before.
func (s *Store) Ingest(ctx context.Context, site, generation string, events []Event) (held, added int, err error) {
	p := &pending{ctx: ctx, site: site, generation: generation, events: events, now: s.now().Unix(), done: make(chan struct{})}
	select {
	case s.queue <- p:
	case <-s.quit:
		return 0, 0, s.describe("storing a batch", errClosed)
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	<-p.done
	if p.err != nil {
		return 0, 0, s.describe("storing a batch", p.err)
	}
	return len(events), p.added, nil
}

// pending is a batch waiting for the writer.
type pending struct {
	ctx              context.Context
	site, generation string
	events           []Event
	now              int64
	added            int
	err              error
	done             chan struct{}
}

// maxGroupEvents bounds the events of one group commit.
const maxGroupEvents = 50_000

var errClosed = errors.New("the collector is stopping")

// writeLoop is a writer of batches (SQLite has one, its only writing
// connection; PostgreSQL two, so that a group is copied while the one
// before waits for its fsync). The batches of kiosks syncing at once go
// into one transaction (a group commit): on SQLite each commit writes
// every page its batches touched and waits for the disk, and the events'
// random ids spread a batch of a thousand over about as many pages of the
// id index, so that one commit per batch wrote most of the index again
// and again; on PostgreSQL each batch paid its own transaction, temporary
// table and INSERT. A batch is stored whole or not at all, and answered
// only once its group is on disk.
func (s *Store) writeLoop() {
	for {
		var first *pending
		select {
		case first = <-s.queue:
		case <-s.quit:
			return
		}
		group, n := []*pending{first}, len(first.events)
	gather:
		for n < maxGroupEvents {
			select {
			case p := <-s.queue:
				group = append(group, p)
				n += len(p.events)
			default:
				break gather
			}
		}
		s.commitGroup(group)
	}
}

func (s *Store) commitGroup(group []*pending) {
	var err error
	if s.pg {
		err = s.commitPostgres(group)
	} else {
		err = s.commitSQLite(group)
	}
	for _, p := range group {
		if err != nil && p.err == nil {
			p.err, p.added = err, 0
		}
		close(p.done)
	}
}

// newRows sums up the rows a batch added, for its log's row.
type newRows struct {
	count    int
	min, max int64
	lastAt   string
}

func (n *newRows) merge(o *newRows) {
	if o.count == 0 {
		return
	}
	if n.count == 0 || o.min < n.min {
		n.min = o.min
	}
	n.max = max(n.max, o.max)
	n.lastAt = max(n.lastAt, o.lastAt)
	n.count += o.count
}

func (n *newRows) add(seq int64, at string) {
	if n.count == 0 || seq < n.min {
		n.min = seq
	}
	n.max = max(n.max, seq)
	n.lastAt = max(n.lastAt, at)
	n.count++
}

// counts gathers what a group's stored batches add to the roll-up and to
// their logs' rows, written once before the commit.
type counts struct {
	days *tally // nil: no roll-up kept
	logs map[logKey]*logDelta
}

type logKey struct{ site, generation string }

type logDelta struct {
	batches int
	now     int64
	rows    newRows
}

// groupCounts starts a group's counts; on PostgreSQL it holds the
// roll-up's zone row until the commit (see dailyZone).
func (s *Store) groupCounts(ctx context.Context, tx execer) (*counts, error) {
	c := &counts{logs: map[logKey]*logDelta{}}
	zone, err := s.dailyZone(ctx, tx, true)
	if err != nil || zone == "" {
		return c, err
	}
	loc, err := loadZone(zone)
	if err != nil {
		return nil, err
	}
	c.days = newTally(loc)
	return c, nil
}

// keep counts a stored batch: its new rows and the new events in them.
func (c *counts) keep(p *pending, nw *newRows, added []counted) error {
	k := logKey{p.site, p.generation}
	d := c.logs[k]
	if d == nil {
		d = &logDelta{}
		c.logs[k] = d
	}
	d.batches++
	d.now = max(d.now, p.now)
	d.rows.merge(nw)
	p.added = nw.count
	if c.days == nil {
		return nil
	}
	for _, e := range added {
		if err := c.days.add(e); err != nil {
			return err
		}
	}
	return nil
}

func (c *counts) flush(ctx context.Context, s *Store, tx execer) error {
	if c.days != nil {
		if err := c.days.write(ctx, tx, s.q); err != nil {
			return err
		}
	}
	return s.noteLogs(ctx, tx, c.logs)
}

const insertEventSQL = `INSERT INTO events (id, site, generation, seq, at, place, kind, operator, outcome, duration_ms, score, detail, received)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

func (s *Store) commitSQLite(group []*pending) error {
	ctx := context.Background() // a batch's request gone does not undo the others
	return s.withTx(ctx, func(tx *sql.Tx) error {
		c, err := s.groupCounts(ctx, txExec{tx})
		if err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, insertEventSQL)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, p := range group {
			if p.err = p.ctx.Err(); p.err == nil {
				if err := s.storeSQLite(ctx, tx, st, c, p); err != nil {
					return err
				}
			}
		}
		return c.flush(ctx, s, txExec{tx})
	})
}

// storeSQLite stores one batch of a group under its own savepoint; a
// batch that fails is rolled back alone (p.err) and the group goes on.
// The error returned is the transaction's own, ending the group.
func (s *Store) storeSQLite(ctx context.Context, tx *sql.Tx, st *sql.Stmt, c *counts, p *pending) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT batch`); err != nil {
		return err
	}
	var nw newRows
	added, err := insertSQLite(ctx, st, p, &nw)
	if p.err = err; p.err != nil {
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO batch`); err != nil {
			return err
		}
	} else if err := c.keep(p, &nw, added); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `RELEASE batch`)
	return err
}

func insertSQLite(ctx context.Context, st *sql.Stmt, p *pending, nw *newRows) ([]counted, error) {
	var added []counted
	for i := range p.events {
		e := &p.events[i]
		at := e.At.Format(usage.TimeFormat)
		res, err := st.ExecContext(ctx, e.ID, e.Site, p.generation, e.Seq, at, e.Place, e.Kind, e.Operator, e.Outcome, e.DurationMS, e.score, e.detail, p.now)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			nw.add(e.Seq, at)
			added = append(added, counted{at, e.Site, e.Place, e.Kind, e.Operator, e.Outcome, e.DurationMS, e.score})
		}
	}
	return added, nil
}

// copyColumns are the columns COPY fills, in order.
var copyColumns = []string{"id", "site", "generation", "seq", "at", "place", "kind", "operator", "outcome", "duration_ms", "score", "detail", "received"}

// commitPostgres stores a group in one transaction. Batches sent for the
// first time, nearly every one, are copied straight into events in one
// COPY, as the engine's own bulk load. When the database refuses it (an
// id held already: a batch sent again after a lost answer, or racing its
// own retry), the group is taken again batch by batch, each under its own
// savepoint.
func (s *Store) commitPostgres(group []*pending) error {
	ctx := context.Background()
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows := make([][][]any, len(group))
	for i, p := range group {
		rows[i] = copyRows(p)
	}
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		err := pgx.BeginFunc(ctx, pc, func(tx pgx.Tx) error {
			return s.copyGroup(ctx, tx, group, rows)
		})
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			return err
		}
		return pgx.BeginFunc(ctx, pc, func(tx pgx.Tx) error {
			c, err := s.groupCounts(ctx, pgxExec{tx})
			if err != nil {
				return err
			}
			for i, p := range group {
				if p.err = p.ctx.Err(); p.err == nil {
					if err := s.storePostgres(ctx, tx, c, p, rows[i]); err != nil {
						return err
					}
				}
			}
			return c.flush(ctx, s, pgxExec{tx})
		})
	})
}

func copyRows(p *pending) [][]any {
	rows := make([][]any, len(p.events))
	for i := range p.events {
		e := &p.events[i]
		var score any
		if e.score.Valid {
			score = e.score.Float64
		}
		rows[i] = []any{e.ID, e.Site, p.generation, e.Seq, e.At.Format(usage.TimeFormat), e.Place, e.Kind, e.Operator, e.Outcome, e.DurationMS, score, e.detail, p.now}
	}
	return rows
}

// allNew counts every event of a batch copied whole.
func allNew(p *pending, rows [][]any, nw *newRows) []counted {
	added := make([]counted, len(p.events))
	for i := range p.events {
		e := &p.events[i]
		added[i] = counted{rows[i][4].(string), p.site, e.Place, e.Kind, e.Operator, e.Outcome, e.DurationMS, e.score}
		nw.add(e.Seq, added[i].at)
	}
	return added
}

// copyGroup copies the whole group into events in one COPY.
func (s *Store) copyGroup(ctx context.Context, tx pgx.Tx, group []*pending, rows [][][]any) error {
	c, err := s.groupCounts(ctx, pgxExec{tx})
	if err != nil {
		return err
	}
	var all [][]any
	var live []int
	for i, p := range group {
		if p.err = p.ctx.Err(); p.err == nil {
			all = append(all, rows[i]...)
			live = append(live, i)
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, copyColumns, pgx.CopyFromRows(all)); err != nil {
		return err
	}
	for _, i := range live {
		var nw newRows
		if err := c.keep(group[i], &nw, allNew(group[i], rows[i], &nw)); err != nil {
			return err
		}
	}
	return c.flush(ctx, s, pgxExec{tx})
}

// storePostgres stores one batch of a group under its own savepoint:
// copied straight into events, or when that fails on a key held already,
// through a temporary table keeping only what is new. A batch the
// database refuses is rolled back alone (p.err); the error returned is
// the transaction's own, ending the group.
func (s *Store) storePostgres(ctx context.Context, tx pgx.Tx, c *counts, p *pending, rows [][]any) error {
	try := func(copy func(pgx.Tx, *newRows) ([]counted, error)) error {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		var nw newRows
		added, err := copy(sp, &nw)
		if p.err = err; p.err != nil {
			return sp.Rollback(ctx)
		}
		if err := c.keep(p, &nw, added); err != nil {
			return err
		}
		return sp.Commit(ctx)
	}
	err := try(func(sp pgx.Tx, nw *newRows) ([]counted, error) {
		if _, err := sp.CopyFrom(ctx, pgx.Identifier{"events"}, copyColumns, pgx.CopyFromRows(rows)); err != nil {
			return nil, err
		}
		return allNew(p, rows, nw), nil
	})
	var pe *pgconn.PgError
	if err != nil || !errors.As(p.err, &pe) || pe.Code != uniqueViolation {
		return err
	}
	return try(func(sp pgx.Tx, nw *newRows) ([]counted, error) {
		return copyNew(ctx, sp, rows, p.site, nw)
	})
}

// uniqueViolation is PostgreSQL's SQLSTATE for a key held already.
const uniqueViolation = "23505"

// copyNew copies rows into a temporary table and moves those whose id is
// new into events, returning them.
func copyNew(ctx context.Context, tx pgx.Tx, rows [][]any, site string, nw *newRows) ([]counted, error) {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE events) ON COMMIT DELETE ROWS; TRUNCATE incoming`); err != nil {
		return nil, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"incoming"}, copyColumns, pgx.CopyFromRows(rows)); err != nil {
		return nil, err
	}
	res, err := tx.Query(ctx, `INSERT INTO events SELECT * FROM incoming ON CONFLICT (id) DO NOTHING
RETURNING seq, at, place, kind, operator, outcome, duration_ms, score`)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var added []counted
	for res.Next() {
		var seq int64
		e := counted{site: site}
		if err := res.Scan(&seq, &e.at, &e.place, &e.kind, &e.operator, &e.outcome, &e.durationMS, &e.score); err != nil {
			return nil, err
		}
		nw.add(seq, e.at)
		added = append(added, e)
	}
	return added, res.Err()
}

// execer is what noteBatch and the roll-up need of a transaction, on
// either driver.
type execer interface {
	exec(ctx context.Context, query string, args ...any) error
	queryRow(ctx context.Context, query string, args []any, dest ...any) error
}

type txExec struct{ tx *sql.Tx }

func (t txExec) exec(ctx context.Context, q string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, q, args...)
	return err
}

func (t txExec) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	return t.tx.QueryRowContext(ctx, q, args...).Scan(dest...)
}

type pgxExec struct{ tx pgx.Tx }

func (t pgxExec) exec(ctx context.Context, q string, args ...any) error {
	_, err := t.tx.Exec(ctx, q, args...)
	return err
}

func (t pgxExec) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	return t.tx.QueryRow(ctx, q, args...).Scan(dest...)
}

// noteLogs counts a group's batches in their logs' rows, in the group's
// transaction, so that the fleet view never scans the events: one
// statement per hundred logs, in key order, whose CASEs are the same on
// both engines.
func (s *Store) noteLogs(ctx context.Context, tx execer, logs map[logKey]*logDelta) error {
	keys := make([]logKey, 0, len(logs))
	for k := range logs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b logKey) int {
		return cmp.Or(cmp.Compare(a.site, b.site), cmp.Compare(a.generation, b.generation))
	})
	for chunk := range slices.Chunk(keys, 100) {
		var b strings.Builder
		b.WriteString(`INSERT INTO generations (site, generation, first_sync, last_sync, batches, events, min_seq, max_seq, last_at) VALUES `)
		args := make([]any, 0, 9*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			d := logs[k]
			args = append(args, k.site, k.generation, d.now, d.now, d.batches, d.rows.count, d.rows.min, d.rows.max, d.rows.lastAt)
		}
		b.WriteString(`
ON CONFLICT (site, generation) DO UPDATE SET
	last_sync = excluded.last_sync,
	batches = generations.batches + excluded.batches,
	min_seq = CASE WHEN excluded.events = 0 THEN generations.min_seq
		WHEN generations.events = 0 OR excluded.min_seq < generations.min_seq THEN excluded.min_seq
		ELSE generations.min_seq END,
	max_seq = CASE WHEN excluded.max_seq > generations.max_seq THEN excluded.max_seq ELSE generations.max_seq END,
	last_at = CASE WHEN excluded.last_at > generations.last_at THEN excluded.last_at ELSE generations.last_at END,
	events = generations.events + excluded.events`)
		if err := tx.exec(ctx, s.q(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}
