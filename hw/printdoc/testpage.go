package printdoc

import (
	"fmt"
	"time"

	"github.com/loiret/borne/hw"
)

// testPage is what maintenance prints to check the printer: the lines it
// is given (the queue, the kiosk), every accent the interface uses, the
// type sizes in use, grey levels and a frame at the printable margins,
// so that a missing corner, a faded grey or a lost accent shows at once.
func testPage(in hw.Document, at time.Time) (PDF, error) {
	title := in.Title
	if title == "" {
		title = words(in.Lang)["test"]
	}
	d := newDoc(title, in.Lang, at)
	d.pdf.SetLineWidth(0.3)
	d.pdf.Rect(10, 10, pageWidth-20, 297-20, "D")
	d.title(title)
	for _, l := range trimBlank(in.Lines) {
		d.text("", bodySize, l)
	}
	d.text("", bodySize, at.Format("2006-01-02 15:04:05 -0700"))

	d.pdf.Ln(4)
	d.text("B", headingSize, d.w["sample"])
	d.text("", bodySize, "àâäç éèêë îïôö ùûüÿ œæ ÀÂÄÇ ÉÈÊË ÎÏÔÖ ÙÛÜŸ ŒÆ")
	d.text("", bodySize, "« Pièce d'identité » – 0123456789 € … ’")

	d.pdf.Ln(4)
	d.text("B", headingSize, d.w["sizes"])
	for _, size := range []float64{footerSize, bodySize, headingSize, bigSize, titleSize} {
		d.text("", size, fmt.Sprintf("%g pt — Espace services publics", size))
	}

	d.pdf.Ln(4)
	d.text("B", headingSize, d.w["greys"])
	y := d.pdf.GetY() + 2
	const box = 24.0
	for i, g := range []int{0, 64, 128, 192, 230} {
		d.pdf.SetFillColor(g, g, g)
		d.pdf.Rect(margin+float64(i)*(box+4), y, box, box, "FD")
	}
	d.pdf.SetY(y + box + 4)
	return d.finish()
}
