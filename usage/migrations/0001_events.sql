-- The usage log: one row per event, no personal data (DESIGN.md, "The usage log").
-- seq never reuses a value, even after the newest rows are deleted (AUTOINCREMENT);
-- at is RFC 3339 UTC at second precision, so text order is time order;
-- detail is a JSON object of a few allow-listed keys (checked by Record).
CREATE TABLE events (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	id          TEXT    NOT NULL UNIQUE,
	at          TEXT    NOT NULL
	            CHECK (length(at) = 20 AND at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'),
	site        TEXT    NOT NULL DEFAULT '',
	place       TEXT    NOT NULL DEFAULT '',
	kind        TEXT    NOT NULL,
	operator    TEXT    NOT NULL DEFAULT '',
	outcome     TEXT    NOT NULL DEFAULT '',
	duration_ms INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
	detail      TEXT    NOT NULL DEFAULT '{}'
	            CHECK (json_valid(detail) AND json_type(detail) = 'object')
) STRICT;

-- Figures by period, and by kind and period (the latter also serves kind alone).
CREATE INDEX events_at ON events (at);
CREATE INDEX events_kind_at ON events (kind, at);

-- Small state kept next to the log (the sync cursor and the like).
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT
) STRICT;
