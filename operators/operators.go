// Package operators holds the partner operators a kiosk can call: the
// built-in Loiret catalog, a site's overrides, and their opening hours.
//
// Opening hours are weekly ranges in local wall-clock time ("mon-fri
// 09:00-12:00" means 9 to 12 on the clock of the schedule's location, on
// summer-time switch days too). A schedule is closed on French public
// holidays (metropolitan France, Whit Monday included) and on its own
// closing dates.
package operators

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // kiosks may lack /usr/share/zoneinfo
	"unicode"
)

// Text is the part of an operator a citizen reads, in one language.
type Text struct {
	Name      string   `toml:"name"`
	Summary   string   `toml:"summary"`
	Helps     []string `toml:"helps"`
	Documents []string `toml:"documents"`
}

// Spec is an operator as written in the catalog or in a site's config
// ([[operators.custom]]). French text is inline; other languages go in
// Translations, keyed by language code.
type Spec struct {
	ID        string   `toml:"id"`
	Name      string   `toml:"name"`
	Summary   string   `toml:"summary"`
	Helps     []string `toml:"helps"`
	Documents []string `toml:"documents"`
	Phone     string   `toml:"phone"`
	Website   string   `toml:"website"`
	Hours     []string `toml:"hours"`
	Closed    []string `toml:"closed"`
	Launch    []string `toml:"launch"`
	// VisioURL is the partner's web visio, opened by the shell in its own
	// browser; VisioEnd the addresses that mean the call is over (see
	// EndMatches). An operator has either Launch or VisioURL.
	VisioURL string   `toml:"visio_url"`
	VisioEnd []string `toml:"visio_end"`
	// OpenOnHolidays keeps the weekly hours on French public holidays.
	OpenOnHolidays bool            `toml:"open_on_holidays"`
	Forms          []Form          `toml:"forms"`
	Translations   map[string]Text `toml:"translations"`
}

// Form is a PDF form a site stocks for an operator, printed as it is.
type Form struct {
	Title string `toml:"title"` // the button's words, like "Demande de RSA"
	File  string `toml:"file"`  // absolute path of the PDF
}

// Operator is a resolved, ready-to-use operator.
type Operator struct {
	ID      string
	Phone   string
	Website string
	Launch  []string
	// VisioURL and VisioEnd describe a web visio (see Spec).
	VisioURL string
	VisioEnd []string
	Hours    Schedule
	Forms    []Form
	texts    map[string]Text // "fr" always present
}

// DefaultLanguage is the language of a Spec's inline text and the fallback
// of every other language.
const DefaultLanguage = "fr"

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// New resolves one spec into an operator whose hours are read in loc (nil
// means Europe/Paris). Text fields are cleaned of control characters.
func New(s Spec, loc *time.Location) (Operator, error) {
	if !idPattern.MatchString(s.ID) {
		if s.ID == "" {
			return Operator{}, fmt.Errorf("an operator has no id")
		}
		return Operator{}, fmt.Errorf("operator id %q: use only lowercase letters, digits, \"-\" and \"_\"", s.ID)
	}
	hours, err := NewSchedule(s.Hours, s.Closed, loc)
	if err != nil {
		return Operator{}, fmt.Errorf("operator %q: %w", s.ID, err)
	}
	if s.OpenOnHolidays {
		hours = hours.OpenOnHolidays()
	}
	fr := cleanText(Text{Name: s.Name, Summary: s.Summary, Helps: s.Helps, Documents: s.Documents})
	texts := map[string]Text{}
	for lang, t := range s.Translations {
		lang = normLang(lang)
		if lang == "" {
			return Operator{}, fmt.Errorf("operator %q: a translation has no language code", s.ID)
		}
		texts[lang] = overlay(texts[lang], cleanText(t))
	}
	// Inline French wins over a [translations.fr] table, which only fills gaps.
	texts[DefaultLanguage] = overlay(texts[DefaultLanguage], fr)
	if texts[DefaultLanguage].Name == "" {
		return Operator{}, fmt.Errorf("operator %q: name is missing", s.ID)
	}
	if len(s.Launch) > 0 && s.VisioURL != "" {
		return Operator{}, fmt.Errorf("operator %q has both launch and visio_url: give one or the other", s.ID)
	}
	if len(s.VisioEnd) > 0 && s.VisioURL == "" {
		return Operator{}, fmt.Errorf("operator %q has visio_end but no visio_url", s.ID)
	}
	var launch []string
	if len(s.Launch) > 0 {
		launch = append([]string(nil), s.Launch...)
	}
	forms := make([]Form, 0, len(s.Forms))
	for _, f := range s.Forms {
		forms = append(forms, Form{Title: cleanLine(f.Title), File: f.File})
	}
	return Operator{
		ID:       s.ID,
		Phone:    cleanLine(s.Phone),
		Website:  cleanLine(s.Website),
		Forms:    forms,
		Launch:   launch,
		VisioURL: s.VisioURL,
		VisioEnd: slices.Clone(s.VisioEnd),
		Hours:    hours,
		texts:    texts,
	}, nil
}

// Text returns the operator's text in lang ("en", "en-GB"…), each empty
// field falling back to French.
func (o Operator) Text(lang string) Text {
	fr := o.texts[DefaultLanguage]
	t, ok := o.texts[normLang(lang)]
	if !ok {
		t = o.texts[baseLang(lang)]
	}
	return overlay(fr, t)
}

// Languages returns the languages the operator has text in, French first.
func (o Operator) Languages() []string {
	out := []string{DefaultLanguage}
	for l := range o.texts {
		if l != DefaultLanguage {
			out = append(out, l)
		}
	}
	slices.Sort(out[1:])
	return out
}

// Callable reports whether the operator has a way to start a video
// session: a command, or a web visio.
func (o Operator) Callable() bool {
	return len(o.Launch) > 0 && strings.TrimSpace(o.Launch[0]) != "" || o.IsVisio()
}

// Open reports whether the operator answers calls at now.
func (o Operator) Open(now time.Time) bool { return o.Hours.Open(now) }

// NextOpening is Schedule.NextOpening on the operator's hours.
func (o Operator) NextOpening(now time.Time) (time.Time, bool) { return o.Hours.NextOpening(now) }

// ClosesAt is Schedule.ClosesAt on the operator's hours.
func (o Operator) ClosesAt(now time.Time) (time.Time, bool) { return o.Hours.ClosesAt(now) }

// overlay returns base with every non-empty field of top written over it.
func overlay(base, top Text) Text {
	if top.Name != "" {
		base.Name = top.Name
	}
	if top.Summary != "" {
		base.Summary = top.Summary
	}
	if len(top.Helps) > 0 {
		base.Helps = top.Helps
	}
	if len(top.Documents) > 0 {
		base.Documents = top.Documents
	}
	return base
}

func normLang(l string) string { return strings.ToLower(strings.TrimSpace(l)) }

// baseLang turns "en-GB" or "en_GB" into "en".
func baseLang(l string) string {
	l = normLang(l)
	if i := strings.IndexAny(l, "-_"); i > 0 {
		return l[:i]
	}
	return l
}

func cleanText(t Text) Text {
	return Text{
		Name:      cleanLine(t.Name),
		Summary:   cleanLine(t.Summary),
		Helps:     cleanLines(t.Helps),
		Documents: cleanLines(t.Documents),
	}
}

func cleanLines(in []string) []string {
	var out []string
	for _, s := range in {
		if s = cleanLine(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// cleanLine makes s safe to draw on the kiosk screen: white-space controls
// become spaces, other control and bidirectional-override characters go,
// runs of spaces shrink to one.
func cleanLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), isBidiControl(r), r == unicode.ReplacementChar:
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isBidiControl(r rune) bool {
	return r == 0x061C || r == 0x200E || r == 0x200F ||
		(r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}
