// Package cupstest starts a private CUPS scheduler for tests: its own
// configuration, spool, logs and port, the policy Debian ships, and a
// queue whose jobs the cups-pdf backend turns into PDF files in a folder
// the test reads. Nothing of the machine's own CUPS is touched, except one
// small cups-pdf configuration file per server, removed at the end.
//
// It needs root (the cups-pdf backend only runs for a scheduler started
// as root) and Debian's cups-daemon, cups-client, printer-driver-cups-pdf
// and poppler-utils; deploy/ci-cups.sh installs them. Without them a test
// fails, saying what is missing: a printing test that skips proves nothing.
package cupstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loiret/borne/hw/ipp"
)

// Where Debian puts what the private scheduler needs.
const (
	cupsdPath    = "/usr/sbin/cupsd"
	lpadminPath  = "/usr/sbin/lpadmin"
	cupsPDFPath  = "/usr/lib/cups/backend/cups-pdf"
	cupsPDFPPD   = "/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd"
	cupsPDFConfs = "/etc/cups" // cups-pdf reads its configuration from there only
	install      = "run deploy/ci-cups.sh as root (it installs cups-daemon cups-client printer-driver-cups-pdf poppler-utils)"
)

// Options shape the private scheduler.
type Options struct {
	// Queue is the name of the PDF queue to create; "borne-test" when empty.
	Queue string
	// SystemBus is the D-Bus address the scheduler's notifiers take for the
	// system bus, so that a test can receive the real notifier's signals on
	// a private bus. Empty leaves them the machine's.
	SystemBus string
}

// Server is a running private scheduler.
type Server struct {
	// Addr is its TCP address, "127.0.0.1:port".
	Addr string
	// Socket is the path of its Unix socket.
	Socket string
	// Queue is the PDF queue's name.
	Queue string
	// Out is the folder where the queue's jobs land as PDF files, named
	// "<title>-job_<id>.pdf".
	Out string

	dir     string
	confs   []string // cups-pdf's configuration files for this server's queues
	opts    Options
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	cleanup sync.Once
}

// Check says what is missing for a private scheduler, or nil.
func Check() error {
	for _, p := range []string{cupsdPath, lpadminPath, cupsPDFPath, cupsPDFPPD} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing: %s", p, install)
		}
	}
	if os.Geteuid() != 0 {
		return errors.New("a private cupsd with the cups-pdf backend must be started as root: run the printing tests as root (CI does)")
	}
	return nil
}

// Start starts a private scheduler with a PDF queue, stopped when the test
// ends. It fails the test, saying what to install, when it cannot.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if err := Check(); err != nil {
		t.Fatalf("cupstest: %v", err)
	}
	if o.Queue == "" {
		o.Queue = "borne-test"
	}
	// Not t.TempDir: the scheduler's user (lp) must reach its spool through
	// every parent folder, and the Unix socket path must stay short.
	dir, err := os.MkdirTemp("", "cupstest-")
	if err != nil {
		t.Fatalf("cupstest: %v", err)
	}
	s := &Server{dir: dir, Queue: o.Queue, opts: o, Socket: filepath.Join(dir, "cups.sock"), Out: filepath.Join(dir, "out")}
	t.Cleanup(func() { s.close() })
	if err := s.setup(); err != nil {
		t.Fatalf("cupstest: %v", err)
	}
	if err := s.start(); err != nil {
		t.Fatalf("cupstest: %v\n%s", err, s.Log())
	}
	if err := s.AddQueue(o.Queue); err != nil {
		t.Fatalf("cupstest: %v\n%s", err, s.Log())
	}
	return s
}

func (s *Server) setup() error {
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return err
	}
	for _, d := range []string{"root/ppd", "spool/tmp", "cache", "state", "log", "out"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			return err
		}
	}
	// Every user a job may come from writes its PDF there.
	if err := os.Chmod(s.Out, 0o1777); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Addr = "127.0.0.1:" + strconv.Itoa(port)
	// cupsd hands its environment settings to the notifiers it starts:
	// the dbus notifier then signals on the test's bus.
	var env string
	if s.opts.SystemBus != "" {
		env = "SetEnv DBUS_SYSTEM_BUS_ADDRESS " + s.opts.SystemBus + "\n"
	}
	files := fmt.Sprintf(`ServerRoot %[1]s/root
RequestRoot %[1]s/spool
TempDir %[1]s/spool/tmp
CacheDir %[1]s/cache
StateDir %[1]s/state
AccessLog %[1]s/log/access_log
ErrorLog %[1]s/log/error_log
PageLog %[1]s/log/page_log
SystemGroup root
%[2]s`, s.dir, env)
	// State is written at once (DirtyCleanInterval 0), so that a killed
	// scheduler comes back with its queues and jobs as a real one does;
	// jobs whose document fails are retried once, quickly.
	conf := fmt.Sprintf(`LogLevel debug
Listen %s
Listen %s
Browsing No
WebInterface No
DefaultAuthType Basic
ErrorPolicy retry-job
JobRetryInterval 1
JobRetryLimit 2
PreserveJobFiles Yes
DirtyCleanInterval 0
<Location />
  Order allow,deny
  Allow localhost
</Location>
%s`, s.Addr, s.Socket, debianPolicy)
	if err := os.WriteFile(filepath.Join(s.dir, "root", "cups-files.conf"), []byte(files), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "root", "cupsd.conf"), []byte(conf), 0o644)
}

// AddQueue creates an enabled PDF queue whose jobs land in Out.
func (s *Server) AddQueue(name string) error { return s.addQueue(name, s.Out) }

// AddBrokenQueue creates a queue whose every job fails: its backend
// cannot write the PDF, and the queue's error policy aborts the job, as a
// printer that breaks mid-job does.
func (s *Server) AddBrokenQueue(name string) error {
	return s.addQueue(name, "/proc/borne-nowhere", "-o", "printer-error-policy=abort-job")
}

func (s *Server) addQueue(name, out string, options ...string) error {
	// cups-pdf picks its configuration by the device URI's path, so each
	// server's queues write into that server's own folder.
	instance := "borne-" + randomHex(6)
	conf := filepath.Join(cupsPDFConfs, "cups-pdf-"+instance+".conf")
	text := fmt.Sprintf("Out %[1]s\nAnonDirName %[1]s\nLabel 2\nLog %[2]s/log\nLogType 7\nGrp root\n", out, s.dir)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return fmt.Errorf("cannot write the cups-pdf configuration %s: %w", conf, err)
	}
	s.mu.Lock()
	s.confs = append(s.confs, conf)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"-p", name, "-E", "-v", "cups-pdf:/" + instance, "-P", cupsPDFPPD}, options...)
	cmd := exec.CommandContext(ctx, lpadminPath, args...)
	cmd.Env = append(os.Environ(), "CUPS_SERVER="+s.Socket)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lpadmin -p %s: %v: %s", name, err, out)
	}
	return nil
}

func (s *Server) start() error {
	cmd := exec.Command(cupsdPath, "-f", "-c", filepath.Join(s.dir, "root", "cupsd.conf"), "-s", filepath.Join(s.dir, "root", "cups-files.conf"))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cupsd: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	c := ipp.NewClient(s.Socket, "root")
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req := ipp.NewRequest(ipp.OpCUPSGetPrinters, "en")
		_, err := c.Do(ctx, "/", req, nil)
		cancel()
		if err == nil || ipp.IsStatus(err, ipp.StatusNotFound) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("cupsd stopped at once: %s", strings.TrimSpace(stderr.String()))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cupsd did not answer on %s within 15s: %v", s.Socket, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the scheduler the way a crash or an administrator would, and
// waits until it is gone. With kill it dies on SIGKILL, leaving its
// filters and backend orphaned; otherwise it shuts down on SIGTERM.
func (s *Server) Stop(kill bool) {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
	if kill {
		// A crash leaves its children behind; a test must not.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// Restart starts the scheduler again after Stop, on the same address and
// with the same queues and jobs.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("cupstest: restart: %v\n%s", err, s.Log())
	}
}

func (s *Server) close() {
	s.cleanup.Do(func() {
		s.Stop(false)
		for _, c := range s.confs {
			os.Remove(c)
		}
		if os.Getenv("CUPSTEST_KEEP") == "" {
			os.RemoveAll(s.dir)
		}
	})
}

// Log is the end of the scheduler's error log, for a failing test to show.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log", "error_log"))
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return "--- end of cupsd's error_log ---\n" + string(b)
}

// Admin sends a request as root over the Unix socket, where the Debian
// policy lets root do anything: pause or resume the queue, create jobs.
func (s *Server) Admin(ctx context.Context, path string, req *ipp.Message, doc []byte) (*ipp.Message, error) {
	c := ipp.NewClient(s.Socket, "root")
	defer c.Close()
	return c.Do(ctx, path, req, doc)
}

// Pause stops the queue, as an administrator does or as CUPS does itself
// when the printer fails, so that its jobs stay queued.
func (s *Server) Pause(t testing.TB) { s.QueueOp(t, ipp.OpPausePrinter) }

// Resume starts the queue again.
func (s *Server) Resume(t testing.TB) { s.QueueOp(t, ipp.OpResumePrinter) }

// QueueOp sends an administrator's operation on the queue (Pause-Printer,
// Hold-New-Jobs…) as root.
func (s *Server) QueueOp(t testing.TB, op ipp.Op) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := ipp.NewClient(s.Socket, "root")
	defer c.Close()
	req := ipp.NewRequest(op, "en")
	req.Add(ipp.TagOperation, "printer-uri", ipp.URI(c.URI("/printers/"+s.Queue)))
	req.Add(ipp.TagOperation, "requesting-user-name", ipp.Name("root"))
	if _, err := c.Do(ctx, "/admin/", req, nil); err != nil {
		t.Fatalf("cupstest: %s: %v", op, err)
	}
}

// PDF waits for the PDF of job id and returns its path.
func (s *Server) PDF(t testing.TB, job int, within time.Duration) string {
	t.Helper()
	suffix := "-job_" + strconv.Itoa(job) + ".pdf"
	deadline := time.Now().Add(within)
	for {
		entries, _ := os.ReadDir(s.Out)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), suffix) || e.Name() == "job_"+strconv.Itoa(job)+".pdf" {
				p := filepath.Join(s.Out, e.Name())
				// cups-pdf writes the file in place: wait for it to be whole.
				if b, err := os.ReadFile(p); err == nil && bytes.Contains(b[max(0, len(b)-1024):], []byte("%%EOF")) {
					return p
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("cupstest: no PDF for job %d in %s after %s\n%s", job, s.Out, within, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Text is the text of a PDF, to check what was printed.
func Text(t testing.TB, pdf string) string {
	t.Helper()
	out, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatalf("cupstest: pdftotext %s: %v (%s)", pdf, err, install)
	}
	return string(out)
}

// Pages is the number of pages of a PDF, as poppler counts them.
func Pages(t testing.TB, pdf string) int {
	t.Helper()
	out, err := exec.Command("pdfinfo", pdf).Output()
	if err != nil {
		t.Fatalf("cupstest: pdfinfo %s: %v (%s)", pdf, err, install)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "Pages:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatalf("cupstest: pdfinfo %s: no page count", pdf)
	return 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// debianPolicy is the default operation policy of Debian 12's cupsd.conf,
// so that tests meet the permissions a real kiosk's scheduler enforces:
// anyone may print, only a job's owner may cancel it or renew a
// subscription, only the system group may pause or resume a queue.
const debianPolicy = `<Policy default>
  JobPrivateAccess default
  JobPrivateValues default
  SubscriptionPrivateAccess default
  SubscriptionPrivateValues default
  <Limit Create-Job Print-Job Print-URI Validate-Job>
    Order deny,allow
  </Limit>
  <Limit Send-Document Send-URI Hold-Job Release-Job Restart-Job Purge-Jobs Set-Job-Attributes Create-Job-Subscription Renew-Subscription Cancel-Subscription Get-Notifications Reprocess-Job Cancel-Current-Job Suspend-Current-Job Resume-Job Cancel-My-Jobs Close-Job CUPS-Move-Job>
    Require user @OWNER @SYSTEM
    Order deny,allow
  </Limit>
  <Limit CUPS-Get-Document>
    AuthType Default
    Require user @OWNER @SYSTEM
    Order deny,allow
  </Limit>
  <Limit CUPS-Add-Modify-Printer CUPS-Delete-Printer CUPS-Add-Modify-Class CUPS-Delete-Class CUPS-Set-Default CUPS-Get-Devices>
    AuthType Default
    Require user @SYSTEM
    Order deny,allow
  </Limit>
  <Limit Pause-Printer Resume-Printer Enable-Printer Disable-Printer Pause-Printer-After-Current-Job Hold-New-Jobs Release-Held-New-Jobs Deactivate-Printer Activate-Printer Restart-Printer Shutdown-Printer Startup-Printer Promote-Job Schedule-Job-After Cancel-Jobs CUPS-Accept-Jobs CUPS-Reject-Jobs>
    AuthType Default
    Require user @SYSTEM
    Order deny,allow
  </Limit>
  <Limit Cancel-Job CUPS-Authenticate-Job>
    Require user @OWNER @SYSTEM
    Order deny,allow
  </Limit>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
`
