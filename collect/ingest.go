package collect

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/loiret/borne/usage"
)

// Event is one event of a batch, checked and ready to store.
type Event struct {
	usage.Event
	detail string          // Detail as JSON
	score  sql.NullFloat64 // a survey's score
}

// LineError is an event of a batch that may not be stored: the collector
// answers 400 with it and stores nothing of the batch.
type LineError struct {
	Line int // 1-based line of the NDJSON body
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ParseBatch reads an NDJSON batch and checks every event as the kiosk's
// log does before recording it (usage.CheckEvent), plus what only a wire
// format can get wrong: unknown or missing fields, a seq, and values that
// look like someone's e-mail address or phone number.
func ParseBatch(body []byte) ([]Event, error) {
	var out []Event
	for n := 1; len(body) > 0; n++ {
		line, rest, _ := bytes.Cut(body, []byte{'\n'})
		body = rest
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if len(body) == 0 {
				break
			}
			return nil, &LineError{n, errors.New("empty line (one event per line)")}
		}
		e, err := parseLine(line)
		if err != nil {
			return nil, &LineError{n, err}
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, &LineError{1, errors.New("the batch holds no event")}
	}
	return out, nil
}

// wireEvent is an event as sent; pointers tell a missing field from a
// zero one.
type wireEvent struct {
	ID         *string        `json:"id"`
	Seq        *int64         `json:"seq"`
	At         *time.Time     `json:"at"`
	Site       *string        `json:"site"`
	Place      string         `json:"place"`
	Kind       *string        `json:"kind"`
	Operator   string         `json:"operator"`
	Outcome    string         `json:"outcome"`
	DurationMS int64          `json:"duration_ms"`
	Detail     map[string]any `json:"detail"`
}

func parseLine(line []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var w wireEvent
	if err := dec.Decode(&w); err != nil {
		return Event{}, fmt.Errorf("not a usage event: %v", jsonErr(err))
	}
	if dec.More() {
		return Event{}, errors.New("more than one JSON value on the line")
	}
	switch {
	case w.ID == nil:
		return Event{}, errors.New(`missing "id"`)
	case w.Seq == nil || *w.Seq < 1:
		return Event{}, errors.New(`missing "seq" (1 or more)`)
	case w.At == nil || w.At.IsZero():
		return Event{}, errors.New(`missing "at"`)
	case w.Site == nil || *w.Site == "":
		return Event{}, errors.New(`missing "site"`)
	case w.Kind == nil:
		return Event{}, errors.New(`missing "kind"`)
	}
	e := Event{Event: usage.Event{ID: *w.ID, Seq: *w.Seq, At: *w.At, Site: *w.Site, Place: w.Place,
		Kind: *w.Kind, Operator: w.Operator, Outcome: w.Outcome, DurationMS: w.DurationMS, Detail: w.Detail}}
	detail, err := usage.CheckEvent(&e.Event)
	if err != nil {
		return Event{}, err
	}
	if err := personalData(&e.Event); err != nil {
		return Event{}, fmt.Errorf("%w: %v", usage.ErrInvalid, err)
	}
	e.detail = detail
	if e.Kind == usage.KindSurvey {
		if n, ok := e.Detail["score"].(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				e.score = sql.NullFloat64{Float64: f, Valid: true}
			}
		}
	}
	return e, nil
}

// jsonErr says what is wrong with a line without Go's type names.
func jsonErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%q has a value of the wrong type (%s)", te.Field, te.Value)
	}
	return err.Error()
}

var (
	emailLike = regexp.MustCompile(`[^\s@]+@[^\s@]+\.[^\s@]+`)
	phoneLike = regexp.MustCompile(`(\+33|0)\s*[1-9]([\s.-]*[0-9]{2}){4}`)
)

// personalData refuses text that looks like a citizen's e-mail address or
// phone number: the allow-list keeps typed text out of the log, and this
// keeps a kiosk with a bug from bringing it into the fleet's database.
func personalData(e *usage.Event) error {
	check := func(what, s string) error {
		if emailLike.MatchString(s) || phoneLike.MatchString(s) {
			return fmt.Errorf("%s looks like personal data (an e-mail address or a phone number)", what)
		}
		return nil
	}
	if err := check("place", e.Place); err != nil {
		return err
	}
	for k, v := range e.Detail {
		if s, ok := v.(string); ok {
			if err := check("detail "+strconv.Quote(k), s); err != nil {
				return err
			}
		}
	}
	return nil
}

// Ingest stores a checked batch of site's log generation, whole or not at
// all, and counts its new events in the roll-up: events whose id is held
// already are skipped. It returns how many events of the batch the store
// now holds (all of them) and how many it did not hold before.
func (s *Store) Ingest(ctx context.Context, site, generation string, events []Event) (held, added int, err error) {
	now := s.now().Unix()
	if s.pg {
		var nw newRows
		err = s.ingestPostgres(ctx, site, generation, events, now, &nw)
		added = nw.count
	} else {
		added, err = s.ingestGrouped(ctx, &pending{ctx: ctx, site: site, generation: generation, events: events, now: now})
	}
	if err != nil {
		return 0, 0, s.describe("storing a batch", err)
	}
	return len(events), added, nil
}

// newRows sums up the rows a batch added.
type newRows struct {
	count    int
	min, max int64
	lastAt   string
}

func (n *newRows) add(seq int64, at string) {
	if n.count == 0 || seq < n.min {
		n.min = seq
	}
	n.max = max(n.max, seq)
	n.lastAt = max(n.lastAt, at)
	n.count++
}

const insertEventSQL = `INSERT INTO events (id, site, generation, seq, at, place, kind, operator, outcome, duration_ms, score, detail, received)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

// pending is a batch waiting for SQLite's writer.
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

// ingestGrouped hands the batch to the writer and waits for its commit.
func (s *Store) ingestGrouped(ctx context.Context, p *pending) (int, error) {
	p.done = make(chan struct{})
	select {
	case s.queue <- p:
	case <-s.quit:
		return 0, errClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	<-p.done
	return p.added, p.err
}

// writeLoop is SQLite's only writer of batches. The batches of kiosks
// syncing at once go into one transaction (a group commit): each commit
// writes every page its batches touched and waits for the disk, and the
// events' random ids spread a batch of a thousand over about as many
// pages of the id index, so that one commit per batch wrote most pages
// again and again. Each batch keeps its own savepoint, stored whole or
// not at all, and is answered only once the group is on disk.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
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
	ctx := context.Background() // a batch's request gone does not undo the others
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		zone, err := s.dailyZone(ctx, txExec{tx}, false)
		if err != nil {
			return err
		}
		var days *tally
		if zone != "" {
			loc, err := loadZone(zone)
			if err != nil {
				return err
			}
			days = newTally(loc)
		}
		st, err := tx.PrepareContext(ctx, insertEventSQL)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, p := range group {
			if p.err = p.ctx.Err(); p.err == nil {
				if err := s.storeOne(ctx, tx, st, days, p); err != nil {
					return err
				}
			}
		}
		if days == nil {
			return nil
		}
		return days.write(ctx, txExec{tx}, s.q)
	})
	for _, p := range group {
		if err != nil && p.err == nil {
			p.err, p.added = err, 0
		}
		close(p.done)
	}
}

// storeOne stores one batch of a group under its own savepoint; a batch
// that fails is rolled back alone (p.err) and the group goes on. The
// error returned is the transaction's own, ending the group.
func (s *Store) storeOne(ctx context.Context, tx *sql.Tx, st *sql.Stmt, days *tally, p *pending) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT batch`); err != nil {
		return err
	}
	var nw newRows
	var mine *tally
	if days != nil {
		mine = newTally(days.loc)
	}
	p.err = insertSQLite(ctx, st, p, mine, &nw)
	if p.err == nil {
		p.err = s.noteBatch(ctx, txExec{tx}, p.site, p.generation, p.now, &nw)
	}
	if p.err != nil {
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO batch`); err != nil {
			return err
		}
	} else {
		p.added = nw.count
		if mine != nil {
			for k, r := range mine.rows {
				days.row(k).merge(r)
			}
		}
	}
	_, err := tx.ExecContext(ctx, `RELEASE batch`)
	return err
}

func insertSQLite(ctx context.Context, st *sql.Stmt, p *pending, days *tally, nw *newRows) error {
	for i := range p.events {
		e := &p.events[i]
		at := e.At.Format(usage.TimeFormat)
		res, err := st.ExecContext(ctx, e.ID, e.Site, p.generation, e.Seq, at, e.Place, e.Kind, e.Operator, e.Outcome, e.DurationMS, e.score, e.detail, p.now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		nw.add(e.Seq, at)
		if days != nil {
			if err := days.add(counted{at, e.Site, e.Place, e.Kind, e.Operator, e.Outcome, e.DurationMS, e.score}); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyColumns are the columns COPY fills, in order.
var copyColumns = []string{"id", "site", "generation", "seq", "at", "place", "kind", "operator", "outcome", "duration_ms", "score", "detail", "received"}

// ingestPostgres copies the batch into a temporary table, then moves what
// is new into events in one INSERT … ON CONFLICT DO NOTHING, in one
// transaction.
func (s *Store) ingestPostgres(ctx context.Context, site, generation string, events []Event, now int64, nw *newRows) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE events) ON COMMIT DELETE ROWS`); err != nil {
				return err
			}
			rows := make([][]any, len(events))
			for i := range events {
				e := &events[i]
				var score any
				if e.score.Valid {
					score = e.score.Float64
				}
				rows[i] = []any{e.ID, e.Site, generation, e.Seq, e.At.Format(usage.TimeFormat), e.Place, e.Kind, e.Operator, e.Outcome, e.DurationMS, score, e.detail, now}
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"incoming"}, copyColumns, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
			res, err := tx.Query(ctx, `INSERT INTO events SELECT * FROM incoming ON CONFLICT (id) DO NOTHING
RETURNING seq, at, place, kind, operator, outcome, duration_ms, score`)
			if err != nil {
				return err
			}
			var added []counted
			for res.Next() {
				var seq int64
				e := counted{site: site}
				if err := res.Scan(&seq, &e.at, &e.place, &e.kind, &e.operator, &e.outcome, &e.durationMS, &e.score); err != nil {
					res.Close()
					return err
				}
				nw.add(seq, e.at)
				added = append(added, e)
			}
			res.Close()
			if err := res.Err(); err != nil {
				return err
			}
			if err := s.countDaily(ctx, pgxExec{tx}, added); err != nil {
				return err
			}
			return s.noteBatch(ctx, pgxExec{tx}, site, generation, now, nw)
		})
	})
}

// countDaily adds a batch's new events to the roll-up, in the zone it
// counts when the batch commits (see dailyZone).
func (s *Store) countDaily(ctx context.Context, tx execer, added []counted) error {
	zone, err := s.dailyZone(ctx, tx, true)
	if err != nil || zone == "" {
		return err
	}
	loc, err := loadZone(zone)
	if err != nil {
		return err
	}
	days := newTally(loc)
	for _, e := range added {
		if err := days.add(e); err != nil {
			return err
		}
	}
	return days.write(ctx, tx, s.q)
}

// execer is what noteBatch needs of a transaction, on either driver.
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

// noteBatch counts the batch in its generation's row, in the batch's
// transaction, so that the fleet view never scans the events.
func (s *Store) noteBatch(ctx context.Context, tx execer, site, generation string, now int64, nw *newRows) error {
	if err := tx.exec(ctx, s.q(`INSERT INTO generations (site, generation, first_sync, last_sync) VALUES (?, ?, ?, ?) ON CONFLICT (site, generation) DO NOTHING`),
		site, generation, now, now); err != nil {
		return err
	}
	lock := ""
	if s.pg {
		lock = " FOR UPDATE"
	}
	var events, minSeq, maxSeq int64
	var lastAt string
	if err := tx.queryRow(ctx, s.q(`SELECT events, min_seq, max_seq, last_at FROM generations WHERE site = ? AND generation = ?`+lock),
		[]any{site, generation}, &events, &minSeq, &maxSeq, &lastAt); err != nil {
		return err
	}
	if nw.count > 0 {
		if events == 0 || nw.min < minSeq {
			minSeq = nw.min
		}
		maxSeq = max(maxSeq, nw.max)
		lastAt = max(lastAt, nw.lastAt)
		events += int64(nw.count)
	}
	return tx.exec(ctx, s.q(`UPDATE generations SET last_sync = ?, batches = batches + 1, events = ?, min_seq = ?, max_seq = ?, last_at = ? WHERE site = ? AND generation = ?`),
		now, events, minSeq, maxSeq, lastAt, site, generation)
}
