package operators

import (
	"strings"
	"testing"
	"time"
)

// days builds a Days array from weekdays.
func days(wds ...time.Weekday) [7]bool {
	var d [7]bool
	for _, wd := range wds {
		d[wd] = true
	}
	return d
}

const (
	sun = time.Sunday
	mon = time.Monday
	tue = time.Tuesday
	wed = time.Wednesday
	thu = time.Thursday
	fri = time.Friday
	sat = time.Saturday
)

func TestParseRangeValid(t *testing.T) {
	tests := []struct {
		in   string
		want Range
	}{
		{"mon-fri 09:00-12:00", Range{days(mon, tue, wed, thu, fri), 9 * 60, 12 * 60}},
		{"sat 09:00-12:00", Range{days(sat), 9 * 60, 12 * 60}},
		{"mon,wed,fri 14:00-17:00", Range{days(mon, wed, fri), 14 * 60, 17 * 60}},
		{"tue-thu 13:30-16:30", Range{days(tue, wed, thu), 13*60 + 30, 16*60 + 30}},
		{"fri-mon 10:00-11:00", Range{days(fri, sat, sun, mon), 10 * 60, 11 * 60}},
		{"sat-mon 10:00-11:00", Range{days(sat, sun, mon), 10 * 60, 11 * 60}},
		{"sun-sat 00:00-24:00", Range{days(sun, mon, tue, wed, thu, fri, sat), 0, 24 * 60}},
		{"mon-wed,fri 08:30-12:00", Range{days(mon, tue, wed, fri), 8*60 + 30, 12 * 60}},
		{"lun-ven 09:00-12:00", Range{days(mon, tue, wed, thu, fri), 9 * 60, 12 * 60}},
		{"mar,jeu 09:00-12:00", Range{days(tue, thu), 9 * 60, 12 * 60}},
		{"sam-dim 09:00-12:00", Range{days(sat, sun), 9 * 60, 12 * 60}},
		{"lun.-ven. 09:00-12:00", Range{days(mon, tue, wed, thu, fri), 9 * 60, 12 * 60}},
		{"lun., mar., jeu. 13:30-16:30", Range{days(mon, tue, thu), 13*60 + 30, 16*60 + 30}},
		{"  MON-Fri   9:00 - 12:00 ", Range{days(mon, tue, wed, thu, fri), 9 * 60, 12 * 60}},
		{"mon 9h-12h", Range{days(mon), 9 * 60, 12 * 60}},
		{"mon 9h30-12h15", Range{days(mon), 9*60 + 30, 12*60 + 15}},
		{"monday,friday 20:00-24:00", Range{days(mon, fri), 20 * 60, 24 * 60}},
		{"dimanche 00:00-00:01", Range{days(sun), 0, 1}},
		{"mon,mon 09:00-10:00", Range{days(mon), 9 * 60, 10 * 60}},
	}
	for _, tt := range tests {
		got, err := ParseRange(tt.in)
		if err != nil {
			t.Errorf("ParseRange(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseRange(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseRangeInvalid(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // a part of the message
	}{
		{"", "empty opening range"},
		{"   ", "empty opening range"},
		{"mon-fri", `"mon-fri": the opening times are missing`},
		{"09:00-12:00", "the days are missing"},
		{"xyz 09:00-12:00", `"xyz": unknown day`},
		{"mo-fr 09:00-12:00", `"mo": unknown day`},
		{"mon-fri 09:00-08:00", `"09:00-08:00": closing time must be after opening time`},
		{"mon 09:00-09:00", `"09:00-09:00": closing time must be after opening time`},
		{"mon 25:00-26:00", `"25:00": hours go from 00 to 24`},
		{"mon 09:60-10:00", `"09:60": minutes go from 00 to 59`},
		{"mon 09:00-24:30", `"24:30": the latest time is 24:00`},
		{"mon 0900-1200", `"0900": write times as HH:MM`},
		{"mon 9:0-12:00", `"9:0": write times as HH:MM`},
		{"mon 123:00-130:00", `"123:00": write times as HH:MM`},
		{"mon 09:00", `"09:00": write the opening and closing times as HH:MM-HH:MM`},
		{"mon 09:00-", `write the opening and closing times`},
		{"mon 09:00-12:00-14:00", "one time span per range"},
		{"mon 09:00-12:00, 13:30-16:30", "one time span per range"},
		{"mon-mon 09:00-12:00", `"mon-mon": a span of days needs two different days`},
		{"mon-tue-wed 09:00-12:00", `"mon-tue-wed": write a span of days as first-last`},
		{"mon,,fri 09:00-12:00", "a day is missing around a comma"},
		{",mon 09:00-12:00", "a day is missing around a comma"},
		{"mon- 09:00-12:00", "a day is missing around the dash"},
		{"mon 09:00-12:00 extra", "write times as HH:MM"},
		{"mon 9:00am-12:00", "write times as HH:MM"},
		{"mon -09:00-12:00", "a day is missing around the dash"},
	}
	for _, tt := range tests {
		_, err := ParseRange(tt.in)
		if err == nil {
			t.Errorf("ParseRange(%q) succeeded, want an error with %q", tt.in, tt.wantErr)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.wantErr) {
			t.Errorf("ParseRange(%q) = %q, want it to contain %q", tt.in, msg, tt.wantErr)
		}
		if strings.ContainsAny(msg, "\n\r") {
			t.Errorf("ParseRange(%q): error spans several lines: %q", tt.in, msg)
		}
	}
}

func TestParseDate(t *testing.T) {
	good := map[string]time.Time{
		"2026-12-24":   time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC),
		" 2027-01-01 ": time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		"2028-02-29":   time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC),
	}
	for in, want := range good {
		got, err := ParseDate(in)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":            "empty date",
		"2026-13-01":  `"2026-13-01": no such date`,
		"2027-02-29":  `"2027-02-29": no such date`,
		"2026-12-32":  "no such date",
		"24/12/2026":  "write dates as YYYY-MM-DD",
		"2026-1-5":    "write dates as YYYY-MM-DD",
		"2026-12-24x": "write dates as YYYY-MM-DD",
		"demain":      "write dates as YYYY-MM-DD",
	}
	for in, want := range bad {
		_, err := ParseDate(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseDate(%q) error = %v, want it to contain %q", in, err, want)
		}
	}
}

func TestRangeFormat(t *testing.T) {
	tests := []struct {
		in     string
		fr, en string
	}{
		{"mon-fri 09:00-12:00", "lun.-ven. 09:00-12:00", "Mon-Fri 09:00-12:00"},
		{"mon,tue,thu 13:30-16:30", "lun., mar., jeu. 13:30-16:30", "Mon, Tue, Thu 13:30-16:30"},
		{"sat 09:00-12:00", "sam. 09:00-12:00", "Sat 09:00-12:00"},
		{"fri-mon 10:00-11:00", "ven.-lun. 10:00-11:00", "Fri-Mon 10:00-11:00"},
		{"sat-sun 08:00-24:00", "sam., dim. 08:00-24:00", "Sat, Sun 08:00-24:00"},
		{"mon-sun 00:00-24:00", "lun.-dim. 00:00-24:00", "Mon-Sun 00:00-24:00"},
		{"mon-wed,fri 09:05-09:10", "lun.-mer., ven. 09:05-09:10", "Mon-Wed, Fri 09:05-09:10"},
		{"mon,sun 09:00-10:00", "dim., lun. 09:00-10:00", "Sun, Mon 09:00-10:00"},
	}
	for _, tt := range tests {
		r, err := ParseRange(tt.in)
		if err != nil {
			t.Fatalf("ParseRange(%q): %v", tt.in, err)
		}
		if got := r.String(); got != tt.fr {
			t.Errorf("%q.String() = %q, want %q", tt.in, got, tt.fr)
		}
		if got := r.Format("fr"); got != tt.fr {
			t.Errorf("%q.Format(fr) = %q, want %q", tt.in, got, tt.fr)
		}
		if got := r.Format("en"); got != tt.en {
			t.Errorf("%q.Format(en) = %q, want %q", tt.in, got, tt.en)
		}
		// What the screen shows reads back as the same range.
		for _, s := range []string{r.String(), r.Format("en")} {
			back, err := ParseRange(s)
			if err != nil || back != r {
				t.Errorf("ParseRange(%q) = %+v, %v; want %+v", s, back, err, r)
			}
		}
	}
}
