package usage

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// listener is a loopback HTTP server that records who reached it and
// with what, and answers what the test tells it: the hostile collector,
// and the places it points to.
type listener struct {
	srv    *httptest.Server
	answer func(w http.ResponseWriter, r *http.Request, body []byte)

	mu   sync.Mutex
	hits []hit
}

type hit struct {
	method, path, auth, generation string
	body                           int
}

// newListener starts a listener on host (a loopback address), over TLS
// when tls is set.
func newListener(t *testing.T, host string, withTLS bool) *listener {
	t.Helper()
	l := &listener{}
	l.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		l.hits = append(l.hits, hit{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get(GenerationHeader), len(body)})
		answer := l.answer
		l.mu.Unlock()
		if answer == nil {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"idempotency_key":%q,"stored":%d}`, r.Header.Get("Idempotency-Key"), strings.Count(string(body), "\n"))
			return
		}
		answer(w, r, body)
	}))
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listening on %s: %v", host, err)
	}
	l.srv.Listener.Close()
	l.srv.Listener = ln
	if withTLS {
		l.srv.StartTLS()
	} else {
		l.srv.Start()
	}
	t.Cleanup(l.srv.Close)
	return l
}

func (l *listener) received() []hit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]hit(nil), l.hits...)
}

func (l *listener) set(answer func(w http.ResponseWriter, r *http.Request, body []byte)) {
	l.mu.Lock()
	l.answer = answer
	l.mu.Unlock()
}

// hostileOptions aims a sync at l with a token nobody else may see.
func hostileOptions(l *listener) SyncOptions {
	o := SyncOptions{URL: l.srv.URL + "/v1/events", Token: "t0ken-for-the-collector-only", AllowLoopbackHTTP: true,
		RequestTimeout: 5 * time.Second, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	if l.srv.TLS != nil {
		o.Client = l.srv.Client()
	}
	return o
}

func TestSyncFollowsNoRedirect(t *testing.T) {
	s, _ := openTest(t)
	bulkLoad(t, s, 5, monthStart, time.Minute)
	collector := newListener(t, "127.0.0.1", false)
	otherPort := newListener(t, "127.0.0.1", false)
	otherHost := newListener(t, "127.0.0.2", false)
	places := map[string]string{
		"same host":    collector.srv.URL + "/login",
		"same, bare":   "/login",
		"another port": otherPort.srv.URL + "/v1/events",
		"another host": otherHost.srv.URL + "/v1/events",
	}
	for _, code := range []int{301, 302, 303, 307, 308} {
		for name, to := range places {
			t.Run(fmt.Sprintf("%d to %s", code, name), func(t *testing.T) {
				before := len(collector.received())
				collector.set(func(w http.ResponseWriter, r *http.Request, _ []byte) {
					if r.URL.Path == "/login" {
						io.WriteString(w, "<html>welcome</html>")
						return
					}
					w.Header().Set("Location", to)
					w.WriteHeader(code)
				})
				o := hostileOptions(collector)
				res, err := s.Sync(bg, o)
				if err == nil {
					t.Fatal("a redirect was taken for delivery")
				}
				msg := err.Error()
				if !strings.Contains(msg, fmt.Sprint(code)) || !strings.Contains(msg, "pointing to "+to) || !strings.Contains(msg, "redirects are not followed") {
					t.Errorf("message %q: want the status and where it pointed", msg)
				}
				if st, _ := s.SyncState(bg); st.Cursor != 0 || res.Cursor != 0 || res.Events != 0 {
					t.Errorf("cursor %d, result %+v: nothing was delivered", st.Cursor, res)
				}
				// One POST, to the collector; nobody else heard anything.
				got := collector.received()[before:]
				if len(got) != 1 || got[0].method != "POST" || got[0].path != "/v1/events" {
					t.Errorf("the collector received %+v, want the one POST", got)
				}
				for _, l := range []*listener{otherPort, otherHost} {
					if h := l.received(); len(h) != 0 {
						t.Errorf("%s received %+v: the token and the batch went elsewhere", l.srv.URL, h)
					}
				}
			})
		}
	}
}

func TestSyncNeverSendsTheTokenInClearFromHTTPS(t *testing.T) {
	s, _ := openTest(t)
	bulkLoad(t, s, 5, monthStart, time.Minute)
	secure := newListener(t, "127.0.0.1", true)
	clear := newListener(t, "127.0.0.1", false)
	clearURL := clear.srv.URL + "/v1/events"
	secure.set(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		http.Redirect(w, r, clearURL, http.StatusTemporaryRedirect)
	})
	o := hostileOptions(secure)
	o.AllowLoopbackHTTP = false // an https collector needs no exception
	_, err := s.Sync(bg, o)
	if err == nil || !strings.Contains(err.Error(), "307") || !strings.Contains(err.Error(), clearURL) {
		t.Fatalf("err = %v", err)
	}
	if h := clear.received(); len(h) != 0 {
		t.Errorf("the plain http listener received %+v", h)
	}
	if got := secure.received(); len(got) != 1 || got[0].auth != "Bearer "+o.Token {
		t.Errorf("the https collector received %+v", got)
	}
	if st, _ := s.SyncState(bg); st.Cursor != 0 {
		t.Errorf("cursor %d", st.Cursor)
	}
	// A client given with its own redirect policy is overridden too.
	o.Client = secure.srv.Client()
	o.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
	if _, err := s.Sync(bg, o); err == nil || len(clear.received()) != 0 {
		t.Errorf("with a following client: err %v, clear listener %+v", err, clear.received())
	}
	// And, the collector repaired, the events go over https.
	secure.set(nil)
	if res, err := s.Sync(bg, o); err != nil || res.Cursor != 5 {
		t.Fatalf("after the repair: %+v %v", res, err)
	}
}

func TestSyncTakesOnlyTheAcknowledgement(t *testing.T) {
	s, _ := openTest(t)
	bulkLoad(t, s, 5, monthStart, time.Minute)
	c := newListener(t, "127.0.0.1", false)
	json := func(body string) func(w http.ResponseWriter, r *http.Request, _ []byte) {
		return func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, strings.ReplaceAll(body, "KEY", r.Header.Get("Idempotency-Key")))
		}
	}
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request, _ []byte)
		want   string // in the message: what came back
	}{
		{"a portal's page", json("<!DOCTYPE html><html><title>Wi-Fi Mairie</title>"), "<!DOCTYPE html><html><title>Wi-Fi Mairie"},
		{"a proxy's ok", json("ok\n"), "200 OK: ok"},
		{"no body", json(""), "not the collector's acknowledgement"},
		{"204", func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(http.StatusNoContent) }, "204 No Content"},
		{"202 with other counts", json(`{"accepted":1,"rejected":4}`), `{"accepted":1,"rejected":4}`},
		{"another batch's key", json(`{"idempotency_key":"loiret-gien:1-4","stored":5}`), `for batch "loiret-gien:1-4", not "loiret-gien:1-5"`},
		{"fewer stored", json(`{"idempotency_key":"KEY","stored":4}`), "holds 4 of the batch's 5 events"},
		{"more stored", json(`{"idempotency_key":"KEY","stored":6}`), "holds 6 of the batch's 5 events"},
		{"no stored", json(`{"idempotency_key":"KEY"}`), "lacks idempotency_key or stored"},
		{"no key", json(`{"stored":5}`), "lacks idempotency_key or stored"},
		{"stored as text", json(`{"idempotency_key":"KEY","stored":"5"}`), "not the collector's acknowledgement"},
		{"two answers", json(`{"idempotency_key":"KEY","stored":5}{"idempotency_key":"KEY","stored":5}`), "not the collector's acknowledgement"},
		{"a huge page", json(strings.Repeat("<p>", 200000)), "<p><p>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.set(tc.answer)
			before := len(c.received())
			_, err := s.Sync(bg, hostileOptions(c))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
			if len(err.Error()) > 800 {
				t.Errorf("message of %d bytes: what came back must be cut short", len(err.Error()))
			}
			if st, _ := s.SyncState(bg); st.Cursor != 0 {
				t.Errorf("cursor moved to %d", st.Cursor)
			}
			if n := len(c.received()) - before; n != 1 {
				t.Errorf("%d requests: a wrong acknowledgement stops the sync and says so", n)
			}
		})
	}
	// The acknowledgement itself moves the cursor.
	c.set(json(` {"stored": 5, "idempotency_key": "KEY", "site": "loiret-gien"}` + "\n"))
	if res, err := s.Sync(bg, hostileOptions(c)); err != nil || res.Cursor != 5 {
		t.Fatalf("with the acknowledgement: %+v %v", res, err)
	}
}

func TestSyncRefusesHTTPOutsideLoopback(t *testing.T) {
	s, _ := openTest(t)
	bulkLoad(t, s, 5, monthStart, time.Minute)
	c := newListener(t, "127.0.0.1", false)
	o := hostileOptions(c)
	o.AllowLoopbackHTTP = false
	if _, err := s.Sync(bg, o); err == nil || !strings.Contains(err.Error(), "in clear") {
		t.Errorf("http:// without allow_loopback_http: %v", err)
	}
	if h := c.received(); len(h) != 0 {
		t.Errorf("a refused URL was used: %+v", h)
	}
	for url, ok := range map[string]bool{
		"https://collector.example/borne/v1/events": true,
		"http://127.0.0.1:8440/v1/events":           true,
		"http://127.3.4.5/v1/events":                true,
		"http://localhost:8440/v1/events":           true,
		"http://LOCALHOST/v1/events":                true,
		"http://[::1]:8440/v1/events":               true,
		"http://collector.example/v1/events":        false,
		"http://10.0.0.1/v1/events":                 false,
		"http://localhost.evil.example/v1/events":   false,
		"http://128.0.0.1/v1/events":                false,
		"ftp://127.0.0.1/v1/events":                 false,
		"https:///v1/events":                        false,
	} {
		if err := CheckCollectorURL(url, true); (err == nil) != ok {
			t.Errorf("CheckCollectorURL(%q, true) = %v", url, err)
		}
		if strings.HasPrefix(url, "http:") {
			if err := CheckCollectorURL(url, false); err == nil {
				t.Errorf("CheckCollectorURL(%q, false) accepted http://", url)
			}
		}
	}
}

func TestSyncSendsTheLogsGeneration(t *testing.T) {
	s, path := openTest(t)
	c := newCollector(t)
	bulkLoad(t, s, 5, monthStart, time.Minute)
	gen, err := s.Generation(bg)
	if err != nil || !uuidPattern.MatchString(gen) {
		t.Fatalf("generation %q %v", gen, err)
	}
	if _, err := s.Sync(bg, c.options()); err != nil {
		t.Fatal(err)
	}
	// Kept across a restart.
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if again, _ := s.Generation(bg); again != gen {
		t.Errorf("generation %q after reopening, was %q", again, gen)
	}
	mustRecord(t, s, Event{Kind: KindShellStarted, Site: "loiret-gien"})
	if _, err := s.Sync(bg, c.options()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	gens := c.generations
	c.mu.Unlock()
	if len(gens) != 1 || !gens[gen] {
		t.Errorf("the collector saw generations %v, want only %s", gens, gen)
	}
}

func TestRecreatedLogHasANewGeneration(t *testing.T) {
	s, path := openTest(t)
	mustRecord(t, s, Event{Kind: KindShellStarted})
	old, _ := s.Generation(bg)
	s.Close()
	// The disk damages the file; the technician moves it aside and the
	// kiosk starts a new log, its seq back to 1.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte(strings.Repeat("\xde\xad", 4096)), 0)
	f.Close()
	if _, err := Open(path); err == nil {
		t.Fatal("a damaged log opened")
	}
	if err := os.Rename(path, path+".damaged"); err != nil {
		t.Fatal(err)
	}
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	e := mustRecord(t, s2, Event{Kind: KindShellStarted})
	gen, err := s2.Generation(bg)
	if err != nil || gen == old || !uuidPattern.MatchString(gen) || e.Seq != 1 {
		t.Errorf("recreated log: generation %q (was %q) %v, seq %d", gen, old, err, e.Seq)
	}
}

func TestOlderLogGetsAGenerationWhenMigrated(t *testing.T) {
	// A log made by a borne before the generation: schema 2.
	withMigrations(t, nil)
	all := migrationFiles.(fstest.MapFS)
	before := fstest.MapFS{}
	for name, f := range all {
		if name < "migrations/0003" {
			before[name] = f
		}
	}
	migrationFiles = before
	path := filepath.Join(t.TempDir(), "usage.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, s, Event{Kind: KindShellStarted})
	if _, err := s.Generation(bg); err == nil {
		t.Error("a schema-2 log has a generation")
	}
	s.Close()
	migrationFiles = all
	gens := map[string]bool{}
	for range 2 {
		s, err = Open(path)
		if err != nil {
			t.Fatal(err)
		}
		gen, err := s.Generation(bg)
		if err != nil || !uuidPattern.MatchString(gen) {
			t.Errorf("after the migration: %q %v", gen, err)
		}
		gens[gen] = true
		s.Close()
	}
	if len(gens) != 1 {
		t.Errorf("generations %v: made once, at the migration", gens)
	}
}
