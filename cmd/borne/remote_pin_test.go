package main

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dots is the PIN pad's row of typed and empty places; clock the time in
// the header, which may turn a minute during the test.
// resets are tmux's returns to the default colours, which it writes or
// leaves out for the same cells depending on how they were last drawn.
var (
	dots   = regexp.MustCompile(`[●○][ ●○]*`)
	clock  = regexp.MustCompile(`\d\d:\d\d`)
	resets = regexp.MustCompile(`\x1b\[(0|39|49)m`)
)

// withoutDots is a screen, colours included, with the pad's dots and the
// clock blanked: what is left must not change with the digit pressed.
// Every explicit colour stays, so a highlighted digit still shows.
func withoutDots(s string) string {
	s = resets.ReplaceAllString(clock.ReplaceAllString(dots.ReplaceAllString(s, ""), ""), "")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// An agent types the PIN by touch at the kiosk while a technician watches
// over SSH: neither the kiosk's screen nor the technician's mirror shows
// which digit was pressed, only how many.
func TestRemoteMirrorHidesPINDigits(t *testing.T) {
	k := startRemoteKiosk(t)
	_, sess, _ := k.dialClient(t)
	pane := sshPane(t, sess)
	pane.waitFor("Touchez le service")
	k.tm.tmux("send-keys", "-t", "k", "F12")
	k.tm.waitFor("Maintenance — entrez le code")
	pane.waitFor("Maintenance — entrez le code")
	colours := func(tm *term) string { return tm.tmux("capture-pane", "-p", "-e", "-t", "k") }
	kiosk0, mirror0 := withoutDots(colours(k.tm)), withoutDots(colours(pane))
	typed := ""
	for i, d := range "7319" {
		k.tm.tapText(" " + string(d) + " ")
		typed += "● "
		want := strings.TrimSpace(typed + strings.Repeat("○ ", 5-i))
		k.tm.waitFor(want)
		pane.waitFor(want)
		// A capture can fall in the middle of a frame being written: a
		// screen that shows the digit keeps showing it, one that does
		// not comes back to the first picture.
		if got, ok := settles(func() string { return withoutDots(colours(k.tm)) }, kiosk0); !ok {
			t.Fatalf("the kiosk's screen changed with digit %c:\n%s\nwas:\n%s", d, got, kiosk0)
		}
		if got, ok := settles(func() string { return withoutDots(colours(pane)) }, mirror0); !ok {
			t.Fatalf("the SSH mirror changed with digit %c:\n%s\nwas:\n%s", d, got, mirror0)
		}
	}
	k.tm.signal(syscall.SIGTERM)
	k.tm.exitStatus()
}

// settles captures until the screen is want, for two seconds at most.
func settles(capture func() string, want string) (string, bool) {
	got := capture()
	for end := time.Now().Add(2 * time.Second); got != want && time.Now().Before(end); got = capture() {
		time.Sleep(50 * time.Millisecond)
	}
	return got, got == want
}
