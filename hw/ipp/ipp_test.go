package ipp_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/hw/ipp"
)

// hx turns "01 01 000b" into bytes; str is a length-prefixed string as the
// wire carries names and values. Expected encodings are written out by
// hand from RFC 8010 with these two, never with the encoder.
func hx(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Join(parts, ""), " ", ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func str(s string) string {
	return hex.EncodeToString([]byte{byte(len(s) >> 8), byte(len(s))}) + hex.EncodeToString([]byte(s))
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		msg  func() *ipp.Message
		want []string
	}{
		{
			name: "Get-Printer-Attributes as the kiosk sends it",
			msg: func() *ipp.Message {
				m := ipp.NewRequest(ipp.OpGetPrinterAttributes, "fr")
				m.RequestID = 42
				m.Add(ipp.TagOperation, "printer-uri", ipp.URI("ipp://localhost:631/printers/borne"))
				m.Add(ipp.TagOperation, "requested-attributes", ipp.Keywords("printer-state", "printer-state-reasons")...)
				return m
			},
			want: []string{
				"0101 000b 0000002a", // version 1.1, operation, request-id
				"01",                 // operation-attributes-tag
				"47", str("attributes-charset"), str("utf-8"),
				"48", str("attributes-natural-language"), str("fr"),
				"45", str("printer-uri"), str("ipp://localhost:631/printers/borne"),
				"44", str("requested-attributes"), str("printer-state"),
				"44 0000", str("printer-state-reasons"), // an additional value: empty name
				"03",
			},
		},
		{
			name: "Print-Job with a job group",
			msg: func() *ipp.Message {
				m := ipp.NewRequest(ipp.OpPrintJob, "en")
				m.RequestID = 1
				m.Add(ipp.TagOperation, "requesting-user-name", ipp.Name("borne"))
				m.Add(ipp.TagOperation, "job-name", ipp.Name("Fiche CAF – Pièces"))
				m.Add(ipp.TagOperation, "document-format", ipp.MimeType("application/pdf"))
				m.Add(ipp.TagJob, "copies", ipp.Integer(1))
				m.Add(ipp.TagJob, "job-hold-until", ipp.Keyword("indefinite"))
				return m
			},
			want: []string{
				"0101 0002 00000001", "01",
				"47", str("attributes-charset"), str("utf-8"),
				"48", str("attributes-natural-language"), str("en"),
				"42", str("requesting-user-name"), str("borne"),
				"42", str("job-name"), str("Fiche CAF – Pièces"), // UTF-8 bytes as they are
				"49", str("document-format"), str("application/pdf"),
				"02", // job-attributes-tag
				"21", str("copies"), "0004 00000001",
				"44", str("job-hold-until"), str("indefinite"),
				"03",
			},
		},
		{
			name: "every fixed-size syntax",
			msg: func() *ipp.Message {
				m := &ipp.Message{Major: 2, Minor: 0, Code: uint16(ipp.StatusOK), RequestID: 0x01020304}
				m.Add(ipp.TagPrinter, "printer-state", ipp.Enum(5))
				m.Add(ipp.TagPrinter, "marker-levels", ipp.Integer(-1), ipp.Integer(100))
				m.Add(ipp.TagPrinter, "printer-is-accepting-jobs", ipp.Boolean(false))
				m.Add(ipp.TagPrinter, "color-supported", ipp.Boolean(true))
				m.Add(ipp.TagPrinter, "copies-supported", ipp.Value{Tag: ipp.TagRange, Int: 1, Upper: 9999})
				m.Add(ipp.TagPrinter, "printer-resolution-default", ipp.Value{Tag: ipp.TagResolution, Res: [3]int32{300, 600, 3}})
				m.Add(ipp.TagPrinter, "printer-current-time", ipp.Value{Tag: ipp.TagDateTime, Raw: []byte{0x07, 0xea, 11, 27, 9, 14, 3, 0, '+', 1, 0}})
				m.Add(ipp.TagPrinter, "printer-state-message", ipp.Value{Tag: ipp.TagTextLang, Lang: "fr", Text: "Bourrage"})
				m.Add(ipp.TagPrinter, "printer-dns-sd-name", ipp.Value{Tag: ipp.TagNoValue})
				return m
			},
			want: []string{
				"0200 0000 01020304", "04",
				"23", str("printer-state"), "0004 00000005",
				"21", str("marker-levels"), "0004 ffffffff",
				"21 0000 0004 00000064",
				"22", str("printer-is-accepting-jobs"), "0001 00",
				"22", str("color-supported"), "0001 01",
				"33", str("copies-supported"), "0008 00000001 0000270f",
				"32", str("printer-resolution-default"), "0009 0000012c 00000258 03",
				"31", str("printer-current-time"), "000b 07ea0b1b090e03002b0100",
				"35", str("printer-state-message"), "000e", str("fr"), str("Bourrage"),
				"13", str("printer-dns-sd-name"), "0000",
				"03",
			},
		},
		{
			name: "a collection within a collection, two values",
			msg: func() *ipp.Message {
				size := func(x, y int) ipp.Value {
					return ipp.Value{Tag: ipp.TagBeginCollection, Members: []ipp.Attribute{
						{Name: "x-dimension", Values: []ipp.Value{ipp.Integer(x)}},
						{Name: "y-dimension", Values: []ipp.Value{ipp.Integer(y)}},
					}}
				}
				col := func(x, y int) ipp.Value {
					return ipp.Value{Tag: ipp.TagBeginCollection, Members: []ipp.Attribute{
						{Name: "media-size", Values: []ipp.Value{size(x, y)}},
						{Name: "media-source", Values: []ipp.Value{ipp.Keyword("auto")}},
					}}
				}
				m := &ipp.Message{Major: 1, Minor: 1, RequestID: 7}
				m.Add(ipp.TagPrinter, "media-col-ready", col(21000, 29700), col(14800, 21000))
				return m
			},
			want: []string{
				"0101 0000 00000007", "04",
				"34", str("media-col-ready"), "0000",
				"4a 0000", str("media-size"),
				"34 0000 0000",
				"4a 0000", str("x-dimension"), "21 0000 0004 00005208",
				"4a 0000", str("y-dimension"), "21 0000 0004 00007404",
				"37 0000 0000",
				"4a 0000", str("media-source"), "44 0000", str("auto"),
				"37 0000 0000",
				"34 0000 0000", // the second value of media-col-ready
				"4a 0000", str("media-size"),
				"34 0000 0000",
				"4a 0000", str("x-dimension"), "21 0000 0004 000039d0",
				"4a 0000", str("y-dimension"), "21 0000 0004 00005208",
				"37 0000 0000",
				"4a 0000", str("media-source"), "44 0000", str("auto"),
				"37 0000 0000",
				"03",
			},
		},
		{
			name: "several groups of the same kind, as Get-Jobs answers",
			msg: func() *ipp.Message {
				m := &ipp.Message{Major: 1, Minor: 1, RequestID: 3}
				m.Groups = []ipp.Group{
					{Tag: ipp.TagOperation},
					{Tag: ipp.TagJob, Attrs: []ipp.Attribute{{Name: "job-id", Values: []ipp.Value{ipp.Integer(1)}}}},
					{Tag: ipp.TagJob, Attrs: []ipp.Attribute{{Name: "job-id", Values: []ipp.Value{ipp.Integer(2)}}}},
				}
				return m
			},
			want: []string{
				"0101 0000 00000003", "01",
				"02", "21", str("job-id"), "0004 00000001",
				"02", "21", str("job-id"), "0004 00000002",
				"03",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.msg()
			got, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			want := hx(t, tt.want...)
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding differs\n got %x\nwant %x", got, want)
			}
			back, rest, err := ipp.Decode(append(got, "%PDF-1.4"...))
			if err != nil {
				t.Fatalf("decoding our own encoding: %v", err)
			}
			if string(rest) != "%PDF-1.4" {
				t.Errorf("data after the attributes = %q", rest)
			}
			if !reflect.DeepEqual(normalize(back), normalize(m)) {
				t.Errorf("decode(encode(m)) differs:\n got %+v\nwant %+v", back, m)
			}
		})
	}
}

// normalize makes nil and empty member lists equal for comparison.
func normalize(m *ipp.Message) *ipp.Message {
	var fix func([]ipp.Attribute)
	fix = func(as []ipp.Attribute) {
		for i := range as {
			for j := range as[i].Values {
				v := &as[i].Values[j]
				if v.Tag == ipp.TagBeginCollection && len(v.Members) == 0 {
					v.Members = nil
				}
				fix(v.Members)
			}
		}
	}
	for i := range m.Groups {
		fix(m.Groups[i].Attrs)
	}
	return m
}

func TestEncodeRefuses(t *testing.T) {
	long := strings.Repeat("x", 40000)
	tests := map[string]*ipp.Message{
		"an attribute without a value": {Groups: []ipp.Group{{Tag: ipp.TagOperation, Attrs: []ipp.Attribute{{Name: "job-id"}}}}},
		"an attribute without a name":  {Groups: []ipp.Group{{Tag: ipp.TagOperation, Attrs: []ipp.Attribute{{Values: []ipp.Value{ipp.Integer(1)}}}}}},
		"a value too long":             (&ipp.Message{}).Add(ipp.TagOperation, "job-name", ipp.Name(long)),
		"a group tag that is not one":  {Groups: []ipp.Group{{Tag: ipp.TagEnd}}},
		"a delimiter as a value tag":   (&ipp.Message{}).Add(ipp.TagOperation, "x", ipp.Value{Tag: ipp.TagJob}),
	}
	for name, m := range tests {
		if _, err := m.MarshalBinary(); err == nil {
			t.Errorf("%s: encoded without error", name)
		}
	}
}

// TestDecodeCaptured decodes answers recorded from a real cupsd (Debian
// 12's 2.4.2, see TestCapture) and encodes them back byte for byte.
func TestDecodeCaptured(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.ipp")
	if len(files) < 10 {
		t.Fatalf("only %d captured answers in testdata", len(files))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, rest, err := ipp.Decode(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(rest) != 0 {
			t.Errorf("%s: %d bytes after the attributes", f, len(rest))
		}
		again, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("%s: encoding it back: %v", f, err)
		}
		if !bytes.Equal(again, raw) {
			t.Errorf("%s: encoding it back changed it (%d bytes, was %d)", f, len(again), len(raw))
		}
	}

	read := func(name string) *ipp.Message {
		t.Helper()
		raw, _ := os.ReadFile("testdata/" + name + ".ipp")
		m, _, err := ipp.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	idle := read("get-printer-attributes-idle")
	p, _ := idle.Group(ipp.TagPrinter)
	if st, _ := p.Int("printer-state"); st != ipp.PrinterIdle {
		t.Errorf("idle printer-state = %d", st)
	}
	if r := p.Strings("printer-state-reasons"); !reflect.DeepEqual(r, []string{"none"}) {
		t.Errorf("idle reasons = %q", r)
	}
	if ok, found := p.Bool("printer-is-accepting-jobs"); !ok || !found {
		t.Errorf("accepting = %v %v", ok, found)
	}
	if m := p.Strings("media-ready"); len(m) == 0 || !strings.Contains(strings.Join(m, " "), "iso_a4_210x297mm") {
		t.Errorf("media-ready = %q", m)
	}

	paused := read("get-printer-attributes-paused")
	p, _ = paused.Group(ipp.TagPrinter)
	if st, _ := p.Int("printer-state"); st != ipp.PrinterStopped {
		t.Errorf("paused printer-state = %d", st)
	}
	if r := p.Strings("printer-state-reasons"); !reflect.DeepEqual(r, []string{"paused"}) {
		t.Errorf("paused reasons = %q", r)
	}

	nf := read("get-printer-attributes-not-found")
	if nf.Status() != ipp.StatusNotFound || !strings.Contains(nf.StatusMessage(), "does not exist") {
		t.Errorf("not found: %s %q", nf.Status(), nf.StatusMessage())
	}

	all := read("get-printer-attributes-all")
	p, _ = all.Group(ipp.TagPrinter)
	mcd, ok := p.Attr("media-col-default")
	if !ok || mcd.Values[0].Tag != ipp.TagBeginCollection {
		t.Fatalf("media-col-default = %+v", mcd)
	}
	size := mcd.Values[0].Members[0]
	if size.Name != "media-size" || size.Values[0].Members[0].Name != "x-dimension" || size.Values[0].Members[0].Values[0].Int != 20990 {
		t.Errorf("media-col-default's media-size = %+v (want A4, x-dimension 20990)", size)
	}
	if v := p.Text("printer-make-and-model"); !strings.Contains(v, "CUPS-PDF") {
		t.Errorf("printer-make-and-model = %q", v)
	}
	if ops := p.Ints("operations-supported"); !contains(ops, int(ipp.OpPrintJob)) || !contains(ops, int(ipp.OpCreatePrinterSubscriptions)) {
		t.Errorf("operations-supported = %v", ops)
	}

	jobs := read("get-jobs").All(ipp.TagJob)
	if len(jobs) != 2 {
		t.Fatalf("Get-Jobs: %d job groups", len(jobs))
	}
	for i, j := range jobs {
		if id, _ := j.Int("job-id"); id != i+1 {
			t.Errorf("job %d: job-id %d", i, id)
		}
		if st, _ := j.Int("job-state"); st != ipp.JobHeld {
			t.Errorf("job %d: state %d", i, st)
		}
	}
	if n := jobs[0].Text("job-name"); n != "Fiche CAF" {
		t.Errorf("job-name = %q", n)
	}

	again := read("cancel-job-again")
	if again.Status() != ipp.StatusNotPossible || !strings.Contains(again.StatusMessage(), "annulée") {
		t.Errorf("cancel again: %s %q (cupsd answers in the request's language)", again.Status(), again.StatusMessage())
	}
	sub := read("create-printer-subscriptions")
	if g, _ := sub.Group(ipp.TagSubscription); g.Text("notify-subscription-id") == "" {
		t.Errorf("no notify-subscription-id in %+v", sub)
	}
	renew := read("renew-subscription")
	if g, _ := renew.Group(ipp.TagSubscription); g.Text("notify-lease-duration") != "600" {
		t.Errorf("renewed lease = %q", g.Text("notify-lease-duration"))
	}
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestDecodeMalformed(t *testing.T) {
	head := "0101 0000 00000001"
	tests := map[string][]string{
		"empty":                           {""},
		"a header only":                   {head},
		"no end tag":                      {head, "01"},
		"a value before any group":        {head, "21", str("job-id"), "0004 00000001 03"},
		"an additional value first":       {head, "01 21 0000 0004 00000001 03"},
		"an integer of 3 bytes":           {head, "01 21", str("job-id"), "0003 000001 03"},
		"a boolean of 2 bytes":            {head, "01 22", str("b"), "0002 0001 03"},
		"a value longer than the rest":    {head, "01 44", str("k"), "00ff 6162 03"},
		"a name longer than the rest":     {head, "01 44 00ff 6162"},
		"an unended collection":           {head, "01 34", str("c"), "0000 4a 0000", str("m"), "21 0000 0004 00000001 03"},
		"a member value without a name":   {head, "01 34", str("c"), "0000 21 0000 0004 00000001 37 0000 0000 03"},
		"an end of collection at the top": {head, "01 37 0000 0000 03"},
		"a member name at the top":        {head, "01 4a 0000", str("m"), "03"},
		"a malformed text with language":  {head, "01 35", str("t"), "0003 0005 61 03"},
		"a group tag 0":                   {head, "00 03"},
	}
	for name, parts := range tests {
		if _, _, err := ipp.Decode(hx(t, parts...)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	// Collections nested beyond reason are refused, not recursed into.
	deep := head + "01 34" + str("c") + "0000"
	for range 40 {
		deep += "4a 0000" + str("m") + "34 0000 0000"
	}
	if _, _, err := ipp.Decode(hx(t, deep)); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("deep nesting: %v", err)
	}
	// Every truncation of a real answer is an error, never a panic.
	raw, _ := os.ReadFile("testdata/get-job-attributes.ipp")
	for n := range len(raw) {
		if _, _, err := ipp.Decode(raw[:n]); err == nil {
			t.Fatalf("truncated at %d of %d: no error", n, len(raw))
		}
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.ipp")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _, err := ipp.Decode(b)
		if err != nil {
			return
		}
		enc, err := m.MarshalBinary()
		if err != nil {
			return // a decoded value may be too long to encode again: fine
		}
		back, _, err := ipp.Decode(enc)
		if err != nil {
			t.Fatalf("decoding our encoding of a decoded message: %v", err)
		}
		if !reflect.DeepEqual(normalize(back), normalize(m)) {
			t.Fatalf("round trip changed the message")
		}
	})
}

func TestClient(t *testing.T) {
	answer := func(raw []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Content-Type") != ipp.ContentType || r.Method != http.MethodPost {
				http.Error(w, "not IPP", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", ipp.ContentType)
			w.Write(raw)
		}
	}
	idle, _ := os.ReadFile("testdata/get-printer-attributes-idle.ipp")
	notFound, _ := os.ReadFile("testdata/get-printer-attributes-not-found.ipp")
	req := func() *ipp.Message { return ipp.NewRequest(ipp.OpGetPrinterAttributes, "fr") }
	ctx := context.Background()

	t.Run("ok", func(t *testing.T) {
		var got []byte
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = make([]byte, r.ContentLength)
			r.Body.Read(got)
			answer(idle)(w, r)
		}))
		defer srv.Close()
		c := ipp.NewClient(strings.TrimPrefix(srv.URL, "http://"), "borne")
		m, err := c.Do(ctx, "/printers/borne", req(), []byte("%PDF-1.4"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Status() != ipp.StatusOK {
			t.Errorf("status %s", m.Status())
		}
		if !bytes.HasSuffix(got, []byte("\x03%PDF-1.4")) || got[7] == 0 {
			t.Errorf("request body %x: want a request-id and the document after the end tag", got)
		}
	})
	t.Run("error status", func(t *testing.T) {
		srv := httptest.NewServer(answer(notFound))
		defer srv.Close()
		c := ipp.NewClient(strings.TrimPrefix(srv.URL, "http://"), "borne")
		_, err := c.Do(ctx, "/printers/nope", req(), nil)
		if !ipp.IsStatus(err, ipp.StatusNotFound) || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("401", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
		}))
		defer srv.Close()
		c := ipp.NewClient(strings.TrimPrefix(srv.URL, "http://"), "borne")
		_, err := c.Do(ctx, "/", req(), nil)
		if !ipp.IsDenied(err) || !strings.Contains(err.Error(), "authenticated") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("not IPP", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>"))
		}))
		defer srv.Close()
		c := ipp.NewClient(strings.TrimPrefix(srv.URL, "http://"), "borne")
		if _, err := c.Do(ctx, "/", req(), nil); err == nil || !strings.Contains(err.Error(), "not IPP") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no answer in time", func(t *testing.T) {
		hold := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hold }))
		defer srv.Close()
		defer close(hold)
		c := ipp.NewClient(strings.TrimPrefix(srv.URL, "http://"), "borne")
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Do(ctx, "/", req(), nil)
		if !ipp.IsUnreachable(err) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "in time") {
			t.Errorf("err = %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("gave up after %s", d)
		}
	})
	t.Run("nobody listening", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		c := ipp.NewClient(addr, "borne")
		_, err := c.Do(ctx, "/", req(), nil)
		if !ipp.IsUnreachable(err) || !strings.Contains(err.Error(), "refused") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unix socket with peer credentials", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "s")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		var auth string
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			auth = r.Header.Get("Authorization")
			answer(idle)(w, r)
		})}
		go srv.Serve(l)
		defer srv.Close()
		c := ipp.NewClient(sock, "borne")
		if _, err := c.Do(ctx, "/", req(), nil); err != nil {
			t.Fatal(err)
		}
		if auth != "PeerCred borne" {
			t.Errorf("Authorization = %q", auth)
		}
		if u := c.URI("/printers/x"); u != "ipp://localhost/printers/x" {
			t.Errorf("URI = %q", u)
		}
	})
}

func BenchmarkDecodePrinterAttributes(b *testing.B) {
	raw, err := os.ReadFile("testdata/get-printer-attributes-all.ipp")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ipp.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePrinterAttributes(b *testing.B) {
	raw, _ := os.ReadFile("testdata/get-printer-attributes-all.ipp")
	m, _, err := ipp.Decode(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	buf := make([]byte, 0, len(raw))
	for b.Loop() {
		if _, err := m.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeStatus(b *testing.B) {
	raw, _ := os.ReadFile("testdata/get-printer-attributes-idle.ipp")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ipp.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}
