package operators

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/rickar/cal/v2/fr"
)

// Schedule says when an operator answers visio calls.
//
// The zero Schedule has no ranges: it is never open.
type Schedule struct {
	weekly []Range
	closed map[civilDate]bool
	loc    *time.Location
	days   [7][]span // per time.Weekday: merged, sorted opening spans
	// holidaysOpen keeps the weekly hours on public holidays: for a
	// national line that answers every day, or a test endpoint.
	holidaysOpen bool
}

// OpenOnHolidays returns the schedule with its weekly hours kept on public
// holidays; its own closing dates still close it.
func (s Schedule) OpenOnHolidays() Schedule {
	s.holidaysOpen = true
	return s
}

// Range is one weekly opening range: days of the week and a time of day span.
type Range struct {
	Days       [7]bool // indexed by time.Weekday
	Start, End int     // minutes since midnight, Start < End
}

type civilDate struct {
	Y int
	M time.Month
	D int
}

// span is [start, end) in minutes since midnight, end at most 24:00.
type span struct{ start, end int }

const (
	secPerDay = 24 * 60 * 60
	// horizon bounds every search: NextOpening and ClosesAt give up beyond it.
	horizon = 366 * 24 * time.Hour
	// maxSegments bounds the number of UTC-offset changes a search crosses.
	maxSegments = 64
)

// Paris returns the Europe/Paris location, the default of every schedule.
func Paris() *time.Location { return loadParis() }

var loadParis = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil { // the zone database is embedded: this cannot happen
		panic("operators: Europe/Paris: " + err.Error())
	}
	return loc
})

// NewSchedule builds a schedule from weekly ranges ("mon-fri 09:00-12:00",
// see ParseRange) and closing dates ("2026-12-24", see ParseDate), read in
// loc (nil means Europe/Paris). Errors name the faulty entry.
func NewSchedule(hours, closed []string, loc *time.Location) (Schedule, error) {
	if loc == nil {
		loc = Paris()
	}
	s := Schedule{loc: loc}
	for _, h := range hours {
		r, err := ParseRange(h)
		if err != nil {
			return Schedule{}, err
		}
		s.weekly = append(s.weekly, r)
	}
	for _, c := range closed {
		d, err := ParseDate(c)
		if err != nil {
			return Schedule{}, err
		}
		if s.closed == nil {
			s.closed = map[civilDate]bool{}
		}
		y, m, dd := d.Date()
		s.closed[civilDate{y, m, dd}] = true
	}
	for wd := range s.days {
		var spans []span
		for _, r := range s.weekly {
			if r.Days[wd] {
				spans = append(spans, span{r.Start, r.End})
			}
		}
		s.days[wd] = mergeSpans(spans)
	}
	return s, nil
}

// mergeSpans sorts spans and joins those that overlap or touch.
func mergeSpans(in []span) []span {
	if len(in) == 0 {
		return nil
	}
	slices.SortFunc(in, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	out := []span{in[0]}
	for _, sp := range in[1:] {
		last := &out[len(out)-1]
		if sp.start <= last.end {
			last.end = max(last.end, sp.end)
			continue
		}
		out = append(out, sp)
	}
	return out
}

// Ranges returns the weekly ranges in the order they were given.
func (s Schedule) Ranges() []Range { return slices.Clone(s.weekly) }

// Location returns the location the schedule's clock times are read in.
func (s Schedule) Location() *time.Location {
	if s.loc == nil {
		return Paris()
	}
	return s.loc
}

// ClosedOn reports whether the whole day of t (in the schedule's location)
// is closed: a public holiday or one of the schedule's closing dates.
func (s Schedule) ClosedOn(t time.Time) bool {
	y, m, d := t.In(s.Location()).Date()
	cd := civilDate{y, m, d}
	return s.closed[cd] || (!s.holidaysOpen && isHoliday(cd))
}

// Open reports whether now falls in an opening range, on a day that is
// neither a public holiday nor a closing date.
func (s Schedule) Open(now time.Time) bool {
	if len(s.weekly) == 0 {
		return false
	}
	_, off := now.In(s.Location()).Zone()
	return s.openWall(now.Unix() + int64(off))
}

// ClosesAt returns the end of the opening period now is in: when opening
// ranges follow each other without a gap (12:00-14:00 then 14:00-16:00, or
// a range ending at 24:00 and one starting at 00:00 the next day) it is the
// end of the last one. It is false when closed now, or when the schedule
// stays open for the next 366 days.
func (s Schedule) ClosesAt(now time.Time) (time.Time, bool) {
	if !s.Open(now) {
		return time.Time{}, false
	}
	loc := s.Location()
	limit := now.Add(horizon)
	cur := now
	for range maxSegments {
		if cur.After(limit) {
			break
		}
		off, segEnd := zoneAt(cur, loc)
		w, ok := s.nextClosedWall(cur.Unix()+off, wallDay(limit, off))
		if !ok {
			break
		}
		// At the start of a new offset period the clock may have jumped
		// out of the range: then w is cur's own wall time and t is cur.
		t := time.Unix(w-off, 0).In(loc)
		if segEnd.IsZero() || t.Before(segEnd) {
			if t.After(limit) {
				break
			}
			return t, true
		}
		cur = segEnd
	}
	return time.Time{}, false
}

// NextOpening returns when the schedule opens next, strictly after now: if
// closed now, the next opening; if open now, the first opening after the
// current period ends (see ClosesAt). It is false when there is none within
// 366 days. The time is in the schedule's location.
func (s Schedule) NextOpening(now time.Time) (time.Time, bool) {
	if len(s.weekly) == 0 {
		return time.Time{}, false
	}
	limit := now.Add(horizon)
	from := now
	if s.Open(now) {
		c, ok := s.ClosesAt(now)
		if !ok {
			return time.Time{}, false
		}
		from = c
	}
	return s.firstOpen(from, limit)
}

// firstOpen returns the first instant at or after from, and not after
// limit, when the schedule is open. It is called at a closed instant, so
// the result is after from.
//
// Instants are handled one UTC-offset period at a time: within a period the
// wall clock is the instant plus a constant offset, so the search happens on
// wall-clock seconds and is mapped back. A result beyond the period's end
// is searched again with the next period's offset. This keeps Open and
// NextOpening consistent across summer-time switches: a range starting in
// the skipped hour opens when the clock jumps; a repeated hour is open
// twice if a range covers it.
func (s Schedule) firstOpen(from, limit time.Time) (time.Time, bool) {
	loc := s.Location()
	cur := from
	for range maxSegments {
		if cur.After(limit) {
			break
		}
		off, segEnd := zoneAt(cur, loc)
		w, ok := s.nextOpenWall(cur.Unix()+off, wallDay(limit, off))
		if !ok {
			break
		}
		t := time.Unix(w-off, 0).In(loc)
		if segEnd.IsZero() || t.Before(segEnd) {
			if t.After(limit) {
				break
			}
			return t, true
		}
		cur = segEnd
	}
	return time.Time{}, false
}

// zoneAt returns the UTC offset in seconds at t in loc, and when that offset
// stops applying (zero if never).
func zoneAt(t time.Time, loc *time.Location) (int64, time.Time) {
	tl := t.In(loc)
	_, off := tl.Zone()
	_, end := tl.ZoneBounds()
	return int64(off), end
}

// A wall time is a count of seconds since 1970-01-01 00:00 on the local
// clock, as if the local clock were UTC.

func wallDay(t time.Time, off int64) int64 { return floorDiv(t.Unix()+off, secPerDay) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// spansOn returns the opening spans of a wall day (days since 1970-01-01),
// none on a holiday or closing date.
func (s Schedule) spansOn(day int64) []span {
	spans := s.days[((day%7)+7+4)%7] // 1970-01-01 was a Thursday
	if len(spans) == 0 {
		return nil
	}
	y, m, d := time.Unix(day*secPerDay, 0).UTC().Date()
	cd := civilDate{y, m, d}
	if s.closed[cd] || (!s.holidaysOpen && isHoliday(cd)) {
		return nil
	}
	return spans
}

func (s Schedule) openWall(w int64) bool {
	day := floorDiv(w, secPerDay)
	sec := w - day*secPerDay
	for _, sp := range s.spansOn(day) {
		if sec >= int64(sp.start)*60 && sec < int64(sp.end)*60 {
			return true
		}
	}
	return false
}

// nextOpenWall returns the first open wall time at or after w, looking no
// further than lastDay.
func (s Schedule) nextOpenWall(w, lastDay int64) (int64, bool) {
	day := floorDiv(w, secPerDay)
	sec := w - day*secPerDay
	for d := day; d <= lastDay; d++ {
		for _, sp := range s.spansOn(d) {
			start, end := int64(sp.start)*60, int64(sp.end)*60
			if d == day {
				if sec >= end {
					continue
				}
				if sec >= start {
					return w, true
				}
			}
			return d*secPerDay + start, true
		}
	}
	return 0, false
}

// nextClosedWall returns the first closed wall time at or after w, looking
// no further than lastDay.
func (s Schedule) nextClosedWall(w, lastDay int64) (int64, bool) {
	day := floorDiv(w, secPerDay)
	sec := w - day*secPerDay
	end := int64(-1)
	for _, sp := range s.spansOn(day) {
		if sec >= int64(sp.start)*60 && sec < int64(sp.end)*60 {
			end = int64(sp.end) * 60
			break
		}
	}
	if end < 0 {
		return w, true
	}
	for end == secPerDay { // open until midnight: does the next day go on?
		if day+1 > lastDay {
			return 0, false
		}
		next := s.spansOn(day + 1)
		if len(next) == 0 || next[0].start != 0 {
			break
		}
		day++
		end = int64(next[0].end) * 60
	}
	return day*secPerDay + end, true
}

// Public holidays, per year: bit d of holidays[m] is set when day d of
// month m is a holiday.
var (
	holidayMu    sync.RWMutex
	holidayYears = map[int]*[13]uint32{}
)

func isHoliday(d civilDate) bool {
	holidayMu.RLock()
	h := holidayYears[d.Y]
	holidayMu.RUnlock()
	if h == nil {
		h = holidaysOf(d.Y)
		holidayMu.Lock()
		holidayYears[d.Y] = h
		holidayMu.Unlock()
	}
	return h[d.M]&(1<<d.D) != 0
}

// holidaysOf computes the French public holidays of a year (metropolitan
// France): New Year, Easter Monday, 1 and 8 May, Ascension, Whit Monday
// (a working "solidarity day" for some employers, but public services keep
// it off), 14 July, 15 August, 1 and 11 November, Christmas.
func holidaysOf(year int) *[13]uint32 {
	var days [13]uint32
	for _, h := range fr.Holidays {
		t, _ := h.Calc(year)
		if t.IsZero() {
			continue
		}
		// Calc gives the start of the day in the process's local zone;
		// noon keeps the right date even where midnight is skipped.
		y, m, d := t.Add(12 * time.Hour).Date()
		if y == year {
			days[m] |= 1 << d
		}
	}
	return &days
}
