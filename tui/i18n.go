package tui

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// catalog holds every word the shell shows in one language. Adding a
// language is one file that registers its catalog in init.
type catalog map[string]string

var catalogs = map[string]catalog{}

func register(lang string, c catalog) { catalogs[lang] = c }

// Languages lists the languages the shell can speak, sorted.
func Languages() []string {
	out := make([]string, 0, len(catalogs))
	for l := range catalogs {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Text is a word of the catalogs, for what borne draws outside the
// model (the remote viewer's bar).
func Text(lang, key string) string { return tr(lang, key) }

// tr looks a word up in lang, falling back to French, then to the key
// itself so a missing word shows up plainly instead of as a blank.
func tr(lang, key string) string {
	if s, ok := catalogs[lang][key]; ok {
		return s
	}
	if s, ok := catalogs["fr"][key]; ok {
		return s
	}
	return key
}

// plural is n things in lang: key+".one" for one (in French zero too),
// key+".other" otherwise, each with its %d.
func plural(lang, key string, n int) string {
	one := n == 1
	if lang != "en" { // French, and the French fallback
		one = n == 0 || n == 1
	}
	if one {
		return fmt.Sprintf(tr(lang, key+".one"), n)
	}
	return fmt.Sprintf(tr(lang, key+".other"), n)
}

// decimal writes x with one decimal as lang does: "4,5" in French,
// "4.5" in English.
func decimal(lang string, x float64) string {
	s := strconv.FormatFloat(x, 'f', 1, 64)
	if lang != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}
