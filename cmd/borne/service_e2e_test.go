package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A kiosk an agent marked broken stays so across kill -9 (what a
// watchdog's restart or a power cut does), in the site's own language
// whatever the language the agent's menu was in; brought back, it stays
// in service across kill -9 too.
func TestE2EOutOfServiceSurvivesKill9(t *testing.T) {
	cfg, db := testConfig(t)
	state := filepath.Join(filepath.Dir(db), "out-of-service")
	tm := startTerm(t, 100, 30, "run", "--config", cfg)
	tm.waitFor("Appel d'essai")
	tm.tapText("English") // a citizen left the kiosk in English
	tm.waitFor("Français")
	unlockByKeys(tm)
	tm.tapText("Put out of service")
	tm.tapText("Technical fault")
	tm.waitFor("Back in service")
	waitFile(t, state, true)
	if b, _ := os.ReadFile(state); !strings.Contains(string(b), `"key":"oos.preset.fault"`) || strings.Contains(string(b), "Technical") {
		t.Fatalf("the state keeps words, not the message's key: %s", b)
	}
	tm.signal(syscall.SIGKILL)
	tm.exitStatus()

	again := startTerm(t, 100, 30, "run", "--config", cfg)
	s := again.waitFor("Borne hors service")
	if !strings.Contains(s, "Panne technique, réparation en cours") {
		t.Fatalf("after kill -9 the kiosk says:\n%s", s)
	}
	unlockByKeys(again)
	s = again.waitFor("Remettre en service")
	if !strings.Contains(s, "Hors service depuis le") {
		t.Fatalf("the menu does not say since when:\n%s", s)
	}
	again.tapText("Remettre en service")
	again.waitFor("Mettre hors service")
	waitFile(t, state, false)
	again.signal(syscall.SIGKILL)
	again.exitStatus()

	third := startTerm(t, 100, 30, "run", "--config", cfg)
	third.waitFor("Touchez le service")
	third.signal(syscall.SIGTERM)
	if code := third.exitStatus(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
}

// unlockByKeys opens maintenance with F12 and the test config's PIN.
func unlockByKeys(tm *term) {
	tm.t.Helper()
	tm.tmux("send-keys", "-t", "k", "F12")
	tm.waitFor("Maintenance")
	tm.tmux("send-keys", "-t", "k", "-l", "246810")
	tm.tmux("send-keys", "-t", "k", "Enter")
	tm.waitUntil("maintenance unlocked", func(s string) bool {
		return strings.Contains(s, "Verrouiller") || strings.Contains(s, "Lock")
	})
}

// waitFile waits until path exists (or, with there false, is gone).
func waitFile(t *testing.T, path string, there bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := os.Lstat(path)
		if (err == nil) == there {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: there %v, want %v (%v)", path, err == nil, there, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
