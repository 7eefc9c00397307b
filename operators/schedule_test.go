package operators

import (
	"fmt"
	"testing"
	"time"
)

func paris(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, Paris())
}

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func mustSchedule(t testing.TB, hours []string, closed ...string) Schedule {
	t.Helper()
	s, err := NewSchedule(hours, closed, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// cafHours is the CAF example: mornings on weekdays, three afternoons.
var cafHours = []string{"mon-fri 09:00-12:00", "mon,tue,thu 13:30-16:30"}

type openCase struct {
	name     string
	now      time.Time
	open     bool
	next     time.Time // zero: NextOpening is false
	closesAt time.Time // checked when open; zero: ClosesAt is false
}

func checkCases(t *testing.T, s Schedule, cases []openCase) {
	t.Helper()
	for _, c := range cases {
		if got := s.Open(c.now); got != c.open {
			t.Errorf("%s: Open(%v) = %v, want %v", c.name, c.now, got, c.open)
		}
		next, ok := s.NextOpening(c.now)
		switch {
		case c.next.IsZero() && ok:
			t.Errorf("%s: NextOpening(%v) = %v, want none", c.name, c.now, next)
		case !c.next.IsZero() && (!ok || !next.Equal(c.next)):
			t.Errorf("%s: NextOpening(%v) = %v, %v; want %v", c.name, c.now, next, ok, c.next)
		case ok && next.Location() != s.Location():
			t.Errorf("%s: NextOpening(%v) is in %v, want %v", c.name, c.now, next.Location(), s.Location())
		}
		closes, ok := s.ClosesAt(c.now)
		switch {
		case !c.open && ok:
			t.Errorf("%s: ClosesAt(%v) = %v while closed", c.name, c.now, closes)
		case c.open && c.closesAt.IsZero() && ok:
			t.Errorf("%s: ClosesAt(%v) = %v, want none", c.name, c.now, closes)
		case c.open && !c.closesAt.IsZero() && (!ok || !closes.Equal(c.closesAt)):
			t.Errorf("%s: ClosesAt(%v) = %v, %v; want %v", c.name, c.now, closes, ok, c.closesAt)
		}
	}
}

func TestOpenAndNextOpening(t *testing.T) {
	s := mustSchedule(t, cafHours)
	checkCases(t, s, []openCase{
		{"weekday morning", paris(2026, 11, 24, 10, 0), true, paris(2026, 11, 24, 13, 30), paris(2026, 11, 24, 12, 0)},
		{"opening minute", paris(2026, 11, 24, 9, 0), true, paris(2026, 11, 24, 13, 30), paris(2026, 11, 24, 12, 0)},
		{"last second", paris(2026, 11, 24, 11, 59).Add(59*time.Second + 999*time.Millisecond), true, paris(2026, 11, 24, 13, 30), paris(2026, 11, 24, 12, 0)},
		{"just before opening", paris(2026, 11, 24, 8, 59).Add(59 * time.Second), false, paris(2026, 11, 24, 9, 0), time.Time{}},
		{"closing minute", paris(2026, 11, 24, 12, 0), false, paris(2026, 11, 24, 13, 30), time.Time{}},
		{"lunch break", paris(2026, 11, 24, 12, 30), false, paris(2026, 11, 24, 13, 30), time.Time{}},
		{"afternoon", paris(2026, 11, 24, 15, 0), true, paris(2026, 11, 25, 9, 0), paris(2026, 11, 24, 16, 30)},
		{"no afternoon on wednesday", paris(2026, 11, 25, 12, 30), false, paris(2026, 11, 26, 9, 0), time.Time{}},
		{"evening to next morning", paris(2026, 11, 24, 18, 0), false, paris(2026, 11, 25, 9, 0), time.Time{}},
		{"early morning", paris(2026, 11, 25, 6, 0), false, paris(2026, 11, 25, 9, 0), time.Time{}},
		{"friday evening to monday", paris(2026, 11, 27, 17, 0), false, paris(2026, 11, 30, 9, 0), time.Time{}},
		{"friday afternoon to monday", paris(2026, 11, 27, 14, 0), false, paris(2026, 11, 30, 9, 0), time.Time{}},
		{"friday morning, open", paris(2026, 11, 27, 11, 0), true, paris(2026, 11, 30, 9, 0), paris(2026, 11, 27, 12, 0)},
		{"saturday", paris(2026, 11, 28, 10, 0), false, paris(2026, 11, 30, 9, 0), time.Time{}},
		{"now given in UTC", utc(2026, 11, 24, 9, 0), true, paris(2026, 11, 24, 13, 30), paris(2026, 11, 24, 12, 0)},

		{"11 November", paris(2026, 11, 11, 10, 0), false, paris(2026, 11, 12, 9, 0), time.Time{}},
		{"eve of 11 November", paris(2026, 11, 10, 17, 0), false, paris(2026, 11, 12, 9, 0), time.Time{}},
		{"Christmas", paris(2026, 12, 25, 10, 0), false, paris(2026, 12, 28, 9, 0), time.Time{}},
		{"Christmas eve afternoon", paris(2026, 12, 24, 15, 0), true, paris(2026, 12, 28, 9, 0), paris(2026, 12, 24, 16, 30)},
		{"New Year's Day", paris(2027, 1, 1, 10, 0), false, paris(2027, 1, 4, 9, 0), time.Time{}},
		{"New Year's Eve", paris(2026, 12, 31, 17, 0), false, paris(2027, 1, 4, 9, 0), time.Time{}},
		{"Easter Monday 2027", paris(2027, 3, 29, 10, 0), false, paris(2027, 3, 30, 9, 0), time.Time{}},
		{"Friday before Easter 2027", paris(2027, 3, 26, 17, 0), false, paris(2027, 3, 30, 9, 0), time.Time{}},
		{"Ascension 2027", paris(2027, 5, 6, 10, 0), false, paris(2027, 5, 7, 9, 0), time.Time{}},
		{"eve of Ascension 2027", paris(2027, 5, 5, 17, 0), false, paris(2027, 5, 7, 9, 0), time.Time{}},
		{"Whit Monday 2027", paris(2027, 5, 17, 10, 0), false, paris(2027, 5, 18, 9, 0), time.Time{}},
		{"1 May 2026 (a Friday)", paris(2026, 5, 1, 10, 0), false, paris(2026, 5, 4, 9, 0), time.Time{}},
		{"14 July 2026 (a Tuesday)", paris(2026, 7, 13, 17, 0), false, paris(2026, 7, 15, 9, 0), time.Time{}},
		{"day after Whit Monday 2027", paris(2027, 5, 18, 10, 0), true, paris(2027, 5, 18, 13, 30), paris(2027, 5, 18, 12, 0)},
	})
}

func TestClosingDates(t *testing.T) {
	// 2026-12-27 is a Sunday: no effect on a weekday schedule.
	s := mustSchedule(t, cafHours, "2026-12-27")
	checkCases(t, s, []openCase{
		{"closure on a Sunday", paris(2026, 12, 27, 10, 0), false, paris(2026, 12, 28, 9, 0), time.Time{}},
		{"week before", paris(2026, 12, 18, 17, 0), false, paris(2026, 12, 21, 9, 0), time.Time{}},
		{"monday after", paris(2026, 12, 28, 10, 0), true, paris(2026, 12, 28, 13, 30), paris(2026, 12, 28, 12, 0)},
	})
	// Christmas Eve closed, then Christmas: next opening on Monday 28.
	s = mustSchedule(t, cafHours, "2026-12-24")
	checkCases(t, s, []openCase{
		{"closed on a weekday", paris(2026, 12, 24, 10, 0), false, paris(2026, 12, 28, 9, 0), time.Time{}},
		{"eve of the closure", paris(2026, 12, 23, 17, 0), false, paris(2026, 12, 28, 9, 0), time.Time{}},
	})
	if !s.ClosedOn(paris(2026, 12, 24, 15, 0)) || !s.ClosedOn(paris(2026, 12, 25, 15, 0)) || s.ClosedOn(paris(2026, 12, 23, 15, 0)) {
		t.Error("ClosedOn: want 24 and 25 December closed, 23 open")
	}
}

func TestSummerTime(t *testing.T) {
	s := mustSchedule(t, []string{"mon-sun 09:00-12:00"})
	checkCases(t, s, []openCase{
		// 2026-03-29: 02:00 CET becomes 03:00 CEST; 09:00 local is 07:00 UTC.
		{"spring night", utc(2026, 3, 29, 0, 30), false, utc(2026, 3, 29, 7, 0), time.Time{}},
		{"spring opening", paris(2026, 3, 29, 9, 0), true, utc(2026, 3, 30, 7, 0), utc(2026, 3, 29, 10, 0)},
		{"spring morning", paris(2026, 3, 29, 11, 59), true, utc(2026, 3, 30, 7, 0), utc(2026, 3, 29, 10, 0)},
		{"spring, the evening before", paris(2026, 3, 28, 12, 0), false, utc(2026, 3, 29, 7, 0), time.Time{}},
		{"spring, 08:59 local is still closed", utc(2026, 3, 29, 6, 59), false, utc(2026, 3, 29, 7, 0), time.Time{}},
		// 2026-10-25: 03:00 CEST becomes 02:00 CET; 09:00 local is 08:00 UTC.
		{"autumn 02:30, first time", utc(2026, 10, 25, 0, 30), false, utc(2026, 10, 25, 8, 0), time.Time{}},
		{"autumn 02:30, second time", utc(2026, 10, 25, 1, 30), false, utc(2026, 10, 25, 8, 0), time.Time{}},
		{"autumn 02:30 as a local time", paris(2026, 10, 25, 2, 30), false, utc(2026, 10, 25, 8, 0), time.Time{}},
		{"autumn opening", paris(2026, 10, 25, 9, 0), true, utc(2026, 10, 26, 8, 0), utc(2026, 10, 25, 11, 0)},
		{"autumn, 09:00 CEST clock is 08:00 CET", utc(2026, 10, 25, 7, 0), false, utc(2026, 10, 25, 8, 0), time.Time{}},
		{"autumn, the evening before", paris(2026, 10, 24, 12, 0), false, utc(2026, 10, 25, 8, 0), time.Time{}},
		// 2027-03-28, Easter Sunday (not a public holiday; Monday is).
		{"spring 2027", utc(2027, 3, 28, 0, 0), false, utc(2027, 3, 28, 7, 0), time.Time{}},
		{"spring 2027 morning", paris(2027, 3, 28, 10, 0), true, utc(2027, 3, 30, 7, 0), utc(2027, 3, 28, 10, 0)},
	})

	// Ranges in the changing hour follow the wall clock.
	checkCases(t, mustSchedule(t, []string{"sun 02:30-04:00"}), []openCase{
		{"range starting in the skipped hour opens at the jump", utc(2026, 3, 29, 0, 30), false, utc(2026, 3, 29, 1, 0), time.Time{}},
		{"after the jump", utc(2026, 3, 29, 1, 0), true, utc(2026, 4, 5, 0, 30), utc(2026, 3, 29, 2, 0)},
	})
	checkCases(t, mustSchedule(t, []string{"sun 02:00-02:30"}), []openCase{
		{"range inside the skipped hour never opens that day", utc(2026, 3, 29, 0, 0), false, utc(2026, 4, 5, 0, 0), time.Time{}},
	})
	checkCases(t, mustSchedule(t, []string{"sun 01:00-02:30"}), []openCase{
		{"spring: closes at the jump", utc(2026, 3, 29, 0, 45), true, utc(2026, 4, 4, 23, 0), utc(2026, 3, 29, 1, 0)},
		{"autumn: first 02:00-02:30", utc(2026, 10, 25, 0, 15), true, utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 0, 30)},
		{"autumn: reopens for the repeated 02:00-02:30", utc(2026, 10, 25, 0, 40), false, utc(2026, 10, 25, 1, 0), time.Time{}},
		{"autumn: second 02:00-02:30; 1 November is a holiday", utc(2026, 10, 25, 1, 10), true, utc(2026, 11, 8, 0, 0), utc(2026, 10, 25, 1, 30)},
	})
}

func TestMidnight(t *testing.T) {
	// A range to 24:00 followed by one from 00:00 is one opening period.
	s := mustSchedule(t, []string{"fri 20:00-24:00", "sat 00:00-02:00"})
	checkCases(t, s, []openCase{
		{"friday night", paris(2026, 11, 27, 21, 0), true, paris(2026, 12, 4, 20, 0), paris(2026, 11, 28, 2, 0)},
		{"last minute of friday", paris(2026, 11, 27, 23, 59), true, paris(2026, 12, 4, 20, 0), paris(2026, 11, 28, 2, 0)},
		{"after midnight", paris(2026, 11, 28, 0, 0), true, paris(2026, 12, 4, 20, 0), paris(2026, 11, 28, 2, 0)},
		{"after closing", paris(2026, 11, 28, 2, 0), false, paris(2026, 12, 4, 20, 0), time.Time{}},
	})
	// Overlapping and touching ranges make one opening period.
	s = mustSchedule(t, []string{"mon-fri 09:00-12:00", "tue 11:00-12:30", "tue 12:30-14:00", "tue 15:00-16:00"})
	checkCases(t, s, []openCase{
		{"overlap", paris(2026, 11, 24, 10, 0), true, paris(2026, 11, 24, 15, 0), paris(2026, 11, 24, 14, 0)},
		{"touching", paris(2026, 11, 24, 12, 45), true, paris(2026, 11, 24, 15, 0), paris(2026, 11, 24, 14, 0)},
		{"gap", paris(2026, 11, 24, 14, 30), false, paris(2026, 11, 24, 15, 0), time.Time{}},
		{"other day", paris(2026, 11, 25, 10, 0), true, paris(2026, 11, 26, 9, 0), paris(2026, 11, 25, 12, 0)},
	})
	s = mustSchedule(t, []string{"mon 09:00-17:00", "mon 09:00-10:00", "mon 10:00-11:00"})
	checkCases(t, s, []openCase{
		{"ranges inside a range", paris(2026, 11, 23, 9, 30), true, paris(2026, 11, 30, 9, 0), paris(2026, 11, 23, 17, 0)},
	})
	// Up to 24:00 every day, but 25 December is a holiday.
	s = mustSchedule(t, []string{"mon-sun 18:00-24:00"})
	checkCases(t, s, []openCase{
		{"24:00 end", paris(2026, 11, 24, 23, 30), true, paris(2026, 11, 25, 18, 0), paris(2026, 11, 25, 0, 0)},
		{"christmas eve night", paris(2026, 12, 24, 23, 0), true, paris(2026, 12, 26, 18, 0), paris(2026, 12, 25, 0, 0)},
	})
	// Open day and night: still closed on public holidays.
	s = mustSchedule(t, []string{"mon-sun 00:00-24:00"})
	checkCases(t, s, []openCase{
		{"open until the holiday", paris(2026, 11, 24, 10, 0), true, paris(2026, 12, 26, 0, 0), paris(2026, 12, 25, 0, 0)},
		{"on the holiday", paris(2026, 12, 25, 10, 0), false, paris(2026, 12, 26, 0, 0), time.Time{}},
	})
}

func TestNoRanges(t *testing.T) {
	for name, s := range map[string]Schedule{
		"zero":            {},
		"no ranges":       mustSchedule(t, nil),
		"only closed day": mustSchedule(t, nil, "2026-12-24"),
	} {
		for _, now := range []time.Time{paris(2026, 11, 24, 10, 0), paris(2026, 10, 25, 2, 30)} {
			if s.Open(now) {
				t.Errorf("%s: open at %v", name, now)
			}
			if next, ok := s.NextOpening(now); ok {
				t.Errorf("%s: NextOpening(%v) = %v, want none", name, now, next)
			}
			if c, ok := s.ClosesAt(now); ok {
				t.Errorf("%s: ClosesAt(%v) = %v, want none", name, now, c)
			}
		}
		if len(s.Ranges()) != 0 {
			t.Errorf("%s: Ranges() = %v", name, s.Ranges())
		}
	}
}

func TestNewScheduleErrors(t *testing.T) {
	if _, err := NewSchedule([]string{"mon-fri 09:00-12:00", "mon 10:00-09:00"}, nil, nil); err == nil {
		t.Error("bad hours accepted")
	}
	if _, err := NewSchedule(cafHours, []string{"24/12/2026"}, nil); err == nil {
		t.Error("bad closing date accepted")
	}
	s := mustSchedule(t, cafHours)
	rs := s.Ranges()
	if len(rs) != 2 || rs[0].String() != "lun.-ven. 09:00-12:00" || rs[1].String() != "lun., mar., jeu. 13:30-16:30" {
		t.Errorf("Ranges() = %v", rs)
	}
	rs[0].Start = 0 // a copy
	if s.Ranges()[0].Start != 9*60 {
		t.Error("Ranges() shares its slice with the schedule")
	}
	if s.Location() != Paris() {
		t.Errorf("Location() = %v, want Europe/Paris", s.Location())
	}
}

func TestOtherLocation(t *testing.T) {
	reunion, err := time.LoadLocation("Indian/Reunion") // UTC+4, no summer time
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSchedule(cafHours, nil, reunion)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, reunion)
	next, ok := s.NextOpening(now)
	if want := time.Date(2026, 11, 24, 9, 0, 0, 0, reunion); !ok || !next.Equal(want) {
		t.Errorf("NextOpening = %v, %v; want %v", next, ok, want)
	}
	if !s.Open(utc(2026, 11, 24, 5, 30)) { // 09:30 in Réunion
		t.Error("closed at 09:30 local")
	}
}

// TestConsistency checks NextOpening and ClosesAt against Open minute by
// minute over summer-time switches and ordinary weeks: the answers must be
// exactly where Open changes.
func TestConsistency(t *testing.T) {
	schedules := [][]string{
		cafHours,
		{"mon-sun 09:00-12:00"},
		{"sun 02:30-04:00"},
		{"sun 02:00-02:30"},
		{"sun 01:00-02:30"},
		{"sun 02:15-02:45", "sun 03:00-03:30"},
		{"sat 20:00-24:00", "sun 00:00-02:30"},
		{"mon-sun 00:00-24:00"},
		{"mon-sun 00:00-01:00", "mon-sun 23:00-24:00"},
		{"mon-sun 09:00-12:00", "sun 12:00-13:00", "sun 02:00-03:00", "sun 02:30-03:30"},
	}
	windows := [][2]time.Time{
		{utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0)},
		{utc(2026, 10, 24, 0, 0), utc(2026, 10, 26, 12, 0)},
		{utc(2027, 3, 27, 0, 0), utc(2027, 3, 29, 0, 0)},
		{utc(2026, 11, 23, 0, 0), utc(2026, 11, 30, 0, 0)},
		{utc(2026, 12, 23, 0, 0), utc(2026, 12, 29, 0, 0)},
	}
	for _, hours := range schedules {
		s := mustSchedule(t, hours)
		for _, w := range windows {
			n := int(w[1].Sub(w[0]) / time.Minute)
			at := func(i int) time.Time { return w[0].Add(time.Duration(i) * time.Minute) }
			open := make([]bool, n)
			for i := range open {
				open[i] = s.Open(at(i))
			}
			// nextOpen[i], nextClosed[i]: first sample at or after i that is
			// open / closed; n if none in the window.
			nextOpen, nextClosed := make([]int, n+1), make([]int, n+1)
			nextOpen[n], nextClosed[n] = n, n
			for i := n - 1; i >= 0; i-- {
				nextOpen[i], nextClosed[i] = nextOpen[i+1], nextClosed[i+1]
				if open[i] {
					nextOpen[i] = i
				} else {
					nextClosed[i] = i
				}
			}
			errs := 0
			for i := 0; i < n && errs < 5; i++ {
				now := at(i)
				where := fmt.Sprintf("%v at %v (%v)", hours, now, now.In(Paris()))
				c, cok := s.ClosesAt(now)
				if open[i] {
					j := nextClosed[i]
					switch {
					case j < n && (!cok || !c.Equal(at(j))):
						t.Errorf("%s: ClosesAt = %v, %v; want %v", where, c, cok, at(j))
						errs++
					case j == n && cok && c.Before(w[1]):
						t.Errorf("%s: ClosesAt = %v inside a window open until its end", where, c)
						errs++
					}
				} else if cok {
					t.Errorf("%s: ClosesAt = %v while closed", where, c)
					errs++
				}
				next, ok := s.NextOpening(now)
				if ok && (!next.After(now) || !s.Open(next)) {
					t.Errorf("%s: NextOpening = %v, not after now or not open", where, next)
					errs++
					continue
				}
				j := nextOpen[i]
				if open[i] {
					j = nextOpen[nextClosed[i]]
				}
				switch {
				case j < n && (!ok || !next.Equal(at(j))):
					t.Errorf("%s: NextOpening = %v, %v; want %v", where, next, ok, at(j))
					errs++
				case j == n && ok && next.Before(w[1]):
					t.Errorf("%s: NextOpening = %v, but closed until the window's end", where, next)
					errs++
				}
			}
		}
	}
}

func TestHolidays(t *testing.T) {
	want := map[int][]string{
		2026: {"01-01", "04-06", "05-01", "05-08", "05-14", "05-25", "07-14", "08-15", "11-01", "11-11", "12-25"},
		2027: {"01-01", "03-29", "05-01", "05-06", "05-08", "05-17", "07-14", "08-15", "11-01", "11-11", "12-25"},
	}
	for year, dates := range want {
		var got []string
		for d := time.Date(year, 1, 1, 12, 0, 0, 0, time.UTC); d.Year() == year; d = d.AddDate(0, 0, 1) {
			if isHoliday(civilDate{d.Year(), d.Month(), d.Day()}) {
				got = append(got, d.Format("01-02"))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(dates) {
			t.Errorf("holidays of %d = %v, want %v", year, got, dates)
		}
	}
}

func BenchmarkNextOpening(b *testing.B) {
	caf := mustSchedule(b, cafHours)
	// Worst case: closed every day for more than a year, so the whole
	// horizon is searched.
	var closed []string
	for d := utc(2026, 11, 1, 12, 0); d.Year() < 2028; d = d.AddDate(0, 0, 1) {
		closed = append(closed, d.Format(time.DateOnly))
	}
	never := mustSchedule(b, []string{"mon-fri 09:00-12:00"}, closed...)
	cases := []struct {
		name string
		s    Schedule
		now  time.Time
		ok   bool
	}{
		{"friday evening", caf, paris(2026, 11, 27, 17, 0), true},
		{"open now", caf, paris(2026, 11, 24, 10, 0), true},
		{"christmas", caf, paris(2026, 12, 24, 17, 0), true},
		{"autumn switch", caf, paris(2026, 10, 25, 2, 30), true},
		{"closed all year", never, paris(2026, 11, 24, 10, 0), false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := c.s.NextOpening(c.now); ok != c.ok {
					b.Fatalf("NextOpening: ok = %v", ok)
				}
			}
		})
	}
}

func TestOpenOnHolidays(t *testing.T) {
	loc := Paris()
	christmas := time.Date(2026, 12, 25, 10, 0, 0, 0, loc)
	s, err := NewSchedule([]string{"mon-sun 00:00-24:00"}, []string{"2026-12-26"}, loc)
	if err != nil {
		t.Fatal(err)
	}
	if s.Open(christmas) {
		t.Fatal("a plain schedule is open on Christmas")
	}
	always := s.OpenOnHolidays()
	if !always.Open(christmas) {
		t.Fatal("open_on_holidays closed on Christmas")
	}
	if always.Open(christmas.AddDate(0, 0, 1)) {
		t.Fatal("a closing date no longer closes")
	}
	op, err := New(Spec{ID: "essai", Name: "Essai", Hours: []string{"mon-sun 00:00-24:00"}, OpenOnHolidays: true}, loc)
	if err != nil || !op.Open(christmas) {
		t.Fatalf("spec open_on_holidays: %v %v", op.Open(christmas), err)
	}
}
