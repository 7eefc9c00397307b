package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loiret/borne/hw/sway"
)

// partnerPage is a partner's web visio played by the test server: a loud
// page with the (fake) camera on it, that asks the server every 100 ms
// whether the adviser hung up, and then goes to its end address as a
// real visio does.
const partnerPage = `<!doctype html><title>CAF visio</title>
<style>html,body{margin:0;height:100%%;overflow:hidden;background:#00c8c8;color:#000;font-family:sans-serif}
body{display:flex;align-items:center;gap:2em;padding:0 2em;box-sizing:border-box}
h1{flex:1;font-size:64px}video{height:75%%;background:#000}</style>
<h1>Visio CAF du Loiret<br>votre conseillère</h1>
<video id=v autoplay muted></video>
<script>
navigator.mediaDevices.getUserMedia({video: true})
  .then(s => { document.getElementById('v').srcObject = s; fetch('/report?gum=granted'); })
  .catch(e => fetch('/report?gum=' + e.name));
fetch('/report?shown=1');
setInterval(async () => {
  const r = await fetch('/state');
  if (await r.text() === 'end') location.href = '%s';
}, 100);
</script>`

// cyan is the partner page's background.
var cyan = [3]uint8{0, 200, 200}

type partner struct {
	srv      *httptest.Server
	mu       sync.Mutex
	shown    time.Time // the page first loaded in the browser
	hangUp   bool
	endAt    time.Time // the end page served
	reported []string
}

func newPartner(t *testing.T) *partner {
	p := &partner{}
	mux := http.NewServeMux()
	mux.HandleFunc("/visio", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, partnerPage, p.srv.URL+"/end/thanks.html")
	})
	mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if r.URL.Query().Get("shown") != "" && p.shown.IsZero() {
			p.shown = time.Now()
		}
		p.reported = append(p.reported, r.URL.RawQuery)
	})
	mux.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.hangUp {
			fmt.Fprint(w, "end")
		}
	})
	mux.HandleFunc("/end/", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		if p.endAt.IsZero() {
			p.endAt = time.Now()
		}
		p.mu.Unlock()
		fmt.Fprint(w, "<title>merci</title>Merci, à bientôt")
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *partner) times() (shown, endAt time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.shown, p.endAt
}

func (p *partner) has(report string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.reported {
		if strings.HasPrefix(r, report) {
			return true
		}
	}
	return false
}

// visioWindows splits the windows into the shell's and the browser's
// (whatever app_id Chromium gives its app window), failing on any third.
func (k *kiosk) visioWindows() (shell, browser sway.Rect, n int) {
	for app, r := range k.windows() {
		if app == shellApp {
			shell = r
		} else {
			browser = r
		}
		n++
	}
	return shell, browser, n
}

// TestE2ESwayVisio: a partner's web visio under the real compositor. The
// citizen calls; the real Chromium, run by the shell as a child (runner
// "process") as the kiosk's user, opens the partner's page above and the
// shell becomes the call bar below; the adviser hangs up (the page goes
// to its end address); the shell is full screen again, on the survey, the
// call logged completed and the call's browser profile gone.
func TestE2ESwayVisio(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatalf("this test needs Debian's chromium package: %v", err)
	}
	p := newPartner(t)
	k := newKiosk(t)
	k.boot("45m", `[hardware.browser]
allow_loopback_http = true
flags = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--test-type"]
`, fmt.Sprintf("visio_url = %q\nvisio_end = [%q]\n", p.srv.URL+"/visio", p.srv.URL+"/end/"))

	time.Sleep(500 * time.Millisecond) // the shell's first frame, as TestE2ESwayCallEnds
	k.key("-k", "Return")              // the operator's tile
	k.waitEvent("operator_viewed", "")
	start := time.Now()
	k.key("-k", "Return") // Appeler

	want := k.inCall()
	deadline := time.Now().Add(60 * time.Second)
	for {
		shell, browser, n := k.visioWindows()
		if n == 2 && shell == want[shellApp] && browser == want[videoApp] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("in the call: windows %v, want the browser at %v and the bar at %v\n%s",
				k.windows(), want[videoApp], want[shellApp], lastBytes(k.s.Log(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	placed := time.Since(start)
	for {
		if shown, _ := p.times(); !shown.IsZero() {
			t.Logf("Appeler → browser window placed above the bar %v, partner's page loaded %v", placed, shown.Sub(start))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the partner's page never loaded (%v)", p.reported)
		}
		time.Sleep(50 * time.Millisecond)
	}
	k.waitEvent("session_started", "")
	profiles := filepath.Join(k.s.Run, "borne-browser")
	if es, err := os.ReadDir(profiles); err != nil || len(es) != 1 {
		t.Errorf("profiles during the call: %v %v", es, err)
	}

	// The fake camera granted without a prompt and on the page.
	for !p.has("gum=") {
		if time.Now().After(deadline) {
			t.Fatal("the page never said whether it has the camera")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !p.has("gum=granted") {
		t.Errorf("the camera: %q, want granted", p.reported)
	}
	time.Sleep(time.Second) // its first frames
	img := k.shot("visio")
	top, bottom := want[videoApp], want[shellApp]
	if c, b := share(img, top, cyan), share(img, bottom, yellow); c < 0.3 || b < 0.05 {
		t.Errorf("during the call: the partner's page %.2f of the top, the end button %.2f of the bottom", c, b)
	}
	if c := share(img, bottom, cyan); c > 0 {
		t.Errorf("the partner's page spills over the call bar (%.2f of it)", c)
	}

	// The adviser hangs up: the page goes to its end address.
	p.mu.Lock()
	p.hangUp = true
	p.mu.Unlock()
	k.waitLayout("after the partner hung up: the full screen", k.home())
	_, endAt := p.times()
	if endAt.IsZero() {
		t.Fatal("the call ended before the page reached its end address")
	}
	t.Logf("end page served → shell full screen again %v", time.Since(endAt))
	if e := k.waitEvent("session_ended", ""); e["outcome"] != "completed" {
		t.Errorf("the call was logged %v, want completed", e["outcome"])
	}
	if es, err := os.ReadDir(profiles); err != nil || len(es) != 0 {
		t.Errorf("profiles after the call: %v %v", es, err)
	}
	time.Sleep(500 * time.Millisecond)
	img = k.shot("")
	if c := share(img, sway.Rect{Width: top.Width, Height: top.Height + bottom.Height}, cyan); c > 0 {
		t.Errorf("the partner's page is still on the screen (%.2f)", c)
	}
	if err := k.s.Screenshot(filepath.Join(k.dir, "survey.png")); err != nil {
		t.Fatal(err)
	}
	// The survey has the screen: an answer is logged.
	k.key("-k", "Return")
	k.waitEvent("survey", "")
}
