package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/tui"
)

// sshKey makes a technician's key: the signer, and its authorized_keys line.
func sshKey(t *testing.T) (gossh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey()))) + " technicien@loiret"
}

// screen collects what an SSH session shows.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		ok := strings.Contains(s.buf.String(), text)
		s.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Fatalf("the SSH session never showed %q:\n%q", text, s.buf.String())
}

// dialView opens an SSH session with a terminal and returns what it shows.
func dialView(t *testing.T, addr, hostKeyPath string, key gossh.Signer) (*gossh.Session, *screen, error) {
	t.Helper()
	_, sess, out, err := dialClient(t, addr, hostKeyPath, key)
	return sess, out, err
}

// dialClient is dialView with the connection, to cut it.
func dialClient(t *testing.T, addr, hostKeyPath string, key gossh.Signer) (*gossh.Client, *gossh.Session, *screen, error) {
	t.Helper()
	return dialSized(t, addr, hostKeyPath, key, 40, 120)
}

// dialSized is dialClient with a terminal of rows×cols.
func dialSized(t *testing.T, addr, hostKeyPath string, key gossh.Signer, rows, cols int) (*gossh.Client, *gossh.Session, *screen, error) {
	t.Helper()
	pub, err := os.ReadFile(hostKeyPath + ".pub")
	if err != nil {
		t.Fatalf("no host key beside %s: %v", hostKeyPath, err)
	}
	hostKey, _, _, _, err := gossh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	client, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User:            "technicien",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.FixedHostKey(hostKey),
		Timeout:         5 * time.Second,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	t.Cleanup(func() { client.Close() })
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", rows, cols, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out := &screen{}
	sess.Stdout = out
	return client, sess, out, nil
}

// A technician whose key is listed sees the kiosk's frames as they
// change; what they type does not reach the kiosk; an unknown key is
// refused before anything is shown.
func TestRemoteView(t *testing.T) {
	known, line := sshKey(t)
	stranger, _ := sshKey(t)
	hostKey := filepath.Join(t.TempDir(), "ssh_host_ed25519_key")
	g := newGuard(os.Stderr, quietLog())
	r, err := startRemote(config.Remote{Listen: "127.0.0.1:0", AuthorizedKeys: []string{line}, HostKey: hostKey}, quietLog(), g)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Mirror().Publish(tui.Frame{Content: "Touchez le service qui vous intéresse", Width: 100, Height: 30})

	sess, out, err := dialView(t, r.addr.String(), hostKey, known)
	if err != nil {
		t.Fatalf("an authorized key was refused: %v", err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "Touchez le service")
	out.waitFor(t, "vue en lecture seule")
	out.waitFor(t, "Borne 100×30")

	seq := r.Mirror().Frame().Seq
	in.Write([]byte("\r\x1b[Bx\x1a")) // Enter, Down, a letter, Ctrl+Z: ignored
	r.Mirror().Publish(tui.Frame{Content: "Terminer l'appel", Width: 100, Height: 30})
	out.waitFor(t, "Terminer l'appel")
	if got := r.Mirror().Frame().Seq; got != seq+1 {
		t.Fatalf("the kiosk's frames moved by %d, not by its own publish only", got-seq)
	}
	in.Write([]byte("q"))
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("q did not end the session")
	}

	if _, _, err := dialView(t, r.addr.String(), hostKey, stranger); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("an unknown key: %v", err)
	}
}

func TestRemoteOff(t *testing.T) {
	r, err := startRemote(config.Remote{}, quietLog(), newGuard(os.Stderr, quietLog()))
	if err != nil || r != nil || r.Mirror() != nil {
		t.Fatalf("remote help without listen: %v, %v", r, err)
	}
	r.Close()

	_, line := sshKey(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := config.Remote{Listen: busy.Addr().String(), AuthorizedKeys: []string{line}, HostKey: filepath.Join(t.TempDir(), "key")}
	if _, err := startRemote(cfg, quietLog(), newGuard(os.Stderr, quietLog())); err == nil {
		t.Fatal("no error for a port in use")
	}
}

// The real kiosk, remote help on: a technician's SSH session shows the
// home screen the citizen sees, and follows it.
func TestRemoteShowsTheKiosk(t *testing.T) {
	kiosk := startRemoteKiosk(t)
	tm := kiosk.tm
	sess, out := kiosk.dial(t)
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "Touchez le service")
	out.waitFor(t, "Borne 100×30")
	tm.tapText("Appel d'essai")
	tm.waitFor("Imprimer la fiche") // the operator's screen
	out.waitFor(t, "Imprimer la fiche")

	// A viewer's program leaves the kiosk's signals alone: SIGINT stays
	// ignored after the session is over.
	in.Write([]byte("q"))
	sess.Wait()
	time.Sleep(500 * time.Millisecond) // the server's end of the session closes too
	tm.signal(syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	if !tm.alive() {
		t.Fatalf("SIGINT stopped the kiosk after a remote session:\n%s", tm.screen())
	}
	tm.signal(syscall.SIGTERM)
	if code := tm.exitStatus(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
}

// remoteKiosk is the real kiosk in tmux with remote help on.
type remoteKiosk struct {
	tm               *term
	db, addr, hostKy string
	key              gossh.Signer
}

func startRemoteKiosk(t *testing.T) *remoteKiosk {
	t.Helper()
	key, line := sshKey(t)
	cfg, db := testConfig(t)
	k := &remoteKiosk{db: db, addr: freePort(t), hostKy: filepath.Join(filepath.Dir(cfg), "ssh_host_ed25519_key"), key: key}
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[remote]\nlisten = %q\nauthorized_keys = [%q]\nhost_key = %q\n", k.addr, line, k.hostKy)
	f.Close()
	k.tm = startTerm(t, 100, 30, "run", "--config", cfg)
	k.tm.waitFor("Touchez le service")
	return k
}

// dial opens a session once the kiosk listens.
func (k *remoteKiosk) dial(t *testing.T) (*gossh.Session, *screen) {
	t.Helper()
	_, sess, out := k.dialClient(t)
	return sess, out
}

func (k *remoteKiosk) dialClient(t *testing.T) (*gossh.Client, *gossh.Session, *screen) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		client, sess, out, err := dialClient(t, k.addr, k.hostKy, k.key)
		if err == nil {
			return client, sess, out
		}
		if time.Now().After(deadline) {
			t.Fatalf("remote help: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sshPane shows what an SSH session prints in a tmux pane of the
// session's size, so that the test reads the screen the technician reads
// and taps where the technician would click.
func sshPane(t *testing.T, sess *gossh.Session) *term {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "screen")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	pane := &term{t: t, sock: fmt.Sprintf("borne-ssh-%d-%d", os.Getpid(), sockets.Add(1))}
	pane.tmux("new-session", "-d", "-s", "k", "-x", "120", "-y", "40", "cat "+fifo+"; sleep 600")
	t.Cleanup(func() { exec.Command("tmux", "-L", pane.sock, "kill-server").Run() })
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for cat
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	sess.Stdout, pane.input = w, in
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	return pane
}

func (tm *term) typeText(s string) {
	tm.t.Helper()
	if _, err := io.WriteString(tm.input, s); err != nil {
		tm.t.Fatalf("typing %q: %v", s, err)
	}
}

// A technician opens maintenance from afar with the PIN, puts the kiosk
// out of service (the citizen's screen says so at once) and locks; opens
// it again, brings the kiosk back and loses the link (maintenance locks
// itself); then restarts the kiosk from a third session. Every one of
// these events is in the usage log, marked as remote.
func TestRemoteMaintenance(t *testing.T) {
	k := startRemoteKiosk(t)
	client, sess, _ := k.dialClient(t)
	pane := sshPane(t, sess)
	pane.waitFor("m : maintenance")
	pane.typeText("m")
	pane.waitFor("Maintenance — entrez le code")
	pane.typeText("246810\r")
	pane.tapText("Mettre hors service")
	pane.tapText("Panne technique")
	s := k.tm.waitFor("Borne hors service")
	if !strings.Contains(s, "Panne technique, réparation en cours") {
		t.Fatalf("citizen screen:\n%s", s)
	}
	pane.waitFor("Remettre en service")
	pane.typeText("\x03") // Ctrl+C locks
	pane.waitFor("maintenance verrouillée")
	pane.waitFor("Borne hors service") // the kiosk's frame again

	pane.typeText("m")
	pane.waitFor("Maintenance — entrez le code")
	pane.typeText("246810\r")
	pane.tapText("Remettre en service")
	k.tm.waitFor("Touchez le service")
	pane.waitFor("Mettre hors service")
	client.Close() // the link drops, unlocked
	waitEvent(t, k.db, "maintenance_locked", 2)

	sess, _ = k.dial(t)
	pane = sshPane(t, sess)
	pane.typeText("m")
	pane.waitFor("Maintenance — entrez le code")
	pane.typeText("246810\r")
	pane.tapText("Redémarrer la borne")
	pane.tapText("Oui, redémarrer")
	if code := k.tm.exitStatus(); code != 0 {
		t.Fatalf("the kiosk restarted with status %d", code)
	}

	var got []string
	for _, e := range exportEvents(t, k.db) {
		kind := e["kind"].(string)
		if d, _ := e["detail"].(map[string]any); d["remote"] == true {
			kind += "(remote)"
		}
		got = append(got, kind)
	}
	want := "shell_started maintenance_unlocked(remote) out_of_service(remote) maintenance_locked(remote) " +
		"maintenance_unlocked(remote) back_in_service(remote) maintenance_locked(remote) " +
		"maintenance_unlocked(remote) maintenance_locked(remote) shell_stopped"
	if strings.Join(got, " ") != want {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, " "), want)
	}
}

// waitEvent waits until the log holds n events of this kind.
func waitEvent(t *testing.T, db, kind string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := 0
		for _, e := range exportEvents(t, db) {
			if e["kind"] == kind {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s events, not %d", got, kind, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
