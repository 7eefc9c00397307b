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
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
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
	if dbPath == "" {
		return Summary{}, errors.New("usage log: no database file given (set usage.database or --db)")
	}
	fi, err := os.Stat(dbPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Summary{}, fmt.Errorf("usage log %s: no such file (check --db or usage.database)", dbPath)
	case err != nil:
		return Summary{}, fmt.Errorf("usage log %s: %v", dbPath, pathErrText(err))
	case fi.IsDir():
		return Summary{}, fmt.Errorf("usage log %s: is a folder, not a database file", dbPath)
	}
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		return Summary{}, fmt.Errorf("usage log %s: %v", dbPath, err)
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
		rows, err := tx.QueryContext(ctx, selectColumns+` WHERE seq > ? ORDER BY seq`, o.SinceSeq)
		if err != nil {
			return err
		}
		defer rows.Close()
		var (
			r      row
			dest   = r.dest()
			write  func(*row) error
			finish = func() error { return nil }
		)
		if o.Format == FormatCSV {
			cw := csv.NewWriter(bw)
			if err := cw.Write(CSVHeader); err != nil {
				return writeError{err}
			}
			rec := make([]string, len(CSVHeader))
			write = func(r *row) error {
				rec[0], rec[1], rec[2], rec[3], rec[4] = r.id, strconv.FormatInt(r.seq, 10), r.at, r.site, r.place
				rec[5], rec[6], rec[7], rec[8], rec[9] = r.kind, r.operator, r.outcome, strconv.FormatInt(r.durationMS, 10), detailJSON(r.detail)
				return cw.Write(rec)
			}
			finish = func() error {
				cw.Flush()
				return cw.Error()
			}
		} else {
			write = func(r *row) error {
				// Append the line straight into the free part of bw's buffer:
				// no allocation when it fits, which is nearly always.
				_, err := bw.Write(appendNDJSON(bw.AvailableBuffer(), r))
				return err
			}
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			if err := write(&r); err != nil {
				return writeError{err}
			}
			if sum.Events == 0 {
				sum.FirstSeq = r.seq
			}
			sum.LastSeq = r.seq
			sum.Events++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if err := finish(); err != nil {
			return writeError{err}
		}
		return nil
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
