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

var (
	frDayNames   = [7]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"}
	enDayNames   = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	frMonthNames = [13]string{"", "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
)

// FormatDate writes t in full, in lang, with no word that depends on the
// day it is read ("today"): for paper taken home.
//
//	French:  "lundi 7 décembre 2026 à 9:00"
//	English: "Monday 7 December 2026 at 9:00"
func FormatDate(t time.Time, lang string) string {
	hm := clock(t.Hour()*60+t.Minute(), false)
	y, mo, d := t.Date()
	if baseLang(lang) == "en" {
		return enDayNames[t.Weekday()] + " " + strconv.Itoa(d) + " " + mo.String() + " " + strconv.Itoa(y) + " at " + hm
	}
	day := strconv.Itoa(d)
	if d == 1 {
		day = "1er"
	}
	return frDayNames[t.Weekday()] + " " + day + " " + frMonthNames[mo] + " " + strconv.Itoa(y) + " à " + hm
}
