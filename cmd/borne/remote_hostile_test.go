package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/loiret/borne/config"
)

// memory reads a process's resident size and its peak, in KiB.
func memory(t *testing.T, pid int) (rss, peak int) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, v, _ := strings.Cut(sc.Text(), ":")
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch name {
		case "VmRSS":
			rss = n
		case "VmHWM":
			peak = n
		}
	}
	return rss, peak
}

// A technician's client claiming a 3000×3000 window (stty rows 3000 cols
// 3000) at the start and at a window change costs the kiosk what a
// 300×100 one does, and the kiosk gives it back after the session.
func TestRemoteHugeWindow(t *testing.T) {
	k := startRemoteKiosk(t)
	pid := k.tm.pid()
	time.Sleep(time.Second) // the log opened, the first frames drawn
	rss0, peak0 := memory(t, pid)

	var client *gossh.Client
	var sess *gossh.Session
	var out *screen
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		client, sess, out, err = dialSized(t, k.addr, k.hostKy, k.key, 3000, 3000)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	in, _ := sess.StdinPipe()
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "Borne 100×30")
	in.Write([]byte("m")) // the maintenance model, drawn at the session's size
	out.waitFor(t, "Maintenance")
	for range 3 {
		sess.WindowChange(3000, 3000)
		time.Sleep(300 * time.Millisecond)
	}
	k.tm.tapText("Appel d'essai") // the kiosk draws, the viewer follows
	time.Sleep(time.Second)
	rss1, peak1 := memory(t, pid)
	client.Close()
	time.Sleep(2 * time.Second) // the session ends on the server's side
	rss2, _ := memory(t, pid)
	t.Logf("kiosk RSS: %d KiB before, %d KiB during a 3000×3000 session (peak %d KiB, %d before), %d KiB after",
		rss0, rss1, peak1, peak0, rss2)
	if grew := peak1 - max(peak0, rss0); grew > 150<<10 {
		t.Errorf("the session grew the kiosk by %d MiB at its peak", grew>>10)
	}
	if kept := rss2 - rss0; kept > 50<<10 {
		t.Errorf("the kiosk kept %d MiB after the session", kept>>10)
	}
}

// Remote help takes a few technicians at once, gives each connection half
// a minute to log in, cuts the oldest of those still waiting rather than
// turn a technician away, and honours from= and expiry-time= on the keys.
func TestRemoteLimits(t *testing.T) {
	old := remoteLoginGrace
	remoteLoginGrace = time.Second
	defer func() { remoteLoginGrace = old }()
	known, line := sshKey(t)
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	start := func(keys ...string) *remote {
		r, err := startRemote(config.Remote{Listen: "127.0.0.1:0", AuthorizedKeys: keys, HostKey: hostKey}, quietLog(), newGuard(os.Stderr, quietLog()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return r
	}
	r := start(line)
	addr := r.addr.String()

	// Connections that never log in are cut after the grace period.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err = idle.Read(buf); err != nil {
			break
		}
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("a connection that never logged in is still open after 10 s")
	}
	idle.Close()

	// Idle sockets hold no technician out: with every waiting place taken
	// by them, a technician still logs in, and the oldest is the one cut.
	remoteLoginGrace = old
	addr = start(line).addr.String()
	var held []net.Conn
	for range remoteMaxWaiting {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		// The server's version line says it has taken this one: the
		// sockets take their places in the order they were opened.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "SSH-2.0-") {
			t.Fatalf("an idle socket's greeting: %q %v", line, err)
		}
		held = append(held, c)
	}
	clients := 0
	if _, _, _, err := dialClient(t, addr, hostKey, known); err != nil {
		t.Fatalf("a technician kept out by %d idle connections: %v", remoteMaxWaiting, err)
	}
	clients++
	for i, c := range held[:2] {
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, err := io.ReadAll(c)
		var ne net.Error
		if cut := !errors.As(err, &ne) || !ne.Timeout(); cut != (i == 0) {
			t.Errorf("idle connection %d: cut %v (%v)", i, cut, err)
		}
	}

	// remoteMaxSessions technicians at once; one more is cut as its key is
	// proven, and a place comes back when one leaves.
	var first *gossh.Client
	for clients < remoteMaxSessions {
		c, _, _, err := dialClient(t, addr, hostKey, known)
		if err != nil {
			t.Fatalf("technician %d: %v", clients+1, err)
		}
		if first == nil {
			first = c
		}
		clients++
	}
	if _, _, _, err := dialClient(t, addr, hostKey, known); err == nil {
		t.Errorf("a technician beyond %d was let in", remoteMaxSessions)
	}
	first.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, _, err := dialClient(t, addr, hostKey, known)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a technician's place not given back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// from= and expiry-time=.
	past := time.Now().Add(-time.Hour).In(time.Local).Format("200601021504")
	future := time.Now().Add(time.Hour).In(time.Local).Format("200601021504")
	for _, tc := range []struct {
		opts string
		ok   bool
	}{
		{`from="127.0.0.0/8"`, true},
		{`from="127.0.0.*"`, true},
		{`from="10.0.0.0/8"`, false},
		{`from="127.0.0.0/8,!127.0.0.1"`, false},
		{`expiry-time="` + past + `"`, false},
		{`expiry-time="` + future + `",from="127.0.0.1"`, true},
		{`restrict,no-port-forwarding`, true},
	} {
		key, bare := sshKey(t)
		r := start(tc.opts + " " + bare)
		_, _, _, err := dialClient(t, r.addr.String(), hostKey, key)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.opts, err)
		}
	}
}

// A key line it cannot honour, or a host key others can read, keep remote
// help off, said in the log, in config check and in doctor; the kiosk
// starts all the same.
func TestRemoteOffKeepsTheKiosk(t *testing.T) {
	_, line := sshKey(t)
	cfg, _ := testConfig(t)
	hostKey := filepath.Join(filepath.Dir(cfg), "ssh_host_ed25519_key")
	f, _ := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "\n[remote]\nlisten = %q\nauthorized_keys = [%q, 'command=\"/bin/sh\" %s']\nhost_key = %q\n", freePort(t), line, line, hostKey)
	f.Close()

	code, out := runBinary(t, "config", "check", "--config", cfg)
	if code != 0 || !strings.Contains(out, cfg+":") || !strings.Contains(out, `remote.authorized_keys[1]: option "command" is not one remote help can honour`) || !strings.Contains(out, "(warning)") {
		t.Errorf("config check: %d %q", code, out)
	}
	code, out = runBinary(t, "doctor", "--config", cfg)
	if !strings.Contains(out, "remote help") || !strings.Contains(out, "off: "+cfg+":") {
		t.Errorf("doctor: %d %q", code, out)
	}
	if _, err := startRemote(mustLoad(t, cfg).Remote, quietLog(), newGuard(os.Stderr, quietLog())); err == nil || !strings.Contains(err.Error(), "remote help is off") {
		t.Errorf("startRemote: %v", err)
	}
	tm := startTerm(t, 100, 30, "run", "--config", cfg)
	tm.waitFor("Touchez le service")

	// A host key others can read.
	os.WriteFile(hostKey, []byte("not even a key"), 0o644)
	os.Chmod(hostKey, 0o644)
	c := config.Remote{Listen: "127.0.0.1:0", AuthorizedKeys: []string{line}, HostKey: hostKey}
	if _, err := startRemote(c, quietLog(), newGuard(os.Stderr, quietLog())); err == nil || !strings.Contains(err.Error(), "can be read by other users") {
		t.Errorf("world-readable host key: %v", err)
	}
}

func mustLoad(t *testing.T, path string) *config.Config {
	t.Helper()
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
