-- The fleet's events, as the kiosks send them (DESIGN.md, "The usage log"), written
-- for SQLite and PostgreSQL alike. id is unique forever: a batch sent again stores
-- nothing twice. generation is the kiosk's log id (Borne-Log-Generation; '' from
-- kiosks that do not send it), so that a recreated log starting again at seq 1 is
-- told apart from lost events. at is RFC 3339 UTC at second precision, so text order
-- is time order on both engines; score is the survey's detail score, kept apart so
-- that stats read no JSON.
CREATE TABLE events (
	id          TEXT    NOT NULL PRIMARY KEY,
	site        TEXT    NOT NULL,
	generation  TEXT    NOT NULL DEFAULT '',
	seq         BIGINT  NOT NULL,
	at          TEXT    NOT NULL CHECK (length(at) = 20),
	place       TEXT    NOT NULL DEFAULT '',
	kind        TEXT    NOT NULL,
	operator    TEXT    NOT NULL DEFAULT '',
	outcome     TEXT    NOT NULL DEFAULT '',
	duration_ms BIGINT  NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
	score       DOUBLE PRECISION,
	detail      TEXT    NOT NULL DEFAULT '{}',
	received    BIGINT  NOT NULL
);
-- Stats by kind and period; fleet faults of the last day; the retention purge.
CREATE INDEX events_stats ON events (kind, at, site, place, operator, outcome, duration_ms, score);
CREATE INDEX events_at ON events (at);

-- One row per kiosk log: what the fleet view reads without scanning events.
-- events counts the rows held (each id once); min_seq and max_seq bound them, so
-- max_seq - min_seq + 1 - events is what never arrived.
CREATE TABLE generations (
	site        TEXT    NOT NULL,
	generation  TEXT    NOT NULL,
	first_sync  BIGINT  NOT NULL,
	last_sync   BIGINT  NOT NULL,
	batches     BIGINT  NOT NULL DEFAULT 0,
	events      BIGINT  NOT NULL DEFAULT 0,
	min_seq     BIGINT  NOT NULL DEFAULT 0,
	max_seq     BIGINT  NOT NULL DEFAULT 0,
	last_at     TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (site, generation)
);
CREATE INDEX events_site_seq ON events (site, generation, seq);

-- The kiosks' tokens: a SHA-256 of each (the token itself is random and shown
-- once), and the one site it may post for.
CREATE TABLE tokens (
	hash    TEXT   NOT NULL PRIMARY KEY,
	site    TEXT   NOT NULL,
	created BIGINT NOT NULL
);
CREATE INDEX tokens_site ON tokens (site);
