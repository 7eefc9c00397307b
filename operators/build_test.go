package operators

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func ids(ops []Operator) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.ID)
	}
	return out
}

func mustBuild(t *testing.T, enabled []string, custom []Spec) []Operator {
	t.Helper()
	ops, err := Build(enabled, custom, nil)
	if err != nil {
		t.Fatalf("Build(%v): %v", enabled, err)
	}
	return ops
}

func TestBuildOrder(t *testing.T) {
	ops := mustBuild(t, []string{"cpam", "caf", "cdad"}, nil)
	if got, want := ids(ops), []string{"cpam", "caf", "cdad"}; !slices.Equal(got, want) {
		t.Errorf("ids = %v, want %v", got, want)
	}
	if got := mustBuild(t, nil, nil); len(got) != 0 {
		t.Errorf("nothing enabled gave %v", ids(got))
	}
	all := mustBuild(t, BuiltinIDs(), nil)
	if got := ids(all); !slices.Equal(got, BuiltinIDs()) {
		t.Errorf("all built-ins = %v, want %v", got, BuiltinIDs())
	}
}

func TestBuildOverride(t *testing.T) {
	custom := []Spec{{
		ID:     "caf",
		Phone:  "02 38 00 00 00",
		Hours:  []string{"wed 10:00-11:00"},
		Closed: []string{"2026-12-23"},
		Helps:  []string{"Rendez-vous\tdu mercredi"},
		Translations: map[string]Text{
			"en": {Summary: "Family benefits (Wednesdays)"},
			"de": {Name: "Familienkasse"},
		},
	}}
	ops := mustBuild(t, []string{"caf"}, custom)
	if len(ops) != 1 {
		t.Fatalf("ids = %v, want [caf]", ids(ops))
	}
	op := ops[0]
	base, _ := builtin("caf")

	// Overridden fields.
	if op.Phone != "02 38 00 00 00" {
		t.Errorf("Phone = %q", op.Phone)
	}
	fr := op.Text("fr")
	if !slices.Equal(fr.Helps, []string{"Rendez-vous du mercredi"}) {
		t.Errorf("Helps = %q", fr.Helps)
	}
	if got := op.Hours.Ranges(); len(got) != 1 || got[0].String() != "mer. 10:00-11:00" {
		t.Errorf("Hours = %v", got)
	}
	if op.Open(paris(2026, 12, 23, 10, 30)) || !op.Open(paris(2026, 12, 16, 10, 30)) {
		t.Error("closing date or hours not applied")
	}
	// Kept fields.
	if fr.Name != base.Name || fr.Summary != base.Summary || !slices.Equal(fr.Documents, base.Documents) {
		t.Errorf("French text lost built-in fields: %+v", fr)
	}
	if op.Website != base.Website || op.VisioURL != base.VisioURL || !slices.Equal(op.VisioEnd, base.VisioEnd) {
		t.Errorf("Website, VisioURL, VisioEnd = %q, %q, %q; want the built-in ones", op.Website, op.VisioURL, op.VisioEnd)
	}
	// Translations merged per language and field.
	en := op.Text("en")
	if en.Summary != "Family benefits (Wednesdays)" {
		t.Errorf("en summary = %q", en.Summary)
	}
	if en.Name != base.Translations["en"].Name || !slices.Equal(en.Helps, base.Translations["en"].Helps) {
		t.Errorf("en text lost built-in fields: %+v", en)
	}
	if de := op.Text("de"); de.Name != "Familienkasse" || de.Summary != base.Summary {
		t.Errorf("de text = %+v", de)
	}
	// The catalog itself is untouched.
	again := mustBuild(t, []string{"caf"}, nil)[0]
	if again.Phone != base.Phone || again.Text("en").Summary != base.Translations["en"].Summary {
		t.Error("an override leaked into the catalog")
	}
}

func TestBuildCustom(t *testing.T) {
	mairie := Spec{
		ID:        "mairie",
		Name:      "Mairie de Gien",
		Summary:   "État civil, urbanisme",
		Hours:     []string{"mon-fri 09:00-12:00"},
		Closed:    []string{"2026-12-24"},
		VisioURL:  "https://visio.example/mairie",
		Documents: []string{"Pièce d'identité"},
	}
	mission := Spec{ID: "mission-locale", Name: "Mission locale", Hours: []string{"wed 14:00-17:00"}}

	// Not enabled: shown after the enabled ones, in config order.
	ops := mustBuild(t, []string{"caf", "cpam"}, []Spec{mairie, mission})
	if got, want := ids(ops), []string{"caf", "cpam", "mairie", "mission-locale"}; !slices.Equal(got, want) {
		t.Errorf("ids = %v, want %v", got, want)
	}
	// Enabled: at its place in enabled.
	ops = mustBuild(t, []string{"mission-locale", "caf"}, []Spec{mairie, mission})
	if got, want := ids(ops), []string{"mission-locale", "caf", "mairie"}; !slices.Equal(got, want) {
		t.Errorf("ids = %v, want %v", got, want)
	}
	m := ops[2]
	if m.Text("fr").Name != "Mairie de Gien" || !m.Callable() || m.Open(paris(2026, 12, 24, 10, 0)) || !m.Open(paris(2026, 12, 23, 10, 0)) {
		t.Errorf("mairie = %+v", m)
	}
	if ops[0].Callable() {
		t.Error("an operator without launch is callable")
	}
	// An override of a built-in the site does not show changes nothing.
	ops = mustBuild(t, []string{"caf"}, []Spec{{ID: "cpam", Phone: "0"}})
	if got := ids(ops); !slices.Equal(got, []string{"caf"}) {
		t.Errorf("ids = %v, want [caf]", got)
	}
}

func TestBuildErrors(t *testing.T) {
	ok := Spec{ID: "mairie", Name: "Mairie", Hours: []string{"mon 09:00-12:00"}}
	tests := []struct {
		name    string
		enabled []string
		custom  []Spec
		want    string
	}{
		{"unknown id", []string{"caf", "impots"}, nil, `unknown operator "impots"`},
		{"empty id enabled", []string{""}, nil, "empty operator id"},
		{"enabled twice", []string{"caf", "caf"}, nil, `"caf" is enabled twice`},
		{"custom twice", nil, []Spec{ok, ok}, `"mairie" is given twice`},
		{"custom without id", nil, []Spec{{Name: "X"}}, "custom operator 1 has no id"},
		{"bad id", nil, []Spec{{ID: "Mairie Gien", Name: "X", Hours: ok.Hours}}, `"Mairie Gien": use only lowercase`},
		{"no name", nil, []Spec{{ID: "x", Hours: ok.Hours}}, `operator "x": name is missing`},
		{"no hours", nil, []Spec{{ID: "x", Name: "X"}}, `operator "x": hours are missing`},
		{"bad hours", nil, []Spec{{ID: "x", Name: "X", Hours: []string{"mon 10:00-09:00"}}}, `operator "x": "10:00-09:00": closing time must be after opening time`},
		{"bad override hours", []string{"caf"}, []Spec{{ID: "caf", Hours: []string{"lundi 25:00-26:00"}}}, `operator "caf": "25:00"`},
		{"bad closing date", nil, []Spec{{ID: "x", Name: "X", Hours: ok.Hours, Closed: []string{"24/12"}}}, `operator "x": "24/12"`},
		{"translation without language", nil, []Spec{{ID: "x", Name: "X", Hours: ok.Hours, Translations: map[string]Text{" ": {Name: "Y"}}}}, "no language code"},
	}
	for _, tt := range tests {
		_, err := Build(tt.enabled, tt.custom, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestTextFallback(t *testing.T) {
	ops := mustBuild(t, nil, []Spec{
		{ID: "fr-only", Name: "Mairie", Summary: "État civil", Helps: []string{"Actes"}, Documents: []string{"Livret de famille"}, Hours: []string{"mon 09:00-12:00"}},
		{ID: "partial", Name: "Mairie", Summary: "État civil", Helps: []string{"Actes"}, Hours: []string{"mon 09:00-12:00"},
			Translations: map[string]Text{"EN": {Name: "Town hall"}}},
	})
	fr := ops[0].Text("fr")
	for _, lang := range []string{"en", "de", "", "EN"} {
		if got := ops[0].Text(lang); !reflect.DeepEqual(got, fr) {
			t.Errorf("Text(%q) = %+v, want the French %+v", lang, got, fr)
		}
	}
	for _, lang := range []string{"en", "en-GB", "EN_us"} {
		got := ops[1].Text(lang)
		want := Text{Name: "Town hall", Summary: "État civil", Helps: []string{"Actes"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Text(%q) = %+v, want %+v", lang, got, want)
		}
	}
	if got := ops[1].Languages(); !slices.Equal(got, []string{"fr", "en"}) {
		t.Errorf("Languages() = %v", got)
	}
	var zero Operator
	if got := zero.Text("en"); got.Name != "" || zero.Callable() || zero.Open(time.Now()) {
		t.Errorf("zero operator: %+v", got)
	}
}

func TestCleanText(t *testing.T) {
	ops := mustBuild(t, nil, []Spec{{
		ID:        "x",
		Name:      "Mai\x1b[31mrie\u202e",
		Summary:   "  État\ncivil\t ",
		Helps:     []string{"\x07", "Actes\r\n"},
		Documents: []string{"Livret\u00a0de famille"},
		Phone:     "02 38\x00 00",
		Hours:     []string{"mon 09:00-12:00"},
	}})
	got := ops[0].Text("fr")
	want := Text{Name: "Mai[31mrie", Summary: "État civil", Helps: []string{"Actes"}, Documents: []string{"Livret de famille"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Text = %+q, want %+q", got, want)
	}
	if ops[0].Phone != "02 38 00" {
		t.Errorf("Phone = %q", ops[0].Phone)
	}
}

func TestBuildLocation(t *testing.T) {
	ops := mustBuild(t, []string{"caf"}, nil)
	if ops[0].Hours.Location() != Paris() {
		t.Errorf("default location = %v", ops[0].Hours.Location())
	}
	ops, err := Build([]string{"caf"}, nil, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if !ops[0].Open(utc(2026, 11, 24, 11, 30)) { // 12:30 in Paris, 11:30 UTC
		t.Error("hours not read in the given location")
	}
}
