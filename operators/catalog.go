package operators

import (
	"bytes"
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pelletier/go-toml/v2"
)

//go:embed catalog.toml
var catalogTOML []byte

type catalogFile struct {
	Operator []Spec `toml:"operator"`
}

// parseCatalog decodes a catalog strictly: an unknown key is an error.
func parseCatalog(data []byte) ([]Spec, error) {
	var f catalogFile
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, s := range f.Operator {
		if s.ID == "" {
			return nil, fmt.Errorf("operator %d has no id", i+1)
		}
		if seen[s.ID] {
			return nil, fmt.Errorf("operator %q is listed twice", s.ID)
		}
		seen[s.ID] = true
	}
	return f.Operator, nil
}

var catalog = sync.OnceValue(func() []Spec {
	specs, err := parseCatalog(catalogTOML)
	if err != nil { // embedded and tested: a broken build, not a user error
		panic("operators: embedded catalog.toml: " + err.Error())
	}
	return specs
})

// Builtin returns the embedded Loiret catalog, in display order. The specs
// are copies: changing them changes nothing else.
func Builtin() []Spec {
	specs := catalog()
	out := make([]Spec, len(specs))
	for i, s := range specs {
		out[i] = cloneSpec(s)
	}
	return out
}

// BuiltinIDs returns the ids of the embedded catalog, in display order.
func BuiltinIDs() []string {
	specs := catalog()
	ids := make([]string, len(specs))
	for i, s := range specs {
		ids[i] = s.ID
	}
	return ids
}

func builtin(id string) (Spec, bool) {
	for _, s := range catalog() {
		if s.ID == id {
			return cloneSpec(s), true
		}
	}
	return Spec{}, false
}

func cloneSpec(s Spec) Spec {
	s.Helps = slices.Clone(s.Helps)
	s.Documents = slices.Clone(s.Documents)
	s.Hours = slices.Clone(s.Hours)
	s.Closed = slices.Clone(s.Closed)
	s.Launch = slices.Clone(s.Launch)
	s.VisioEnd = slices.Clone(s.VisioEnd)
	s.Forms = slices.Clone(s.Forms)
	if s.Translations != nil {
		tr := make(map[string]Text, len(s.Translations))
		for l, t := range s.Translations {
			t.Helps = slices.Clone(t.Helps)
			t.Documents = slices.Clone(t.Documents)
			tr[l] = t
		}
		s.Translations = tr
	}
	return s
}

// Build returns the operators a site shows, in order: the built-in ones
// named in enabled, in that order, then the site's custom operators with
// new ids, in config order. A custom spec with a built-in id overrides that
// operator field by field (its non-empty fields win, translations are
// merged per language and field); it has no effect unless the id is
// enabled. A custom operator with a new id is always shown; naming it in
// enabled places it at that position. An id in enabled that is neither
// built-in nor custom is an error, as is an id given twice. Hours are read
// in loc (nil means Europe/Paris).
func Build(enabled []string, custom []Spec, loc *time.Location) ([]Operator, error) {
	if loc == nil {
		loc = Paris()
	}
	customByID := map[string]Spec{}
	for i, c := range custom {
		if c.ID == "" {
			return nil, fmt.Errorf("custom operator %d has no id", i+1)
		}
		if _, dup := customByID[c.ID]; dup {
			return nil, fmt.Errorf("custom operator %q is given twice", c.ID)
		}
		customByID[c.ID] = c
	}

	var ops []Operator
	placed := map[string]bool{}
	for _, id := range enabled {
		if placed[id] {
			return nil, fmt.Errorf("operator %q is enabled twice", id)
		}
		placed[id] = true
		spec, isBuiltin := builtin(id)
		c, isCustom := customByID[id]
		switch {
		case isBuiltin && isCustom:
			spec = mergeSpec(spec, c)
		case isCustom:
			spec = c
		case !isBuiltin:
			if id == "" {
				return nil, fmt.Errorf("an empty operator id is enabled")
			}
			return nil, fmt.Errorf("unknown operator %q is enabled: built-in ones are %s; add a custom operator to use another", id, strings.Join(BuiltinIDs(), ", "))
		}
		op, err := newChecked(spec, isBuiltin, loc)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	for _, c := range custom {
		if placed[c.ID] {
			continue
		}
		if _, isBuiltin := builtin(c.ID); isBuiltin {
			continue // an override of an operator this site does not show
		}
		placed[c.ID] = true
		op, err := newChecked(c, false, loc)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// newChecked is New, plus the checks a site's own operator needs.
func newChecked(s Spec, isBuiltin bool, loc *time.Location) (Operator, error) {
	if !isBuiltin && len(s.Hours) == 0 {
		return Operator{}, fmt.Errorf("operator %q: hours are missing, like hours = [\"mon-fri 09:00-12:00\"]", s.ID)
	}
	return New(s, loc)
}

// mergeSpec returns base with the non-empty fields of over written on it.
func mergeSpec(base, over Spec) Spec {
	str := func(dst *string, src string) {
		if src != "" {
			*dst = src
		}
	}
	list := func(dst *[]string, src []string) {
		if len(src) > 0 {
			*dst = slices.Clone(src)
		}
	}
	str(&base.Name, over.Name)
	str(&base.Summary, over.Summary)
	list(&base.Helps, over.Helps)
	list(&base.Documents, over.Documents)
	str(&base.Phone, over.Phone)
	str(&base.Website, over.Website)
	list(&base.Hours, over.Hours)
	list(&base.Closed, over.Closed)
	// A visio and a native client exclude each other: the override's
	// choice replaces the catalog's.
	switch {
	case len(over.Launch) > 0:
		base.Launch, base.VisioURL, base.VisioEnd = slices.Clone(over.Launch), "", nil
	case over.VisioURL != "":
		base.Launch, base.VisioURL, base.VisioEnd = nil, over.VisioURL, slices.Clone(over.VisioEnd)
	default:
		list(&base.VisioEnd, over.VisioEnd)
	}
	if len(over.Forms) > 0 {
		base.Forms = slices.Clone(over.Forms)
	}
	base.OpenOnHolidays = base.OpenOnHolidays || over.OpenOnHolidays
	if len(over.Translations) > 0 {
		tr := maps.Clone(base.Translations)
		if tr == nil {
			tr = map[string]Text{}
		}
		for l, t := range over.Translations {
			l = normLang(l)
			tr[l] = overlay(tr[l], t)
		}
		base.Translations = tr
	}
	return base
}
