package main

import (
	"bytes"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/tui"
	"github.com/loiret/borne/usage"
)

func runMain(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code = e.main(args)
	// run and demo ignore the terminal's signals; the test binary must not.
	signal.Reset(syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGTSTP)
	return code, out.String(), errb.String()
}

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[site]\nid = \"x\"\nbogus = 1\n"), 0o600)
	example := filepath.Join(dir, "example.toml")
	os.WriteFile(example, config.Example(), 0o600)
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, siteExample(t), 0o600)
	cases := []struct {
		args   []string
		stdin  string
		code   int
		out    string
		errOut string
	}{
		{[]string{"version"}, "", 0, "borne ", ""},
		{[]string{"frobnicate"}, "", 2, "", "unknown command"},
		{[]string{"config", "check", "--config", bad}, "", 2, "", bad + ":3:1: "},
		{[]string{"config", "check", "--config", good}, "", 0, "ok", ""},
		{[]string{"config", "check", "--config", filepath.Join(dir, "none.toml")}, "", 2, "", "none.toml"},
		{[]string{"config", "example"}, "", 0, "[site]", ""},
		{[]string{"config", "check", example}, "", 2, "", example + ":55:12: maintenance.pin_hash: is the example's placeholder"},
		{[]string{"config", "check", good}, "", 0, good + ": ok", ""},
		{[]string{"config", "check", bad}, "", 2, "", bad + ":3:1: "},
		{[]string{"config", "check", "--config", good, bad}, "", 2, "", "name the file once"},
		{[]string{"config", "check", good, bad}, "", 2, "", "unexpected argument"},
		{[]string{"logs", "export", "--db", filepath.Join(dir, "missing.db"), "--out", filepath.Join(dir, "no", "such", "x.ndjson")}, "", 1, "", "the folder " + filepath.Join(dir, "no", "such") + " does not exist"},
		{[]string{"logs", "export", "--db", filepath.Join(dir, "missing.db"), "--out", filepath.Join(good, "x.ndjson")}, "", 1, "", good + " is not a folder"},
		{[]string{"config", "check", "--nope"}, "", 2, "", "flag provided but not defined"},
		{[]string{"logs", "export", "--db", filepath.Join(dir, "missing.db")}, "", 1, "", "missing.db"},
		{[]string{"logs", "export", "--format", "xml", "--db", "x"}, "", 2, "", "--format"},
		{[]string{"pin", "hash"}, "731904\n", 0, "$argon2id$v=19$m=19456,t=5,p=1$", ""},
		{[]string{"pin", "hash"}, "123456\n", 2, "", "too easy"},
		{[]string{"pin", "hash"}, "12ab56\n", 2, "", "digits only"},
		{[]string{"pin", "hash"}, "", 2, "", "no PIN"},
		{[]string{"run", "--config", bad}, "", 2, "", bad + ":3:1: "},
		{[]string{"run", "--config", good, "--db", filepath.Join(dir, "no", "usage.db")}, "", 2, "", "run: --db " + filepath.Join(dir, "no", "usage.db") + ": the folder " + filepath.Join(dir, "no") + " does not exist"},
		{[]string{"demo", "--db", filepath.Join(dir, "no", "usage.db")}, "", 2, "", "the folder " + filepath.Join(dir, "no") + " does not exist"},
	}
	for _, c := range cases {
		code, out, errOut := runMain(t, c.stdin, c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.errOut) {
			t.Errorf("borne %v: code %d, stdout %q, stderr %q", c.args, code, out, errOut)
		}
		if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
			t.Errorf("borne %v printed a stack: %s", c.args, errOut)
		}
	}
}

// siteExample is the example config with a site's own PIN hash in place
// of its placeholder, which config check refuses.
func siteExample(t *testing.T) []byte {
	t.Helper()
	h, err := config.HashPIN("731904")
	if err != nil {
		t.Fatal(err)
	}
	return pinHashLine.ReplaceAllLiteral(config.Example(), []byte(`pin_hash = "`+h+`"`))
}

var pinHashLine = regexp.MustCompile(`(?m)^pin_hash = ".*"$`)

func TestPinHashVerifies(t *testing.T) {
	_, out, _ := runMain(t, "58203716\n", "pin", "hash")
	if ok, err := config.VerifyPIN(strings.TrimSpace(out), "58203716"); !ok || err != nil {
		t.Fatalf("the printed hash does not verify: %v %v", ok, err)
	}
}

func TestExportToKey(t *testing.T) {
	cfg, db := testConfig(t)
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exportToKey(t.Context(), c, nil, quietLog()); !errors.Is(err, tui.ErrNoUSBKey) {
		t.Fatalf("no key: %v", err)
	}
	// A log with one event, and a key that is a folder here.
	store, err := usage.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Record(t.Context(), usage.Event{Kind: usage.KindShellStarted, Site: "test-gien", Place: "Gien"}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	key := t.TempDir()
	x, err := exportToKey(t.Context(), c, []string{filepath.Join(key, "missing"), key}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(key, "borne-test-gien-*.ndjson"))
	if len(files) != 1 || x.Events != 1 || x.File != filepath.Base(files[0]) {
		t.Fatalf("export to key: %+v, files %v", x, files)
	}
}

// At a terminal, borne pin hash asks twice without echo: the same PIN
// gives its hash, two different ones nothing.
func TestPinHashAtATerminal(t *testing.T) {
	tm := startTerm(t, 200, 10, "pin", "hash")
	tm.waitFor("PIN (6 to 12 digits):")
	tm.tmux("send-keys", "-t", "k", "-l", "58203716")
	tm.tmux("send-keys", "-t", "k", "Enter")
	tm.waitFor("The same PIN again:")
	tm.tmux("send-keys", "-t", "k", "-l", "58203716")
	tm.tmux("send-keys", "-t", "k", "Enter")
	if code := tm.exitStatus(); code != 0 {
		t.Fatalf("exit status %d:\n%s", code, tm.screen())
	}
	s := tm.screen()
	i := strings.Index(s, "$argon2id$")
	if i < 0 || strings.Contains(s, "58203716") {
		t.Fatalf("the screen:\n%s", s)
	}
	hash := strings.Fields(s[i:])[0]
	if ok, err := config.VerifyPIN(hash, "58203716"); !ok || err != nil {
		t.Fatalf("%s does not verify: %v %v", hash, ok, err)
	}

	tm = startTerm(t, 200, 10, "pin", "hash")
	tm.waitFor("PIN (6 to 12 digits):")
	tm.tmux("send-keys", "-t", "k", "-l", "58203716")
	tm.tmux("send-keys", "-t", "k", "Enter")
	tm.waitFor("The same PIN again:")
	tm.tmux("send-keys", "-t", "k", "-l", "58203761")
	tm.tmux("send-keys", "-t", "k", "Enter")
	if code := tm.exitStatus(); code != 2 {
		t.Fatalf("two different PINs: exit status %d:\n%s", code, tm.screen())
	}
	if s := tm.screen(); !strings.Contains(s, "the two PINs differ") || strings.Contains(s, "$argon2id$") {
		t.Fatalf("two different PINs:\n%s", s)
	}

	// An easy PIN is refused before it is asked again.
	tm = startTerm(t, 200, 10, "pin", "hash")
	tm.waitFor("PIN (6 to 12 digits):")
	tm.tmux("send-keys", "-t", "k", "-l", "123456")
	tm.tmux("send-keys", "-t", "k", "Enter")
	if code := tm.exitStatus(); code != 2 || strings.Contains(tm.screen(), "again") {
		t.Fatalf("an easy PIN: exit status %d:\n%s", code, tm.screen())
	}
}
