// Package printdoc turns what the kiosk prints into PDF: the operator's
// sheet, the slip of a closed operator, the maintenance test page, laid
// out on A4 in type big enough to read at arm's length; and the forms a
// site stocks as PDF files, checked before they go to the printer.
//
// It uses the PDF core fonts (Helvetica) in the Windows-1252 encoding, so
// no font file has to be installed on the kiosk; French and the other
// western European languages render with every accent.
package printdoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/go-pdf/fpdf"

	"github.com/loiret/borne/hw"
)

// PDF is a document ready for the printer.
type PDF struct {
	Data []byte
	// Pages is the number of pages; 0 when a form's could not be counted.
	Pages int
}

// Sizes in points and millimetres. The body is 16 pt: the smallest type
// a person of 70 reads comfortably at arm's length is about 14 pt.
const (
	titleSize   = 26.0
	headingSize = 18.0
	bodySize    = 16.0
	bigSize     = 22.0 // a slip's phone number and opening
	footerSize  = 12.0
	margin      = 20.0 // mm
	pageWidth   = 210.0
	textWidth   = pageWidth - 2*margin
	ptToMM      = 25.4 / 72
	leading     = 1.4
)

// MaxFormSize bounds a form's file: forms are a few pages, and a
// mistaken file (a scan of a whole binder) would only clog the printer.
const MaxFormSize = 32 << 20

// ErrNotPDF is returned for a form whose file is not a whole PDF.
var ErrNotPDF = errors.New("not a PDF file")

// Render makes the PDF of d. A "form" is its File, checked; "sheet",
// "slip" and "test" are laid out here (an unknown kind as a sheet). at is
// the date printed in the footer.
func Render(d hw.Document, at time.Time) (PDF, error) {
	switch d.Kind {
	case "form":
		return Form(d.File)
	case "test":
		return testPage(d, at)
	}
	return layout(d, at)
}

// Form reads the PDF form at path and checks that it is one, whole.
func Form(path string) (PDF, error) {
	if path == "" {
		return PDF{}, errors.New("the form has no file")
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return PDF{}, fmt.Errorf("form %s: the file does not exist", path)
		}
		return PDF{}, fmt.Errorf("form %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFormSize+1))
	if err != nil {
		return PDF{}, fmt.Errorf("form %s: %w", path, err)
	}
	if len(data) > MaxFormSize {
		return PDF{}, fmt.Errorf("form %s: larger than %d MB", path, MaxFormSize>>20)
	}
	if err := Check(data); err != nil {
		return PDF{}, fmt.Errorf("form %s: %w", path, err)
	}
	return PDF{Data: data, Pages: CountPages(data)}, nil
}

// Check tells whether data looks like a whole PDF file: the header within
// its first kilobyte and the end-of-file marker within its last, as the
// format requires and as a truncated copy lacks.
func Check(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: the file is empty", ErrNotPDF)
	}
	if !bytes.Contains(data[:min(len(data), 1024)], []byte("%PDF-")) {
		return ErrNotPDF
	}
	if !bytes.Contains(data[max(0, len(data)-1024):], []byte("%%EOF")) {
		return fmt.Errorf("%w: the file is cut short", ErrNotPDF)
	}
	return nil
}

var pageObject = regexp.MustCompile(`/Type\s*/Page\b`)

// CountPages counts the page objects of a PDF. Files that pack their
// objects into compressed streams hide them: the count is then 0, and
// the printer's own count is the one to trust.
func CountPages(data []byte) int {
	return len(pageObject.FindAllIndex(data, -1))
}

// labels are the words the layout adds, per language.
var labels = map[string]map[string]string{
	"fr": {
		"phone":   "Téléphone",
		"website": "Site internet",
		"opens":   "Prochaine ouverture",
		"printed": "Imprimé le %s à %s",
		"page":    "page %d sur %s",
		"test":    "Page de test",
		"sample":  "Accents",
		"sizes":   "Tailles",
		"greys":   "Gris",
		"date":    "02/01/2006",
	},
	"en": {
		"phone":   "Phone",
		"website": "Website",
		"opens":   "Opens next",
		"printed": "Printed on %s at %s",
		"page":    "page %d of %s",
		"test":    "Test page",
		"sample":  "Accents",
		"sizes":   "Sizes",
		"greys":   "Greys",
		"date":    "2 Jan 2006",
	},
}

// Printed is the footer's "printed on" line of a document in lang: the
// date and time as at reads them, so in the site's time zone when at is
// in it.
func Printed(lang string, at time.Time) string {
	w := words(lang)
	return fmt.Sprintf(w["printed"], at.Format(w["date"]), at.Format("15:04"))
}

func words(lang string) map[string]string {
	if w, ok := labels[lang]; ok {
		return w
	}
	return labels["fr"]
}

// compress is off in tests that read the page's text in the file.
var compress = true

// doc is one PDF being laid out.
type doc struct {
	pdf *fpdf.Fpdf
	tr  func(string) string
	w   map[string]string
}

func newDoc(title, lang string, at time.Time) *doc {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(margin, 18, margin)
	pdf.SetAutoPageBreak(true, 22)
	pdf.SetCreationDate(at)
	pdf.SetModificationDate(at)
	pdf.SetCatalogSort(true)
	pdf.SetCompression(compress)
	pdf.SetTitle(clean(title), true)
	pdf.SetCreator("borne", true)
	if lang != "" {
		pdf.SetLang(lang)
	}
	// The translator keeps a buffer between calls: one per document, so
	// documents can be made concurrently.
	d := &doc{pdf: pdf, tr: pdf.UnicodeTranslatorFromDescriptor(""), w: words(lang)}
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-16)
		d.font("", footerSize)
		pdf.SetTextColor(90, 90, 90)
		left := Printed(lang, at)
		pdf.CellFormat(textWidth/2, 6, d.tr(left), "T", 0, "L", false, 0, "")
		right := fmt.Sprintf(d.w["page"], pdf.PageNo(), "{nb}")
		pdf.CellFormat(textWidth/2, 6, d.tr(right), "T", 0, "R", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()
	return d
}

func (d *doc) font(style string, size float64) { d.pdf.SetFont("Helvetica", style, size) }

// text writes a paragraph, wrapped to the text width.
func (d *doc) text(style string, size float64, s string) {
	d.font(style, size)
	d.pdf.MultiCell(0, size*ptToMM*leading, d.tr(clean(s)), "", "L", false)
}

// bullet writes a list item with its bullet hanging in the margin.
func (d *doc) bullet(s string) {
	const indent = 8.0
	d.font("", bodySize)
	h := bodySize * ptToMM * leading
	y := d.pdf.GetY()
	if y+h > 297-22 { // keep the bullet with its first line
		d.pdf.AddPage()
	}
	d.pdf.SetX(margin)
	d.pdf.CellFormat(indent, h, d.tr("•"), "", 0, "L", false, 0, "")
	d.pdf.SetLeftMargin(margin + indent)
	d.pdf.MultiCell(textWidth-indent, h, d.tr(clean(s)), "", "L", false)
	d.pdf.SetLeftMargin(margin)
	d.pdf.SetX(margin)
}

// labelled writes a label and its value in big type, for the phone
// number or the opening a citizen copies down or dials.
func (d *doc) labelled(label, value string) {
	d.pdf.Ln(2)
	d.text("", bodySize, label+" :")
	d.text("B", bigSize, value)
}

func (d *doc) title(s string) {
	d.text("B", titleSize, s)
	y := d.pdf.GetY() + 2
	d.pdf.SetLineWidth(0.8)
	d.pdf.Line(margin, y, pageWidth-margin, y)
	d.pdf.SetY(y + 6)
}

func (d *doc) finish() (PDF, error) {
	var buf bytes.Buffer
	if err := d.pdf.Output(&buf); err != nil {
		return PDF{}, fmt.Errorf("laying out the document: %w", err)
	}
	return PDF{Data: buf.Bytes(), Pages: d.pdf.PageNo()}, nil
}

// layout lays out a sheet or a slip: the title, the lines (headings, list
// items, paragraphs), then how to reach the operator when given.
func layout(in hw.Document, at time.Time) (PDF, error) {
	d := newDoc(in.Title, in.Lang, at)
	d.title(in.Title)
	lines := trimBlank(in.Lines)
	for i, l := range lines {
		s := strings.TrimSpace(l)
		switch {
		case s == "":
			d.pdf.Ln(bodySize * ptToMM * 0.8)
		case isItem(s):
			d.bullet(strings.TrimSpace(strings.TrimLeft(s, "•-*")))
		case i+1 < len(lines) && isItem(strings.TrimSpace(lines[i+1])):
			d.pdf.Ln(1)
			d.text("B", headingSize, s)
		default:
			d.text("", bodySize, s)
		}
	}
	joined := strings.Join(in.Lines, "\n")
	extra := [][2]string{{"phone", in.Phone}, {"website", in.Website}, {"opens", in.Opens}}
	for _, e := range extra {
		// The shell may already have written it among the lines.
		if e[1] != "" && !strings.Contains(joined, e[1]) {
			d.labelled(d.w[e[0]], e[1])
		}
	}
	return d.finish()
}

func isItem(s string) bool {
	return strings.HasPrefix(s, "•") || strings.HasPrefix(s, "- ") || strings.HasPrefix(s, "* ")
}

func trimBlank(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// clean keeps what a page can show: no control characters, and the
// spaces and dashes typography adds turned into ones the font has.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\u00a0', '\u202f', '\u2009', '\u2007':
			return ' '
		case '\u2010', '\u2011', '\u2212':
			return '-'
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}
