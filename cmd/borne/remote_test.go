package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/loiret/borne/config"
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
		return nil, nil, err
	}
	t.Cleanup(func() { client.Close() })
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out := &screen{}
	sess.Stdout = out
	return sess, out, nil
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
	r.Mirror().Publish("Touchez le service qui vous intéresse", 100, 30)

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
	out.waitFor(t, "lecture seule")
	out.waitFor(t, "100×30")

	seq := r.Mirror().Frame().Seq
	in.Write([]byte("\r\x1b[Bx\x1a")) // Enter, Down, a letter, Ctrl+Z: ignored
	r.Mirror().Publish("Terminer l'appel", 100, 30)
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
	key, line := sshKey(t)
	cfg, _ := testConfig(t)
	addr := freePort(t)
	hostKey := filepath.Join(filepath.Dir(cfg), "ssh_host_ed25519_key")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[remote]\nlisten = %q\nauthorized_keys = [%q]\nhost_key = %q\n", addr, line, hostKey)
	f.Close()

	tm := startTerm(t, 100, 30, "run", "--config", cfg)
	tm.waitFor("Touchez le service")
	var sess *gossh.Session
	var out *screen
	deadline := time.Now().Add(10 * time.Second)
	for {
		if sess, out, err = dialView(t, addr, hostKey, key); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("remote help: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "Touchez le service")
	out.waitFor(t, "100×30")
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
