package cups_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/cups"
	"github.com/loiret/borne/hw/ipp"
)

// startBus starts a private dbus-daemon standing in for the system bus:
// anyone may connect (cupsd's notifier runs as lp), own any name and send
// anywhere. It returns the bus's address.
func startBus(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Fatalf("dbus-daemon is needed (Debian package dbus-daemon): %v", err)
	}
	dir, err := os.MkdirTemp("", "borne-cups-bus-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // for the notifier, which runs as lp
	sock := filepath.Join(dir, "bus")
	conf := filepath.Join(dir, "bus.conf")
	err = os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=`+sock+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--nofork", "--print-address", "--config-file", conf)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	go io.Copy(io.Discard, out)
	_ = line
	return "unix:path=" + sock
}

// dialer connects to the bus at addr, as cups.SystemBus does to the real
// system bus.
func dialer(addr string) func() (*dbus.Conn, error) {
	return func() (*dbus.Conn, error) { return dbus.Connect(addr) }
}

// pkHelper is a fake cups-pk-helper: the real name, path, interface and
// signatures, every method answering an error string. Each call is
// recorded; act, when set, does what the real one would.
type pkHelper struct {
	mu    sync.Mutex
	calls []string
	fail  string // answered by every method when not empty
	act   func(method string, args ...any) string
}

func (h *pkHelper) record(method string, args ...any) (string, *dbus.Error) {
	h.mu.Lock()
	call := method
	for _, a := range args {
		call += " " + fmt.Sprint(a)
	}
	h.calls = append(h.calls, call)
	fail, act := h.fail, h.act
	h.mu.Unlock()
	if fail != "" {
		return fail, nil
	}
	if act != nil {
		return act(method, args...), nil
	}
	return "", nil
}

func (h *pkHelper) PrinterSetEnabled(name string, enabled bool) (string, *dbus.Error) {
	return h.record("PrinterSetEnabled", name, enabled)
}

func (h *pkHelper) PrinterSetAcceptJobs(name string, enabled bool, reason string) (string, *dbus.Error) {
	return h.record("PrinterSetAcceptJobs", name, enabled, reason)
}

func (h *pkHelper) JobCancelPurge(id int32, purge bool) (string, *dbus.Error) {
	return h.record("JobCancelPurge", id, purge)
}

func (h *pkHelper) JobRestart(id int32) (string, *dbus.Error) {
	return h.record("JobRestart", id)
}

func (h *pkHelper) setAct(act func(method string, args ...any) string) {
	h.mu.Lock()
	h.act = act
	h.mu.Unlock()
}

func (h *pkHelper) setFail(msg string) {
	h.mu.Lock()
	h.fail = msg
	h.mu.Unlock()
}

func (h *pkHelper) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}

func startPkHelper(t *testing.T, addr string) *pkHelper {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h := &pkHelper{}
	if err := conn.Export(h, cups.PkHelperPath, cups.PkHelperIface); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(cups.PkHelperName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: %v %v", cups.PkHelperName, reply, err)
	}
	return h
}

// emitter sends notifier signals as cupsd's dbus notifier does: from a
// connection owning no name, on the notifier's path and interface.
type emitter struct{ conn *dbus.Conn }

func newEmitter(t *testing.T, addr string) emitter {
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return emitter{conn}
}

// printer emits a Printer* signal, signature sssusb.
func (e emitter) printer(t *testing.T, member, queue string, state uint32, reasons string, accepting bool) {
	t.Helper()
	err := e.conn.Emit(cups.NotifierPath, cups.NotifierIface+"."+member,
		"Printer state changed", "ipp://localhost/printers/"+queue, queue, state, reasons, accepting)
	if err != nil {
		t.Fatal(err)
	}
}

// job emits a Job* signal, signature sssusbuussu, from a printer that is
// idle or, with reasons, stopped for them.
func (e emitter) job(t *testing.T, member, queue, reasons string, id, state uint32, impressions uint32) {
	t.Helper()
	pstate := uint32(ipp.PrinterIdle)
	if reasons != "none" {
		pstate = ipp.PrinterStopped
	}
	err := e.conn.Emit(cups.NotifierPath, cups.NotifierIface+"."+member,
		"Job state changed", "ipp://localhost/printers/"+queue, queue, pstate, reasons, true,
		id, state, "job-completed-successfully", "Fiche CAF", impressions)
	if err != nil {
		t.Fatal(err)
	}
}

// fakeCUPS answers IPP requests with answers a real cupsd gave (see
// hw/ipp/testdata), so the notifier can be tested without a scheduler.
// The job it takes is number 1 and stays held until a signal says more.
type fakeCUPS struct {
	*httptest.Server
	mu   sync.Mutex
	ops  []ipp.Op
	subs int
	deny map[ipp.Op]bool // answered 401, as CUPS does for another user's job
}

func startFakeCUPS(t *testing.T) *fakeCUPS {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "ipp", "testdata", name+".ipp"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	answers := map[ipp.Op][]byte{
		ipp.OpGetPrinterAttributes:       read("get-printer-attributes-idle"),
		ipp.OpPrintJob:                   read("print-job"),
		ipp.OpGetJobAttributes:           read("get-job-attributes"),
		ipp.OpCreatePrinterSubscriptions: read("create-printer-subscriptions"),
		ipp.OpRenewSubscription:          read("renew-subscription"),
		ipp.OpCancelSubscription:         read("cancel-job"), // a bare successful-ok
		ipp.OpGetJobs:                    read("get-jobs"),
		ipp.OpCancelJob:                  read("cancel-job"),
	}
	f := &fakeCUPS{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m, _, err := ipp.Decode(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.ops = append(f.ops, m.Op())
		if m.Op() == ipp.OpCreatePrinterSubscriptions {
			f.subs++
		}
		deny := f.deny[m.Op()]
		f.mu.Unlock()
		if deny {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		a, ok := answers[m.Op()]
		if !ok {
			http.Error(w, "not faked", http.StatusNotImplemented)
			return
		}
		w.Header().Set("Content-Type", ipp.ContentType)
		w.Write(a)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeCUPS) addr() string { return strings.TrimPrefix(f.URL, "http://") }

func (f *fakeCUPS) count(op ipp.Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, o := range f.ops {
		if o == op {
			n++
		}
	}
	return n
}

// waitChange waits for a change matching ok, failing the test after d.
// Changes that do not match are skipped.
func waitChange(t *testing.T, ch <-chan hw.Change, d time.Duration, what string, ok func(hw.Change) bool) hw.Change {
	t.Helper()
	timeout := time.After(d)
	var seen []hw.Change
	for {
		select {
		case c, open := <-ch:
			if !open {
				t.Fatalf("changes closed while waiting for %s; seen %+v", what, seen)
			}
			if ok(c) {
				return c
			}
			seen = append(seen, c)
		case <-timeout:
			t.Fatalf("no change %s within %s; seen %+v", what, d, seen)
		}
	}
}

func jobDone(id hw.JobID) func(hw.Change) bool {
	return func(c hw.Change) bool {
		return c.Job == id && (c.JobState == "completed" || c.JobState == "canceled" || c.JobState == "aborted")
	}
}

func printerIs(ready bool, reason string) func(hw.Change) bool {
	return func(c hw.Change) bool {
		return c.Device == "printer" && c.Job == "" && c.OK == ready && c.Reason == reason
	}
}

// testLog sends a printer's log to the test's output, shown when it fails.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
