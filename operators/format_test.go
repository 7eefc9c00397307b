package operators

import (
	"testing"
	"time"
)

func TestFormatOpening(t *testing.T) {
	now := paris(2026, 11, 24, 10, 0) // a Tuesday
	tests := []struct {
		t      time.Time
		fr, en string
	}{
		{paris(2026, 11, 24, 14, 0), "aujourd'hui 14:00", "today 14:00"},
		{paris(2026, 11, 24, 13, 30), "aujourd'hui 13:30", "today 13:30"},
		{paris(2026, 11, 25, 9, 0), "demain 9:00", "tomorrow 9:00"},
		{paris(2026, 11, 26, 9, 0), "jeu. 9:00", "Thu 9:00"},
		{paris(2026, 11, 30, 9, 0), "lun. 9:00", "Mon 9:00"},
		{paris(2026, 11, 29, 0, 5), "dim. 0:05", "Sun 0:05"},
		{paris(2026, 12, 1, 9, 0), "mar. 1 déc. 9:00", "Tue 1 Dec 9:00"},
		{paris(2027, 1, 4, 9, 0), "lun. 4 janv. 9:00", "Mon 4 Jan 9:00"},
	}
	for _, tt := range tests {
		if got := FormatOpening(tt.t, now, "fr"); got != tt.fr {
			t.Errorf("FormatOpening(%v, fr) = %q, want %q", tt.t, got, tt.fr)
		}
		if got := FormatOpening(tt.t, now, "en"); got != tt.en {
			t.Errorf("FormatOpening(%v, en) = %q, want %q", tt.t, got, tt.en)
		}
	}
	// Days are counted in t's location: at 23:30 UTC it is already
	// Wednesday in Paris, so Wednesday 9:00 is "today".
	late := utc(2026, 11, 24, 23, 30)
	if got := FormatOpening(paris(2026, 11, 25, 9, 0), late, "fr"); got != "aujourd'hui 9:00" {
		t.Errorf("across midnight UTC: %q", got)
	}
	// The day after the autumn switch (a 25-hour day) is still "demain".
	if got := FormatOpening(paris(2026, 10, 26, 9, 0), paris(2026, 10, 25, 1, 0), "en-GB"); got != "tomorrow 9:00" {
		t.Errorf("across the autumn switch: %q", got)
	}
	// With NextOpening, as a tile shows it.
	s := mustSchedule(t, cafHours)
	next, _ := s.NextOpening(paris(2026, 11, 27, 17, 0))
	if got := FormatOpening(next, paris(2026, 11, 27, 17, 0), "fr"); got != "lun. 9:00" {
		t.Errorf("friday evening: %q, want %q", got, "lun. 9:00")
	}
}

func TestFormatDate(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, c := range []struct {
		t          time.Time
		lang, want string
	}{
		{time.Date(2026, 12, 7, 9, 0, 0, 0, paris), "fr", "lundi 7 décembre 2026 à 9:00"},
		{time.Date(2026, 12, 1, 13, 30, 0, 0, paris), "fr", "mardi 1er décembre 2026 à 13:30"},
		{time.Date(2026, 12, 7, 9, 0, 0, 0, paris), "en", "Monday 7 December 2026 at 9:00"},
		{time.Date(2027, 2, 3, 14, 5, 0, 0, paris), "en-GB", "Wednesday 3 February 2027 at 14:05"},
	} {
		if got := FormatDate(c.t, c.lang); got != c.want {
			t.Errorf("FormatDate(%v, %s) = %q, want %q", c.t, c.lang, got, c.want)
		}
	}
}
