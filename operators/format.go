package operators

import (
	"strconv"
	"time"
)

var (
	frMonths = [13]string{"", "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."}
	enMonths = [13]string{"", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// FormatOpening writes a next opening t short enough for a tile, in lang
// ("en" or French), seen from now; both are read in t's location.
//
//	French:  "aujourd'hui 14:00", "demain 9:00", "lun. 9:00", "lun. 4 janv. 9:00"
//	English: "today 14:00",       "tomorrow 9:00", "Mon 9:00", "Mon 4 Jan 9:00"
//
// The weekday alone is used within the coming week; further away (after a
// holiday period, say) the date is added so it cannot be mistaken.
func FormatOpening(t, now time.Time, lang string) string {
	en := baseLang(lang) == "en"
	now = now.In(t.Location())
	hm := clock(t.Hour()*60+t.Minute(), false)
	ty, tm, td := t.Date()
	ny, nm, nd := now.Date()
	days := int(time.Date(ty, tm, td, 12, 0, 0, 0, time.UTC).Sub(time.Date(ny, nm, nd, 12, 0, 0, 0, time.UTC)).Hours() / 24)
	switch {
	case days == 0 && en:
		return "today " + hm
	case days == 0:
		return "aujourd'hui " + hm
	case days == 1 && en:
		return "tomorrow " + hm
	case days == 1:
		return "demain " + hm
	case days > 1 && days < 7 && en:
		return enDays[t.Weekday()] + " " + hm
	case days > 1 && days < 7:
		return frDays[t.Weekday()] + " " + hm
	case en:
		return enDays[t.Weekday()] + " " + strconv.Itoa(td) + " " + enMonths[tm] + " " + hm
	default:
		return frDays[t.Weekday()] + " " + strconv.Itoa(td) + " " + frMonths[tm] + " " + hm
	}
}
