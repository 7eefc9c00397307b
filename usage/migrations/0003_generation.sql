-- The log's generation: a random UUID (version 4) made once, when the log is created, or
-- when an older log is brought to this schema. It goes with every sync batch
-- (Borne-Log-Generation), so that a collector tells a log recreated after corruption (seq
-- back to 1) from one that lost events. A copy of the file keeps it; a new file gets another.
INSERT OR IGNORE INTO meta (key, value)
SELECT 'log_generation', lower(
	hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
	substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)));
