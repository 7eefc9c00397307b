package operators

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCatalogIDs(t *testing.T) {
	want := []string{"caf", "cpam", "carsat", "adil", "cdad", "etat"}
	if got := BuiltinIDs(); !slices.Equal(got, want) {
		t.Errorf("BuiltinIDs() = %v, want %v", got, want)
	}
	if got := Builtin(); len(got) != len(want) {
		t.Errorf("Builtin() has %d entries, want %d", len(got), len(want))
	}
}

func TestCatalogStrict(t *testing.T) {
	if _, err := parseCatalog(catalogTOML); err != nil {
		t.Fatalf("embedded catalog: %v", err)
	}
	bad := map[string]string{
		"unknown key":         "[[operator]]\nid = \"x\"\nname = \"X\"\nopening = [\"mon 09:00-12:00\"]\n",
		"unknown translation": "[[operator]]\nid = \"x\"\n[operator.translations.en]\nnom = \"X\"\n",
		"unknown table":       "[[operators]]\nid = \"x\"\n",
		"wrong type":          "[[operator]]\nid = \"x\"\nhelps = \"one\"\n",
		"no id":               "[[operator]]\nname = \"X\"\n",
		"twice":               "[[operator]]\nid = \"x\"\n[[operator]]\nid = \"x\"\n",
	}
	for name, doc := range bad {
		if _, err := parseCatalog([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCatalogContent(t *testing.T) {
	for _, s := range Builtin() {
		en, ok := s.Translations["en"]
		if !ok {
			t.Errorf("%s: no English translation", s.ID)
		}
		if len(s.Translations) != 1 {
			t.Errorf("%s: translations %v, want only en", s.ID, s.Translations)
		}
		texts := map[string]Text{
			"fr": {Name: s.Name, Summary: s.Summary, Helps: s.Helps, Documents: s.Documents},
			"en": en,
		}
		for lang, tx := range texts {
			where := s.ID + " (" + lang + ")"
			if tx.Name == "" || tx.Summary == "" {
				t.Errorf("%s: name or summary missing", where)
			}
			if n := utf8.RuneCountInString(tx.Summary); n > 40 {
				t.Errorf("%s: summary %q is %d characters, at most 40 fit a tile", where, tx.Summary, n)
			}
			if n := len(tx.Helps); n < 3 || n > 5 {
				t.Errorf("%s: %d helps, want 3 to 5", where, n)
			}
			if n := len(tx.Documents); n < 2 || n > 4 {
				t.Errorf("%s: %d documents, want 2 to 4", where, n)
			}
			for _, line := range slices.Concat([]string{tx.Name, tx.Summary}, tx.Helps, tx.Documents) {
				checkPlain(t, where, line)
			}
		}
		if len(en.Helps) != len(s.Helps) || len(en.Documents) != len(s.Documents) {
			t.Errorf("%s: English and French lists differ in length", s.ID)
		}
		if s.Phone == "" || s.Website == "" || len(s.Hours) == 0 || s.VisioURL == "" || len(s.VisioEnd) == 0 {
			t.Errorf("%s: phone, website, hours, visio_url or visio_end missing", s.ID)
		}
		if len(s.Launch) > 0 {
			t.Errorf("%s: the catalog's partners are web visios, not native clients: launch %q", s.ID, s.Launch)
		}
		for _, line := range slices.Concat([]string{s.Phone, s.Website, s.VisioURL}, s.Hours, s.VisioEnd) {
			checkPlain(t, s.ID, line)
		}
		if len(s.Closed) != 0 {
			t.Errorf("%s: the catalog has closing dates %v; they belong to sites", s.ID, s.Closed)
		}
		if want := "https://visio.example/" + s.ID; s.VisioURL != want {
			t.Errorf("%s: visio_url %q, want %s", s.ID, s.VisioURL, want)
		}
		if err := CheckVisioURL(s.VisioURL, false); err != nil {
			t.Errorf("%s: %v", s.ID, err)
		}
		for _, e := range s.VisioEnd {
			if err := CheckVisioEnd(e, false); err != nil {
				t.Errorf("%s: %v", s.ID, err)
			}
		}
	}
	ops, err := Build(BuiltinIDs(), nil, nil)
	if err != nil {
		t.Fatalf("Build(all built-ins): %v", err)
	}
	for _, op := range ops {
		if !op.Callable() {
			t.Errorf("%s: not callable", op.ID)
		}
		if _, ok := op.NextOpening(paris(2026, 11, 27, 17, 0)); !ok {
			t.Errorf("%s: never opens", op.ID)
		}
		// Cleaning changes nothing in the catalog: it is clean already.
		spec, _ := builtin(op.ID)
		if got := op.Text("fr"); got.Name != spec.Name || !slices.Equal(got.Helps, spec.Helps) {
			t.Errorf("%s: text changed when built: %+v", op.ID, got)
		}
	}
}

func checkPlain(t *testing.T, where, s string) {
	t.Helper()
	if s != strings.TrimSpace(s) || strings.Contains(s, "  ") {
		t.Errorf("%s: %q has stray spaces", where, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) || r == utf8.RuneError {
			t.Errorf("%s: %q contains the control character %U", where, s, r)
		}
	}
}

func TestBuiltinIsACopy(t *testing.T) {
	specs := Builtin()
	specs[0].Name = "changed"
	specs[0].Helps[0] = "changed"
	en := specs[0].Translations["en"]
	en.Helps[0] = "changed"
	specs[0].Translations["en"] = Text{Name: "changed"}
	again := Builtin()[0]
	if again.Name == "changed" || again.Helps[0] == "changed" ||
		again.Translations["en"].Name == "changed" || again.Translations["en"].Helps[0] == "changed" {
		t.Error("changing Builtin()'s result changed the catalog")
	}
}
