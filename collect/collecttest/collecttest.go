// Package collecttest makes real kiosk usage logs for the collector's
// tests and benchmarks, faster than recording events one by one.
package collecttest

import (
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/loiret/borne/usage"
)

// FillLog adds n events to the kiosk log at path (created if needed, with
// the kiosk's own schema), every step from start, in one transaction: a
// mix of sessions of each outcome, surveys, prints, pages viewed and, every
// 97th, a hardware fault. Each call continues the log's seq.
func FillLog(path, site, place string, n int, start time.Time, step time.Duration) error {
	if _, err := os.Stat(path); err != nil {
		s, err := usage.Open(path)
		if err != nil {
			return err
		}
		s.Close()
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000")
	if err != nil {
		return err
	}
	defer db.Close()
	q := fmt.Sprintf(`
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d - 1)
INSERT INTO events (id, at, site, place, kind, operator, outcome, duration_ms, detail)
SELECT
	lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' ||
	      substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
	strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', %d + i * %d, 'unixepoch'),
	?, ?,
	CASE WHEN i %% 97 = 96 THEN 'hardware_fault' ELSE
	CASE i %% 7 WHEN 0 THEN 'operator_viewed' WHEN 1 THEN 'session_started' WHEN 2 THEN 'session_ended'
	            WHEN 3 THEN 'print_job' WHEN 4 THEN 'survey' WHEN 5 THEN 'session_started' ELSE 'session_ended' END END,
	CASE WHEN i %% 97 = 96 THEN '' ELSE CASE i %% 5 WHEN 0 THEN 'caf' WHEN 1 THEN 'cpam' WHEN 2 THEN 'carsat' WHEN 3 THEN 'adil' ELSE 'cdad' END END,
	CASE WHEN i %% 97 = 96 THEN '' ELSE
	CASE i %% 7 WHEN 2 THEN 'completed' WHEN 3 THEN CASE i %% 4 WHEN 0 THEN 'failed' ELSE 'printed' END
	            WHEN 6 THEN CASE i %% 3 WHEN 0 THEN 'cancelled' WHEN 1 THEN 'timeout' ELSE 'completed' END ELSE '' END END,
	CASE WHEN i %% 97 = 96 THEN 0 ELSE CASE i %% 7 WHEN 2 THEN 60000 + (i %% 2000) * 1000 WHEN 6 THEN (i %% 900) * 1000 ELSE 0 END END,
	CASE WHEN i %% 97 = 96 THEN '{"device":"printer","reason":"offline"}' ELSE
	CASE i %% 7 WHEN 3 THEN '{"pages":' || (1 + i %% 4) || '}' WHEN 4 THEN '{"score":' || (1 + i %% 5) || '}' ELSE '{}' END END
FROM n`, n, start.Unix(), int64(step/time.Second))
	_, err = db.Exec(q, site, place)
	return err
}

// IDs returns every event id of the kiosk log at path.
func IDs(path string) (map[string]bool, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM events`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, rows.Err()
}
