-- The durations the medians read (sessions that connected), alone in their own
-- small index in time order: each period's median is an index-only range of it,
-- without stepping over the other kinds' entries.
CREATE INDEX events_durations ON events (at, site, place, operator, duration_ms)
	WHERE kind = 'session_ended' AND outcome <> 'cancelled';
