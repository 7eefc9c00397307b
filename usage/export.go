package usage

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Export formats.
const (
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
)

// ExportOptions says what Export writes.
type ExportOptions struct {
	Format   string // FormatNDJSON (the default when empty) or FormatCSV
	SinceSeq int64  // only events with a greater seq
}

// Summary tells what an export wrote.
type Summary struct {
	Events            int   // number of events written
	FirstSeq, LastSeq int64 // their seq range; 0 when none
}

// CSVHeader is the first line of a CSV export; NDJSON objects have the same
// keys in the same order.
var CSVHeader = []string{"id", "seq", "at", "site", "place", "kind", "operator", "outcome", "duration_ms", "detail"}

// Export writes the events after o.SinceSeq to w, in seq order, one per
// line. All of them come from one snapshot of the log, taken when the
// export starts, so the kiosk can go on recording meanwhile.
func (s *Store) Export(ctx context.Context, w io.Writer, o ExportOptions) (Summary, error) {
	if s == nil || s.closed.Load() {
		return Summary{}, ErrClosed
	}
	return export(ctx, s.r, s.path, w, o)
}

// ExportFile exports the log at dbPath like Store.Export, opening it
// read-only and leaving its schema as it is: it can run while the kiosk
// writes. It never creates the file.
func ExportFile(ctx context.Context, dbPath string, w io.Writer, o ExportOptions) (Summary, error) {
	if err := checkFormat(o.Format); err != nil {
		return Summary{}, err
	}
	abs, err := existingLog(dbPath)
	if err != nil {
		return Summary{}, err
	}
	db, err := openReader(abs)
	if err != nil {
		return Summary{}, describe(dbPath, "", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return Summary{}, describe(dbPath, "", err)
	}
	switch known := SchemaVersion(); {
	case version == 0:
		return Summary{}, fmt.Errorf("usage log %s: not a borne usage log (no schema)", dbPath)
	case version > known:
		return Summary{}, fmt.Errorf("usage log %s: written by a newer borne (schema version %d, this one knows up to %d); export it with that version", dbPath, version, known)
	}
	return export(ctx, db, dbPath, w, o)
}

func checkFormat(f string) error {
	switch f {
	case "", FormatNDJSON, FormatCSV:
		return nil
	}
	return fmt.Errorf("usage: unknown export format %q (ndjson or csv)", f)
}

// writeError marks a failure to write the output, as opposed to reading the log.
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

func export(ctx context.Context, db *sql.DB, path string, w io.Writer, o ExportOptions) (Summary, error) {
	if err := checkFormat(o.Format); err != nil {
		return Summary{}, err
	}
	var sum Summary
	bw := bufio.NewWriterSize(w, 64<<10)
	err := withTx(ctx, db, &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) error {
		if o.Format == FormatCSV {
			return exportCSV(ctx, tx, bw, o.SinceSeq, &sum)
		}
		return exportNDJSON(ctx, tx, bw, o.SinceSeq, &sum)
	})
	if err == nil {
		if ferr := bw.Flush(); ferr != nil {
			err = writeError{ferr}
		}
	}
	var we writeError
	switch {
	case err == nil:
		return sum, nil
	case errors.As(err, &we):
		return sum, fmt.Errorf("usage log %s: writing the export: %w", path, we.err)
	default:
		return sum, describe(path, "exporting", err)
	}
}

func (s *Summary) add(seq int64) {
	if s.Events == 0 {
		s.FirstSeq = seq
	}
	s.LastSeq = seq
	s.Events++
}

// eachRow calls f for the events after the given seq, in order, at most
// limit of them (all when limit < 0).
func eachRow(ctx context.Context, tx *sql.Tx, after int64, limit int, f func(*row) error) error {
	rows, err := tx.QueryContext(ctx, selectColumns+` WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r row
	dest := r.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := f(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

func exportCSV(ctx context.Context, tx *sql.Tx, bw *bufio.Writer, after int64, sum *Summary) error {
	cw := csv.NewWriter(bw)
	if err := cw.Write(CSVHeader); err != nil {
		return writeError{err}
	}
	rec := make([]string, len(CSVHeader))
	err := eachRow(ctx, tx, after, -1, func(r *row) error {
		rec[0], rec[1], rec[2], rec[3], rec[4] = r.id, strconv.FormatInt(r.seq, 10), r.at, r.site, r.place
		rec[5], rec[6], rec[7], rec[8], rec[9] = r.kind, r.operator, r.outcome, strconv.FormatInt(r.durationMS, 10), detailJSON(r.detail)
		if err := cw.Write(rec); err != nil {
			return writeError{err}
		}
		sum.add(r.seq)
		return nil
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return writeError{err}
	}
	return nil
}

// The NDJSON export reads the log in batches that SQLite packs into one
// text each: fields joined by the unit separator (US), events by the
// record separator (RS). Read column by column, a million events cost
// ten million calls into C, which made the driver, not SQLite, the slow
// part (1.5 s where sqlite3 -json takes 1.1 s; packed with concat_ws,
// which builds each text at once where || copies it per field, 0.93 s).
// Columns are NOT NULL, which concat_ws would skip. The log never holds
// control characters (Record refuses them and the schema's CHECKs keep
// detail valid JSON); a batch that does not split as it should, or whose
// events are not in order (group_concat keeps the subquery's order, which
// SQLite does not promise; sorting again costs a tenth of the export), is
// read again column by column.
const (
	packedBatch = 4000
	packedSQL   = `SELECT count(*), min(seq), max(seq), group_concat(rec, char(30)) FROM (
	SELECT seq, concat_ws(char(31), seq, id, at, site, place, kind, operator, outcome, duration_ms, detail) AS rec
	FROM events WHERE seq > ? ORDER BY seq LIMIT ?)`
	unitSep, recordSep = 31, 30
)

func exportNDJSON(ctx context.Context, tx *sql.Tx, bw *bufio.Writer, after int64, sum *Summary) error {
	var out []byte // one batch's lines, reused
	for {
		n, first, last, ok, err := readPacked(ctx, tx, after, func(packed []byte, n int) bool {
			var ok bool
			out, ok = appendPacked(out[:0], packed, n)
			return ok
		})
		if err != nil || n == 0 {
			return err
		}
		if !ok {
			out = out[:0]
			err = eachRow(ctx, tx, after, packedBatch, func(r *row) error {
				out = appendNDJSON(out, r)
				return nil
			})
			if err != nil {
				return err
			}
		}
		if _, err := bw.Write(out); err != nil {
			return writeError{err}
		}
		if sum.Events == 0 {
			sum.FirstSeq = first
		}
		sum.Events += n
		sum.LastSeq = last
		after = last
	}
}

// readPacked reads the next batch and hands it to f while the driver's
// bytes are valid (they are not copied); ok is what f said.
func readPacked(ctx context.Context, tx *sql.Tx, after int64, f func(packed []byte, n int) bool) (n int, first, last int64, ok bool, err error) {
	rows, err := tx.QueryContext(ctx, packedSQL, after, packedBatch)
	if err != nil {
		return 0, 0, 0, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return 0, 0, 0, false, rows.Err()
	}
	var lo, hi sql.NullInt64
	var packed sql.RawBytes
	if err := rows.Scan(&n, &lo, &hi, &packed); err != nil {
		return 0, 0, 0, false, err
	}
	if n > 0 {
		ok = f(packed, n)
	}
	return n, lo.Int64, hi.Int64, ok, rows.Close()
}

// appendPacked appends the n events packed in p as NDJSON lines; false
// when p does not hold n events of ten fields each.
func appendPacked(b, p []byte, n int) ([]byte, bool) {
	var f [10][]byte
	prev := int64(-1)
	for ; n > 0; n-- {
		rec := p
		if i := bytes.IndexByte(p, recordSep); i >= 0 {
			rec, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		for k := range 9 {
			i := bytes.IndexByte(rec, unitSep)
			if i < 0 {
				return b, false
			}
			f[k], rec = rec[:i], rec[i+1:]
		}
		seq, ok := parseSeq(f[0])
		if !ok || seq <= prev || bytes.IndexByte(rec, unitSep) >= 0 {
			return b, false
		}
		prev, f[9] = seq, rec
		b = appendPackedLine(b, &f)
	}
	return b, len(p) == 0
}

// appendPackedLine is appendNDJSON for one packed event: seq, id, at, site,
// place, kind, operator, outcome, duration_ms, detail.
func appendPackedLine(b []byte, f *[10][]byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, asString(f[1]))
	b = append(b, `,"seq":`...)
	b = append(b, f[0]...)
	for i, key := range []string{`,"at":`, `,"site":`, `,"place":`, `,"kind":`, `,"operator":`, `,"outcome":`} {
		b = append(b, key...)
		b = appendJSONString(b, asString(f[2+i]))
	}
	b = append(b, `,"duration_ms":`...)
	b = append(b, f[8]...)
	b = append(b, `,"detail":`...)
	b = append(b, detailJSON(asString(f[9]))...)
	return append(b, "}\n"...)
}

// parseSeq reads a seq as SQLite writes an integer: decimal digits.
func parseSeq(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// asString sees bytes as a string without a copy, for functions that only
// read it while the bytes stay put.
func asString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// appendNDJSON appends r to b as one line of JSON, keys in CSVHeader order.
func appendNDJSON(b []byte, r *row) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.id)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, r.seq, 10)
	b = append(b, `,"at":`...)
	b = appendJSONString(b, r.at)
	b = append(b, `,"site":`...)
	b = appendJSONString(b, r.site)
	b = append(b, `,"place":`...)
	b = appendJSONString(b, r.place)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, r.kind)
	b = append(b, `,"operator":`...)
	b = appendJSONString(b, r.operator)
	b = append(b, `,"outcome":`...)
	b = appendJSONString(b, r.outcome)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendInt(b, r.durationMS, 10)
	b = append(b, `,"detail":`...)
	b = append(b, detailJSON(r.detail)...)
	return append(b, "}\n"...)
}

// detailJSON returns the stored detail, which the schema keeps a valid JSON
// object, as it is; "{}" when empty, and compacted in the unlikely case it
// spans lines (a file edited by hand), so that one event stays one line.
func detailJSON(d string) string {
	if d == "" {
		return "{}"
	}
	if strings.ContainsAny(d, "\n\r") {
		var b bytes.Buffer
		if json.Compact(&b, []byte(d)) == nil {
			return b.String()
		}
	}
	return d
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s to b as a JSON string, escaping like
// encoding/json except for <, > and & (HTML escaping is of no use in a log
// file). Invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but end lines for some readers.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
