package config

import (
	"time"

	"github.com/loiret/borne/operators"
)

// Location is the site's time zone. Parse loads it once; for a Config built
// by hand it is loaded on each call, and UTC if site.timezone is unknown.
func (c *Config) Location() *time.Location {
	if c.loc != nil {
		return c.loc
	}
	tz := c.Site.Timezone
	if tz == "" {
		tz = "Europe/Paris"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

// PlaceAt is the commune where the kiosk stands at now: site.place for a
// fixed kiosk; for an itinerant one, the stop whose hours include now, else
// the stop it most recently stood at (within a week), else the first stop.
func (c *Config) PlaceAt(now time.Time) string {
	stops := c.Site.Stops
	if len(stops) == 0 {
		return c.Site.Place
	}
	hours := c.stopHours
	if len(hours) != len(stops) {
		hours = make([][]operators.Range, len(stops))
		for i, s := range stops {
			for _, h := range s.Hours {
				if r, err := operators.ParseRange(h); err == nil {
					hours[i] = append(hours[i], r)
				}
			}
		}
	}
	now = now.In(c.Location())
	best, bestEnd := 0, time.Time{}
	for i, ranges := range hours {
		for _, r := range ranges {
			if inRange(r, now) {
				return stops[i].Place
			}
			if end, ok := lastEnd(r, now); ok && end.After(bestEnd) {
				best, bestEnd = i, end
			}
		}
	}
	return stops[best].Place
}

// inRange says whether now (in the site's zone) falls within r.
func inRange(r operators.Range, now time.Time) bool {
	if !r.Days[now.Weekday()] {
		return false
	}
	m := now.Hour()*60 + now.Minute()
	return m >= r.Start && m < r.End
}

// lastEnd is the latest end of r at or before now, looking back a week.
func lastEnd(r operators.Range, now time.Time) (time.Time, bool) {
	y, mo, d := now.Date()
	for back := 0; back <= 7; back++ {
		day := time.Date(y, mo, d-back, 0, 0, 0, 0, now.Location())
		if !r.Days[day.Weekday()] {
			continue
		}
		end := time.Date(y, mo, d-back, r.End/60, r.End%60, 0, 0, now.Location())
		if !end.After(now) {
			return end, true
		}
	}
	return time.Time{}, false
}

// ResolveOperators builds the operators the kiosk offers: the enabled
// built-in ones and the site's own, in the site's time zone.
func (c *Config) ResolveOperators() ([]operators.Operator, error) {
	return operators.Build(c.Operators.Enabled, c.Operators.Custom, c.Location())
}

// SiteSchedule is when the kiosk serves: the site's hours, or every stop's
// for an itinerant kiosk; ok is false when no hours are given (always on).
func (c *Config) SiteSchedule() (s operators.Schedule, ok bool) {
	hours := c.Site.Hours
	for _, st := range c.Site.Stops {
		hours = append(hours[:len(hours):len(hours)], st.Hours...)
	}
	if len(hours) == 0 {
		return operators.Schedule{}, false
	}
	s, err := operators.NewSchedule(hours, nil, c.Location())
	return s, err == nil
}
