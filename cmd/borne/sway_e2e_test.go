package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw/sway"
	"github.com/loiret/borne/hw/sway/swaytest"
)

// kiosk is the real thing under a headless sway: the shipped sway config
// (its paths changed), the real binary in real foot, a video client that
// is a second foot with a loud background, wtype for keys, grim for the
// screen, GET_TREE for the layout.
type kiosk struct {
	t   *testing.T
	s   *swaytest.Sway
	dir string
	db  string
	c   *sway.Conn
}

const (
	videoApp = "video"
	shellApp = "borne"
)

var (
	magenta = [3]uint8{255, 0, 255}
	yellow  = [3]uint8{255, 209, 102} // the primary button: Terminer l'appel
)

func startKiosk(t *testing.T, maxSession string) *kiosk {
	t.Helper()
	k := newKiosk(t)
	// The partner's client: a foot window in a loud colour; it hangs up
	// (exit 0) or crashes (exit 3) when told by a file, and its wrapper
	// lives on when only its window is closed.
	inner := k.write("client.sh", fmt.Sprintf(`#!/bin/sh
echo "VIDEO CLIENT"
while :; do
	for code in 0 3; do
		if [ -e %[1]s/end.$code ]; then rm -f %[1]s/end.$code; echo $code > %[1]s/exitcode; exit $code; fi
	done
	sleep 0.05
done
`, k.dir), 0o755)
	wrapper := k.write("video.sh", fmt.Sprintf(`#!/bin/sh
rm -f %[1]s/exitcode
foot --app-id=%[2]s -o colors.background=ff00ff -o colors.foreground=000000 -- %[3]s
if [ -e %[1]s/exitcode ]; then exit $(cat %[1]s/exitcode); fi
exec sleep 600
`, k.dir, videoApp, inner), 0o755)
	k.boot(maxSession, "", fmt.Sprintf("launch = [%q]\n", wrapper))
	return k
}

// newKiosk prepares the kiosk's folder: the binary and foot's config,
// readable by nobody.
func newKiosk(t *testing.T) *kiosk {
	t.Helper()
	swaytest.Need(t, "sway", "foot", "grim", "wtype")
	dir := swaytest.Folder(t)
	k := &kiosk{t: t, dir: dir, db: filepath.Join(dir, "usage.db")}
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	k.write("borne", string(b), 0o755)
	return k
}

func (k *kiosk) write(name, body string, mode os.FileMode) string {
	k.t.Helper()
	p := filepath.Join(k.dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		k.t.Fatal(err)
	}
	os.Chown(p, swaytest.Nobody, swaytest.Nobody)
	return p
}

// boot starts sway on the shipped config, the shell in foot on a config
// whose one operator is open all day and reached as client says (its
// launch or visio lines); hardware adds lines to [hardware].
func (k *kiosk) boot(maxSession, hardware, client string) {
	t := k.t
	t.Helper()
	foot, err := os.ReadFile("../../deploy/foot/foot.ini")
	if err != nil {
		t.Fatal(err)
	}
	footIni := k.write("foot.ini", string(foot), 0o644)
	cfg := k.write("borne.toml", fmt.Sprintf(`[site]
id = "test-gien"
name = "Espace de test"
place = "Gien"
help_phone = "02 38 00 00 00"

[kiosk]
max_session = %q

[maintenance]
pin_hash = %q

[hardware]
backend = "sim"
[hardware.session]
runner = "process"
%s
[usage]
database = %q

[operators]
enabled = ["caf"]

[[operators.custom]]
id = "caf"
name = "CAF du Loiret"
summary = "Allocations familiales"
hours = ["mon-sun 00:00-24:00"]
open_on_holidays = true
%s`, maxSession, config.Demo().Maintenance.PinHash, hardware, k.db, client), 0o644)
	shipped, err := os.ReadFile("../../deploy/sway/borne.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("/etc/borne/foot.ini", footIni, "/usr/bin/borne", filepath.Join(k.dir, "borne")).Replace(string(shipped))
	if os.Getenv("BORNE_SCREENS") != "" {
		// The pictures for people show the reference screen, 1080p
		// (wlroots' headless output is 1280×720 otherwise).
		conf = "output * mode 1920x1080\n" + conf
	}
	k.s = swaytest.Start(t, k.write("sway.conf", conf, 0o644), "BORNE_CONFIG="+cfg)
	// The seat's pointer for taps, from the start: foot binds its own
	// pointer as it hears of it, a while after, and a tap before then
	// would be lost.
	if err := k.s.Pointer(); err != nil {
		t.Fatal(err)
	}
	k.c, err = sway.Dial(context.Background(), k.s.Socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.c.Close() })
	k.waitLayout("the shell alone on the screen", k.home())
	k.waitEvent("shell_started", "")
}

func (k *kiosk) output() sway.Rect {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tree, err := k.c.Tree(ctx)
	if err != nil {
		k.t.Fatal(err)
	}
	return tree.Outputs()[0].Rect
}

func (k *kiosk) home() map[string]sway.Rect { return map[string]sway.Rect{shellApp: k.output()} }

func (k *kiosk) inCall() map[string]sway.Rect {
	o := k.output()
	bar := o.Height / 5
	return map[string]sway.Rect{
		videoApp: {X: 0, Y: 0, Width: o.Width, Height: o.Height - bar},
		shellApp: {X: 0, Y: o.Height - bar, Width: o.Width, Height: bar},
	}
}

func (k *kiosk) windows() map[string]sway.Rect {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tree, err := k.c.Tree(ctx)
	if err != nil {
		k.t.Fatal(err)
	}
	out := map[string]sway.Rect{}
	for _, w := range tree.Windows() {
		out[w.AppID] = w.Rect
	}
	return out
}

// waitLayout waits for exactly these windows at these places, and says
// how long it took.
func (k *kiosk) waitLayout(what string, want map[string]sway.Rect) time.Duration {
	k.t.Helper()
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	for {
		got := k.windows()
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("%s: windows %v, want %v\n%s", what, got, want, lastBytes(k.s.Log(), 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (k *kiosk) key(args ...string) {
	k.t.Helper()
	// wtype's keyboard is new to sway each time: the shell's window hears
	// of it (its keymap, the focus) before the keys come.
	if err := k.s.Type(append([]string{"-s", "150"}, args...)...); err != nil {
		k.t.Fatal(err)
	}
}

// events reads the usage log; none while the shell has not made it yet.
func (k *kiosk) events() []map[string]any {
	if _, err := os.Stat(k.db); err != nil {
		return nil
	}
	out, err := exec.Command(binary, "logs", "export", "--db", k.db).Output()
	if err != nil {
		return nil
	}
	var evs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil {
			evs = append(evs, e)
		}
	}
	return evs
}

// waitEvent waits for the n-th event of a kind (outcome, when set, is
// its outcome) and returns it.
func (k *kiosk) waitEvent(kind, outcome string) map[string]any {
	k.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		evs := k.events()
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i]["kind"] == kind && (outcome == "" || evs[i]["outcome"] == outcome) {
				return evs[i]
			}
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("no %s event (%s) in %v", kind, outcome, evs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (k *kiosk) count(kind string) int {
	n := 0
	for _, e := range k.events() {
		if e["kind"] == kind {
			n++
		}
	}
	return n
}

// shot takes the screen; name, when set, also keeps it for people to
// look at (BORNE_SCREENS: the folder make screens fills).
func (k *kiosk) shot(name string) image.Image {
	k.t.Helper()
	p := filepath.Join(k.dir, "shot.png")
	if err := k.s.Screenshot(p); err != nil {
		k.t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		k.t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		k.t.Fatal(err)
	}
	if out := os.Getenv("BORNE_SCREENS"); out != "" && name != "" {
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(filepath.Join(out, name+".png"), b, 0o644); err != nil {
			k.t.Fatal(err)
		}
	}
	return img
}

// share is the part of region r of img in colour c.
func share(img image.Image, r sway.Rect, c [3]uint8) float64 {
	n, hit := 0, 0
	for y := r.Y; y < r.Y+r.Height; y += 4 {
		for x := r.X; x < r.X+r.Width; x += 4 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			n++
			if uint8(cr>>8) == c[0] && uint8(cg>>8) == c[1] && uint8(cb>>8) == c[2] {
				hit++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(hit) / float64(n)
}

// checkScreen checks the pixels of the top and bottom regions: the
// video's colour covers the top during a call and nowhere else; the bar's
// Terminer l'appel is in the bottom.
func (k *kiosk) checkScreen(when string, img image.Image, calling bool) {
	k.t.Helper()
	r := k.inCall()
	top, bottom := r[videoApp], r[shellApp]
	vt, vb, yb := share(img, top, magenta), share(img, bottom, magenta), share(img, bottom, yellow)
	if calling && (vt < 0.8 || vb > 0 || yb < 0.05) {
		k.t.Fatalf("%s: video colour %.2f of the top, %.2f of the bottom; the end button %.2f of the bottom", when, vt, vb, yb)
	}
	if !calling && (vt > 0 || vb > 0) {
		k.t.Fatalf("%s: the video's colour is still on screen (%.2f top, %.2f bottom)", when, vt, vb)
	}
}

// call starts a call from the home screen with the keyboard and checks
// the screen during it.
func (k *kiosk) call(name string) {
	k.t.Helper()
	k.callBy(name, func(what string) { k.key("-k", "Return") })
}

// callBy starts a call from the home screen, choose picking the
// operator's tile, then Appeler, and checks the screen during it.
func (k *kiosk) callBy(name string, choose func(what string)) {
	k.t.Helper()
	started := k.count("session_started")
	k.checkScreen("before the call", k.shot(""), false)
	choose("the operator's tile")
	k.waitEvent("operator_viewed", "")
	if name != "" {
		time.Sleep(300 * time.Millisecond)
		k.shot("operator")
	}
	choose("Appeler")
	d := k.waitLayout("in the call", k.inCall())
	k.t.Logf("the video client above the bar %v after Appeler", d)
	for k.count("session_started") == started {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the client's first frame
	k.checkScreen("during the call", k.shot(name), true)
}

// tap touches the middle of what region r of the screen shows in colour
// c (the focused tile's ring, the primary button), once the screen is old
// enough to take a touch (the shell's tap guard, 500 ms), and returns
// when the touch was made.
func (k *kiosk) tap(what string, r sway.Rect, c [3]uint8) time.Time {
	k.t.Helper()
	time.Sleep(700 * time.Millisecond)
	b, ok := bounds(k.shot(""), r, c)
	if !ok {
		k.t.Fatalf("%s: nothing in its colour %v in %v", what, c, r)
	}
	x, y := (b.Min.X+b.Max.X)/2, (b.Min.Y+b.Max.Y)/2
	k.t.Logf("%s: %v, touched at %d,%d", what, b, x, y)
	at := time.Now()
	if err := k.s.Tap(k.c, x, y); err != nil {
		k.t.Fatal(err)
	}
	return at
}

// bounds is the box around the pixels of region r of img in colour c.
func bounds(img image.Image, r sway.Rect, c [3]uint8) (image.Rectangle, bool) {
	var b image.Rectangle
	found := false
	for y := r.Y; y < r.Y+r.Height; y++ {
		for x := r.X; x < r.X+r.Width; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if uint8(cr>>8) != c[0] || uint8(cg>>8) != c[1] || uint8(cb>>8) != c[2] {
				continue
			}
			p := image.Rect(x, y, x+1, y+1)
			if !found {
				b, found = p, true
			}
			b = b.Union(p)
		}
	}
	return b, found
}

// ended checks that the screen is the shell's alone again, soon, and the
// outcome recorded.
func (k *kiosk) ended(how string, start time.Time, outcome string, n int) {
	k.t.Helper()
	k.waitLayout(how+": back to the full screen", k.home())
	k.t.Logf("%s: full screen %v after the end", how, time.Since(start))
	for k.count("session_ended") < n {
		time.Sleep(20 * time.Millisecond)
	}
	evs := k.events()
	var last map[string]any
	for _, e := range evs {
		if e["kind"] == "session_ended" {
			last = e
		}
	}
	if last["outcome"] != outcome {
		k.t.Fatalf("%s: outcome %v, want %s", how, last["outcome"], outcome)
	}
	time.Sleep(300 * time.Millisecond)
	k.checkScreen(how+": after", k.shot(""), false)
}

func (k *kiosk) backHome() {
	k.key("-k", "Escape") // Passer / Retour
	time.Sleep(300 * time.Millisecond)
}

// TestE2ESwayCallEnds: every way a call ends, under sway.
func TestE2ESwayCallEnds(t *testing.T) {
	k := startKiosk(t, "45m")
	time.Sleep(500 * time.Millisecond)
	k.shot("home")

	// 1. The citizen touches Terminer l'appel (Enter: it has the focus).
	k.call("call")
	start := time.Now()
	k.key("-k", "Return")
	k.ended("Terminer l'appel", start, "completed", 1)
	k.shot("survey")
	k.backHome()

	// 2. The client exits by itself (the adviser hung up).
	k.call("")
	start = time.Now()
	os.WriteFile(filepath.Join(k.dir, "end.0"), nil, 0o644)
	k.ended("the client hung up", start, "completed", 2)
	k.backHome()

	// 3. The client's window closes, its process still running.
	k.call("")
	start = time.Now()
	if err := k.c.Command(context.Background(), "[app_id="+videoApp+"] kill"); err != nil {
		t.Fatal(err)
	}
	k.ended("the client's window closed", start, "completed", 3)
	k.backHome()

	// 4. The client fails: the unavailable screen, full size.
	k.call("")
	start = time.Now()
	os.WriteFile(filepath.Join(k.dir, "end.3"), nil, 0o644)
	k.ended("the client failed", start, "failed", 4)
	k.backHome()

	// Nothing but the shell can stay on the screen.
	intruder := k.s.Command("foot", "--app-id=intruder", "sleep", "60")
	if err := intruder.Start(); err != nil {
		t.Fatal(err)
	}
	intruder.Wait()
	k.waitLayout("after an intruder", k.home())

	// Maintenance, for the pictures.
	k.key("-k", "F12")
	time.Sleep(300 * time.Millisecond)
	k.key("246810")
	k.key("-k", "Return")
	k.waitEvent("maintenance_unlocked", "")
	time.Sleep(500 * time.Millisecond)
	k.shot("maintenance")
}

// TestE2ESwayCallByTouch: the citizen's way, by touch only: the
// operator's tile, Appeler, then Terminer l'appel in the call bar.
func TestE2ESwayCallByTouch(t *testing.T) {
	k := startKiosk(t, "45m")
	k.callBy("", func(what string) { k.tap(what, k.output(), yellow) })
	start := k.tap("Terminer l'appel", k.inCall()[shellApp], yellow)
	k.ended("Terminer l'appel touched", start, "completed", 1)
	if n := k.count("session_started"); n != 1 {
		t.Fatalf("%d calls started by touch, want 1", n)
	}
}

// TestE2ESwayMaxSession: the call the shell ends at max_session (a
// minute, the least the config allows).
func TestE2ESwayMaxSession(t *testing.T) {
	k := startKiosk(t, "1m")
	k.call("")
	start := time.Now().Add(time.Minute) // when the shell ends it
	time.Sleep(50 * time.Second)
	k.checkScreen("near max_session", k.shot(""), true)
	k.ended("max_session", start, "timeout", 1)
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
