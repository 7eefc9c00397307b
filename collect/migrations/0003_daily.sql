-- Stats read the fleet's figures from a roll-up kept at ingestion: one row
-- per day of the Département's calendar, site, commune and operator, with
-- the same definitions as the kiosk's logs stats. durations holds the
-- durations (ms, comma-separated) of the sessions that connected, so that
-- medians stay exact. settings names the time zone whose days the roll-up
-- counts; '' until the collector builds it (Store.KeepDaily).
CREATE TABLE daily (
	day         TEXT   NOT NULL CHECK (length(day) = 10),
	site        TEXT   NOT NULL,
	place       TEXT   NOT NULL,
	operator    TEXT   NOT NULL,
	sessions    BIGINT NOT NULL DEFAULT 0,
	completed   BIGINT NOT NULL DEFAULT 0,
	duration_ms BIGINT NOT NULL DEFAULT 0,
	surveys     BIGINT NOT NULL DEFAULT 0,
	score_sum   DOUBLE PRECISION NOT NULL DEFAULT 0,
	print_jobs  BIGINT NOT NULL DEFAULT 0,
	durations   TEXT   NOT NULL DEFAULT '',
	PRIMARY KEY (day, site, place, operator)
);
CREATE TABLE settings (
	name  TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
);
INSERT INTO settings (name, value) VALUES ('daily_zone', '');

-- The events' wide indexes served the stats' scans, which the roll-up
-- replaces: every batch paid for them. The fleet view still reads the
-- service events by kind, from a small index of those alone (its queries
-- repeat this predicate word for word, as SQLite needs to use it).
DROP INDEX events_stats;
DROP INDEX events_durations;
CREATE INDEX events_health ON events (kind, site, at)
	WHERE kind IN ('hardware_fault', 'out_of_service', 'back_in_service');
