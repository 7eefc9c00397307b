package ipp_test

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/loiret/borne/hw/cups/cupstest"
	"github.com/loiret/borne/hw/ipp"
)

var capture = flag.Bool("capture", false, "capture real cupsd answers into testdata (needs root and CUPS)")

// TestCapture records what a real cupsd answers to the requests the kiosk
// sends, byte for byte, for the decoding tests. It only runs when asked:
//
//	go test ./hw/ipp -run TestCapture -capture
func TestCapture(t *testing.T) {
	if !*capture {
		t.Skip("pass -capture to record cupsd's answers again")
	}
	srv := cupstest.Start(t, cupstest.Options{Queue: "borne-test"})
	// A user every system has: cupsd 2.4.2 crashes on Cancel-Job from
	// one it does not know.
	const user = "nobody"
	c := ipp.NewClient(srv.Addr, user)
	queue := c.URI("/printers/borne-test")
	pdf, err := os.ReadFile("testdata/one-page.pdf")
	if err != nil {
		t.Fatal(err)
	}
	save := func(name, path string, req *ipp.Message, doc []byte) *ipp.Message {
		t.Helper()
		raw := post(t, srv.Addr, path, req, doc)
		if err := os.WriteFile(filepath.Join("testdata", name+".ipp"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		m, _, err := ipp.Decode(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m
	}
	op := func(o ipp.Op, uri string) *ipp.Message {
		r := ipp.NewRequest(o, "fr")
		r.Add(ipp.TagOperation, "printer-uri", ipp.URI(uri))
		r.Add(ipp.TagOperation, "requesting-user-name", ipp.Name(user))
		return r
	}

	r := op(ipp.OpGetPrinterAttributes, queue)
	r.Add(ipp.TagOperation, "requested-attributes", ipp.Keywords("all", "media-col-database")...)
	save("get-printer-attributes-all", "/printers/borne-test", r, nil)

	status := func() *ipp.Message {
		r := op(ipp.OpGetPrinterAttributes, queue)
		r.Add(ipp.TagOperation, "requested-attributes", ipp.Keywords("printer-state", "printer-state-reasons",
			"printer-state-message", "printer-is-accepting-jobs", "marker-names", "marker-levels", "marker-types", "media-ready")...)
		return r
	}
	save("get-printer-attributes-idle", "/printers/borne-test", status(), nil)

	r = op(ipp.OpGetPrinterAttributes, c.URI("/printers/nowhere"))
	save("get-printer-attributes-not-found", "/printers/nowhere", r, nil)

	r = op(ipp.OpPrintJob, queue)
	r.Add(ipp.TagOperation, "job-name", ipp.Name("Fiche CAF"))
	r.Add(ipp.TagOperation, "document-format", ipp.MimeType("application/pdf"))
	r.Add(ipp.TagJob, "job-hold-until", ipp.Keyword("indefinite"))
	m := save("print-job", "/printers/borne-test", r, pdf)
	job, _ := m.Attr(ipp.TagJob, "job-id")

	r = op(ipp.OpPrintJob, queue)
	r.Add(ipp.TagOperation, "job-name", ipp.Name("Formulaire"))
	r.Add(ipp.TagOperation, "document-format", ipp.MimeType("application/pdf"))
	r.Add(ipp.TagJob, "job-hold-until", ipp.Keyword("indefinite"))
	save("print-job-second", "/printers/borne-test", r, pdf)

	r = op(ipp.OpGetJobs, queue)
	r.Add(ipp.TagOperation, "which-jobs", ipp.Keyword("not-completed"))
	r.Add(ipp.TagOperation, "requested-attributes", ipp.Keywords("job-id", "job-name", "job-state", "job-state-reasons",
		"job-impressions-completed", "job-originating-user-name", "time-at-creation")...)
	save("get-jobs", "/printers/borne-test", r, nil)

	r = op(ipp.OpGetJobAttributes, queue)
	r.Add(ipp.TagOperation, "job-id", job.Values[0])
	save("get-job-attributes", "/printers/borne-test", r, nil)

	r = op(ipp.OpCancelJob, queue)
	r.Add(ipp.TagOperation, "job-id", job.Values[0])
	save("cancel-job", "/printers/borne-test", r, nil)
	save("cancel-job-again", "/printers/borne-test", r, nil)

	r = op(ipp.OpCreatePrinterSubscriptions, c.URI("/"))
	r.Add(ipp.TagSubscription, "notify-recipient-uri", ipp.URI("dbus://"))
	r.Add(ipp.TagSubscription, "notify-events", ipp.Keywords("job-state-changed", "printer-state-changed")...)
	r.Add(ipp.TagSubscription, "notify-lease-duration", ipp.Integer(600))
	m = save("create-printer-subscriptions", "/", r, nil)
	sub, _ := m.Attr(ipp.TagSubscription, "notify-subscription-id")

	r = op(ipp.OpRenewSubscription, c.URI("/"))
	r.Add(ipp.TagOperation, "notify-subscription-id", sub.Values[0])
	r.Add(ipp.TagSubscription, "notify-lease-duration", ipp.Integer(600))
	save("renew-subscription", "/", r, nil)

	srv.Pause(t)
	save("get-printer-attributes-paused", "/printers/borne-test", status(), nil)
}

func post(t *testing.T, addr, path string, req *ipp.Message, doc []byte) []byte {
	t.Helper()
	req.RequestID = 1 // cupsd refuses 0
	body, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(append(body, doc...)))
	hr.Header.Set("Content-Type", ipp.ContentType)
	tr := &http.Transport{DialContext: (&net.Dialer{}).DialContext}
	resp, err := (&http.Client{Transport: tr}).Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
