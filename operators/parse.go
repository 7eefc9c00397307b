package operators

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

var dayNames = map[string]time.Weekday{
	"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday,
	"monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday, "sunday": time.Sunday,
	"lun": time.Monday, "mar": time.Tuesday, "mer": time.Wednesday, "jeu": time.Thursday,
	"ven": time.Friday, "sam": time.Saturday, "dim": time.Sunday,
	"lundi": time.Monday, "mardi": time.Tuesday, "mercredi": time.Wednesday, "jeudi": time.Thursday,
	"vendredi": time.Friday, "samedi": time.Saturday, "dimanche": time.Sunday,
}

const rangeExample = `like "mon-fri 09:00-12:00"`

// ParseRange reads one weekly opening range: days, then a time span.
//
// Days are mon tue wed thu fri sat sun (or lun mar mer jeu ven sam dim, or
// whole names), listed with commas and spans with a dash: "mon-fri",
// "mon,wed,fri", "mon-wed,fri". A span may wrap the week end: "fri-mon" is
// Friday to Monday. Times are HH:MM from 00:00 to 24:00 (also "9:00" and
// "9h30"), the closing time after the opening time: a range over midnight
// is written as two, "fri 20:00-24:00" and "sat 00:00-02:00", which then
// make one opening period. Case and spaces do not matter. Errors are one
// line naming the faulty part.
func ParseRange(s string) (Range, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Range{}, errors.New("empty opening range: write days and times " + rangeExample)
	}
	i := strings.IndexAny(s, "0123456789")
	if i < 0 {
		return Range{}, fmt.Errorf("%q: the opening times are missing, write them after the days, %s", s, rangeExample)
	}
	daysPart := strings.Join(strings.Fields(s[:i]), "")
	timesPart := strings.TrimSpace(s[i:])
	if daysPart == "" {
		return Range{}, fmt.Errorf("%q: the days are missing, write them before the times, %s", s, rangeExample)
	}
	var r Range
	var err error
	if r.Days, err = parseDays(daysPart); err != nil {
		return Range{}, err
	}
	if r.Start, r.End, err = parseTimes(timesPart); err != nil {
		return Range{}, err
	}
	return r, nil
}

func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	for item := range strings.SplitSeq(strings.ToLower(s), ",") {
		if item == "" {
			return days, fmt.Errorf("%q: a day is missing around a comma", s)
		}
		ends := strings.Split(item, "-")
		if len(ends) > 2 {
			return days, fmt.Errorf("%q: write a span of days as first-last, like \"mon-fri\"", item)
		}
		var wd [2]time.Weekday
		for j, name := range ends {
			d, ok := dayNames[strings.TrimSuffix(name, ".")]
			if !ok {
				if name == "" {
					return days, fmt.Errorf("%q: a day is missing around the dash", item)
				}
				return days, fmt.Errorf("%q: unknown day, use mon tue wed thu fri sat sun", name)
			}
			wd[j] = d
		}
		if len(ends) == 1 {
			days[wd[0]] = true
			continue
		}
		if wd[0] == wd[1] {
			return days, fmt.Errorf("%q: a span of days needs two different days", item)
		}
		for d := wd[0]; ; d = (d + 1) % 7 {
			days[d] = true
			if d == wd[1] {
				break
			}
		}
	}
	return days, nil
}

func parseTimes(s string) (start, end int, err error) {
	compact := strings.Join(strings.Fields(s), "")
	parts := strings.Split(compact, "-")
	if len(parts) > 2 || strings.Contains(compact, ",") {
		return 0, 0, fmt.Errorf("%q: one time span per range, write \"mon-fri 09:00-12:00\" and \"mon-fri 13:30-16:30\" as two ranges", s)
	}
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return 0, 0, fmt.Errorf("%q: write the opening and closing times as HH:MM-HH:MM, like \"09:00-12:00\"", s)
	}
	if start, err = parseClock(parts[0]); err != nil {
		return 0, 0, err
	}
	if end, err = parseClock(parts[1]); err != nil {
		return 0, 0, err
	}
	if end <= start {
		return 0, 0, fmt.Errorf("%q: closing time must be after opening time", compact)
	}
	return start, end, nil
}

// parseClock reads "09:00", "9:00", "9h00" or "9h" as minutes since midnight.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.ToLower(s), ":")
	if !ok {
		h, m, ok = strings.Cut(strings.ToLower(s), "h")
		if ok && m == "" {
			m = "00"
		}
	}
	if !ok || !digits(h, 1, 2) || !digits(m, 2, 2) {
		return 0, fmt.Errorf("%q: write times as HH:MM, like \"09:00\"", s)
	}
	hh, mm := atoi(h), atoi(m)
	switch {
	case hh > 24:
		return 0, fmt.Errorf("%q: hours go from 00 to 24", s)
	case mm > 59:
		return 0, fmt.Errorf("%q: minutes go from 00 to 59", s)
	case hh == 24 && mm != 0:
		return 0, fmt.Errorf("%q: the latest time is 24:00", s)
	}
	return hh*60 + mm, nil
}

func digits(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	n := 0
	for _, c := range []byte(s) {
		n = n*10 + int(c-'0')
	}
	return n
}

// ParseDate reads a date written YYYY-MM-DD ("2026-12-24"). The result is
// at midnight UTC: only its year, month and day matter.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		if strings.TrimSpace(s) == "" {
			return time.Time{}, errors.New(`empty date: write it as YYYY-MM-DD, like "2026-12-24"`)
		}
		var pe *time.ParseError
		if errors.As(err, &pe) && strings.Contains(pe.Message, "out of range") {
			return time.Time{}, fmt.Errorf("%q: no such date", s)
		}
		return time.Time{}, fmt.Errorf("%q: write dates as YYYY-MM-DD, like \"2026-12-24\"", s)
	}
	return t, nil
}

var (
	frDays = [7]string{"dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."}
	enDays = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
)

// String returns the range in compact French for the screen:
// "lun.-ven. 09:00-12:00", "lun., mar., jeu. 13:30-16:30".
func (r Range) String() string { return r.Format(DefaultLanguage) }

// Format returns the range in compact form in lang: "en" gives
// "Mon-Fri 09:00-12:00", anything else French (see String). Three or more
// days in a row are written as a span; a span may wrap the week end
// ("ven.-lun.").
func (r Range) Format(lang string) string {
	names := frDays
	if baseLang(lang) == "en" {
		names = enDays
	}
	days := formatDays(r.Days, names)
	times := clock(r.Start, true) + "-" + clock(r.End, true)
	if days == "" {
		return times
	}
	return days + " " + times
}

func formatDays(days [7]bool, names [7]string) string {
	n := 0
	for _, on := range days {
		if on {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	if n == 7 {
		return names[time.Monday] + "-" + names[time.Sunday]
	}
	// Start on the first day, Monday first, that follows a day off, so that
	// a span over the week end stays in one piece.
	first := time.Monday
	for i := range 7 {
		d := (time.Monday + time.Weekday(i)) % 7
		if days[d] && !days[(d+6)%7] {
			first = d
			break
		}
	}
	var parts []string
	for i := 0; i < 7; {
		d := (first + time.Weekday(i)) % 7
		if !days[d] {
			i++
			continue
		}
		j := i
		for j+1 < 7 && days[(first+time.Weekday(j+1))%7] {
			j++
		}
		last := (first + time.Weekday(j)) % 7
		switch j - i {
		case 0:
			parts = append(parts, names[d])
		case 1:
			parts = append(parts, names[d], names[last])
		default:
			parts = append(parts, names[d]+"-"+names[last])
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// clock formats minutes since midnight as "09:00" (pad) or "9:00".
func clock(min int, pad bool) string {
	if pad {
		return fmt.Sprintf("%02d:%02d", min/60, min%60)
	}
	return fmt.Sprintf("%d:%02d", min/60, min%60)
}
