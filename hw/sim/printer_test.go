package sim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/printdoc"
)

func TestPrinter(t *testing.T) {
	dir := t.TempDir()
	m := New(dir)
	p := m.Hardware().Printer
	q := p.(hw.PrintQueue)
	ctx := context.Background()

	job, err := p.Print(ctx, hw.Document{Kind: "sheet", Title: "Fiche CAF", Lines: []string{"• Pièce d'identité"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := <-m.changes; c.Job != job || !c.OK || c.JobState != "completed" || c.Pages != 1 {
		t.Errorf("change = %+v", c)
	}
	pdf, err := os.ReadFile(filepath.Join(dir, "job-001-sheet.pdf"))
	if err != nil || !strings.HasPrefix(string(pdf), "%PDF-") {
		t.Errorf("no PDF: %v", err)
	}
	if txt, _ := os.ReadFile(filepath.Join(dir, "job-001-sheet.txt")); !strings.Contains(string(txt), "Pièce d'identité") {
		t.Errorf("text copy: %q", txt)
	}

	if _, err := p.Print(ctx, hw.Document{Kind: "form", File: filepath.Join(dir, "missing.pdf")}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing form: %v", err)
	}

	m.SetStall(true)
	stuck, err := p.Print(ctx, hw.Document{Kind: "slip", Title: "CPAM"})
	if err != nil {
		t.Fatal(err)
	}
	jobs, _ := q.Jobs(ctx)
	if len(jobs) != 1 || jobs[0].ID != stuck {
		t.Fatalf("jobs = %+v", jobs)
	}
	if err := p.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if c := <-m.changes; c.Job != stuck || c.OK || c.JobState != "canceled" {
		t.Errorf("purged: %+v", c)
	}
	if jobs, _ := q.Jobs(ctx); len(jobs) != 0 {
		t.Errorf("after purge: %+v", jobs)
	}

	again, _ := p.Print(ctx, hw.Document{Kind: "slip", Title: "CPAM"})
	if err := q.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	for c := range m.changes {
		if c.Job == again {
			if !c.OK {
				t.Errorf("released job: %+v", c)
			}
			break
		}
	}
}

// The simulated printer dates its sheets in the site's time zone, as the
// real one does, not in the machine's (UTC on a kiosk).
func TestPrinterDatesInTheSiteZone(t *testing.T) {
	dir := t.TempDir()
	m := New(dir)
	auckland, err := time.LoadLocation("Pacific/Auckland") // never the machine's zone's clock
	if err != nil {
		t.Fatal(err)
	}
	m.SetLocation(auckland)
	before := time.Now().In(auckland)
	if _, err := m.Hardware().Printer.Print(context.Background(), hw.Document{Kind: "slip", Lang: "fr", Title: "CPAM"}); err != nil {
		t.Fatal(err)
	}
	after := time.Now().In(auckland)
	txt, err := os.ReadFile(filepath.Join(dir, "job-001-slip.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(txt), printdoc.Printed("fr", before)) && !strings.Contains(string(txt), printdoc.Printed("fr", after)) {
		t.Fatalf("printed %q, want the time in Auckland, %s", txt, printdoc.Printed("fr", before))
	}
}
