package printdoc

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loiret/borne/hw"
)

var out = flag.String("out", "", "write the rendered PDFs into this folder, to look at them")

var at = time.Date(2026, 11, 27, 9, 14, 0, 0, time.UTC)

func sheet() hw.Document {
	return hw.Document{Kind: "sheet", Title: "Fiche — CAF du Loiret", Lang: "fr", Lines: []string{
		"Ce que fait l'opérateur", " • Prestations familiales, RSA, prime d'activité", " • Aides au logement (APL)", "",
		"Documents à apporter", " • Pièce d'identité", " • Numéro d'allocataire", "",
		"Horaires", " • lun.–ven. 8:30–12:00", "", "Téléphone : 32 30",
	}}
}

func slip(lang string) hw.Document {
	return hw.Document{Kind: "slip", Title: "CAF du Loiret", Lang: lang,
		Lines: []string{"Fermé · ouvre lun. 9:00"}, Phone: "32 30", Website: "www.caf.fr", Opens: "lundi 9:00"}
}

func save(t *testing.T, name string, p PDF) {
	if *out == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(*out, name+".pdf"), p.Data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cp1252 is how a string appears in an uncompressed page: the core fonts'
// encoding, with PDF's string escapes.
func cp1252(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x80:
			b.WriteRune(r)
		case r == '€':
			b.WriteByte(0x80)
		case r == '•':
			b.WriteByte(0x95)
		case r == 'œ':
			b.WriteByte(0x9c)
		case r == '’':
			b.WriteByte(0x92)
		case r == '–':
			b.WriteByte(0x96)
		case r == '—':
			b.WriteByte(0x97)
		case r <= 0xff:
			b.WriteByte(byte(r))
		default:
			panic(fmt.Sprintf("no cp1252 for %q", r))
		}
	}
	return b.String()
}

func TestRender(t *testing.T) {
	compress = false
	defer func() { compress = true }()
	tests := []struct {
		name  string
		doc   hw.Document
		pages int
		want  []string // texts that must be on the page, accents and all
		not   []string
	}{
		{"sheet", sheet(), 1,
			[]string{"Fiche — CAF du Loiret", "Pièce d'identité", "Documents à apporter", "lun.–ven. 8:30–12:00", "Imprimé le 27/11/2026 à 09:14", "•"},
			// The phone is among the lines already: not printed twice.
			nil},
		{"slip-fr", slip("fr"), 1,
			[]string{"CAF du Loiret", "Fermé · ouvre lun. 9:00", "Téléphone :", "32 30", "Site internet :", "www.caf.fr", "Prochaine ouverture :", "lundi 9:00"},
			nil},
		{"slip-en", slip("en"), 1,
			[]string{"Phone :", "Website :", "Opens next :", "Printed on 27 Nov 2026 at 09:14"},
			[]string{"Téléphone"}},
		{"test", hw.Document{Kind: "test", Lang: "fr", Lines: []string{"File d'attente : borne"}}, 1,
			[]string{"Page de test", "File d'attente : borne", "àâäç éèêë îïôö ùûüÿ œæ", "€", "16 pt"},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Render(tt.doc, at)
			if err != nil {
				t.Fatal(err)
			}
			save(t, tt.name, p)
			if err := Check(p.Data); err != nil {
				t.Fatalf("not a whole PDF: %v", err)
			}
			if p.Pages != tt.pages || CountPages(p.Data) != tt.pages {
				t.Errorf("pages = %d, counted in the file %d; want %d", p.Pages, CountPages(p.Data), tt.pages)
			}
			for _, w := range tt.want {
				if !bytes.Contains(p.Data, []byte(cp1252(w))) {
					t.Errorf("%q is not on the page", w)
				}
			}
			for _, w := range tt.not {
				if bytes.Contains(p.Data, []byte(cp1252(w))) {
					t.Errorf("%q is on the page", w)
				}
			}
			if !bytes.Contains(p.Data, []byte("/MediaBox [0 0 595.28 841.89]")) {
				t.Errorf("not A4")
			}
		})
	}
	// Type sizes: the body at 16 pt, never below 14 except the footer.
	p, _ := Render(sheet(), at)
	if !bytes.Contains(p.Data, []byte("/F1 16.00 Tf")) && !bytes.Contains(p.Data, []byte("16.00 Tf")) {
		t.Errorf("no 16 pt body text")
	}
	if n := CountPages(p.Data); n != 1 {
		t.Errorf("pages %d", n)
	}
	// The phone number given apart is not repeated when the lines have it.
	if c := bytes.Count(p.Data, []byte("32 30")); c != 1 {
		t.Errorf("the phone number is printed %d times", c)
	}
}

func TestRenderLong(t *testing.T) {
	d := sheet()
	for i := range 60 {
		d.Lines = append(d.Lines, fmt.Sprintf(" • Pièce justificative numéro %d, avec une explication assez longue pour passer à la ligne sur une page A4", i))
	}
	p, err := Render(d, at)
	if err != nil {
		t.Fatal(err)
	}
	save(t, "long", p)
	if p.Pages < 3 {
		t.Errorf("pages = %d, want several", p.Pages)
	}
	if CountPages(p.Data) != p.Pages {
		t.Errorf("the file has %d pages, Render says %d", CountPages(p.Data), p.Pages)
	}
}

func TestRenderSame(t *testing.T) {
	a, _ := Render(slip("fr"), at)
	b, _ := Render(slip("fr"), at)
	if !bytes.Equal(a.Data, b.Data) {
		t.Errorf("the same document at the same time gives different files")
	}
}

func TestRenderConcurrent(t *testing.T) {
	want, _ := Render(sheet(), at)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			p, err := Render(sheet(), at)
			if err != nil || !bytes.Equal(p.Data, want.Data) {
				t.Errorf("a concurrent render differs (err %v)", err)
			}
		})
	}
	wg.Wait()
}

func TestRenderHostileText(t *testing.T) {
	compress = false // a compressed stream may hold any byte
	defer func() { compress = true }()
	d := hw.Document{Kind: "sheet", Title: "A\x1b[2J(title)\\", Lines: []string{"ligne\x00avec\tcontrôle", "日本語 — عربى", strings.Repeat("x", 5000)}}
	p, err := Render(d, at)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(p.Data); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("\x1b")) {
		t.Errorf("an escape character reached the page")
	}
}

func TestForm(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, _ := os.ReadFile("testdata/one-page.pdf")
	p, err := Render(hw.Document{Kind: "form", Title: "Formulaire", File: "testdata/one-page.pdf"}, at)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Data, good) || p.Pages != 1 {
		t.Errorf("form: %d bytes, %d pages; want the file as it is, 1 page", len(p.Data), p.Pages)
	}
	ours, _ := Render(sheet(), at)

	tests := []struct {
		name, path string
		is         error
		says       string
	}{
		{"missing", filepath.Join(dir, "nope.pdf"), nil, "does not exist"},
		{"no file", "", nil, "no file"},
		{"a folder", dir, nil, dir},
		{"empty", write("empty.pdf", nil), ErrNotPDF, "empty"},
		{"a Word file", write("form.doc", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 not a pdf")), ErrNotPDF, "not a PDF"},
		{"text", write("form.pdf", []byte("Formulaire CERFA\n")), ErrNotPDF, "not a PDF"},
		{"cut short", write("cut.pdf", ours.Data[:len(ours.Data)/2]), ErrNotPDF, "cut short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(hw.Document{Kind: "form", File: tt.path}, at)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("err = %q, should say %q", err, tt.says)
			}
		})
	}
}

func BenchmarkSheet(b *testing.B) {
	d := sheet()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(d, at); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSlip(b *testing.B) {
	d := slip("fr")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(d, at); err != nil {
			b.Fatal(err)
		}
	}
}
