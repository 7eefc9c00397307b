package collect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loiret/borne/usage"
)

// post sends one batch as a kiosk does and returns the status and body.
func post(t testing.TB, url, token, key, generation string, body []byte) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+EventsPath, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	if generation != "" {
		req.Header.Set(GenerationHeader, generation)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// batch writes events of site as NDJSON, seq from first, as a kiosk's
// export does.
func batch(site string, first, n int, at time.Time) []byte {
	var b bytes.Buffer
	for i := range n {
		e := usage.Event{ID: uuid.NewString(), Seq: int64(first + i), At: at.Add(time.Duration(i) * time.Minute), Site: site, Place: "Gien",
			Kind: usage.KindSessionStarted, Operator: "caf", Detail: map[string]any{}}
		line, _ := json.Marshal(e)
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestBatchAcknowledgedAndDeduplicated(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		_, hs := serve(t, s, nil)
		token, err := s.AddToken(t.Context(), "loiret-gien")
		if err != nil {
			t.Fatal(err)
		}
		gen := uuid.NewString()
		body := batch("loiret-gien", 1, 50, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
		for range 2 { // the same batch again, as after a lost acknowledgement
			code, ans, _ := post(t, hs.URL, token, "loiret-gien:1-50", gen, body)
			if code != 200 || ans != `{"idempotency_key":"loiret-gien:1-50","stored":50}`+"\n" {
				t.Fatalf("answer %d %q", code, ans)
			}
		}
		if n := count(t, s, "WHERE site = ? AND generation = ?", "loiret-gien", gen); n != 50 {
			t.Errorf("%d events stored, want 50", n)
		}
		// Overlapping: 26..75, of which 25 new.
		lines := bytes.SplitAfter(body, []byte("\n"))
		over := append(bytes.Join(lines[25:50], nil), batch("loiret-gien", 51, 25, time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC))...)
		if code, ans, _ := post(t, hs.URL, token, "loiret-gien:26-75", gen, over); code != 200 || !strings.Contains(ans, `"stored":50`) {
			t.Fatalf("overlap: %d %s", code, ans)
		}
		f, err := s.Fleet(t.Context(), FleetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Kiosks) != 1 || f.Kiosks[0].Events != 75 || f.Kiosks[0].Holes != 0 || len(f.Kiosks[0].Generations) != 1 || f.Kiosks[0].Generations[0].MaxSeq != 75 {
			t.Errorf("fleet %+v", f.Kiosks)
		}
		// The stats' roll-up counts each event once too.
		if st, err := s.Stats(t.Context(), StatsOptions{Location: paris(t)}); err != nil || st.Total.Sessions != 75 || len(st.Rows) != 2 {
			t.Errorf("stats %+v %v", st, err)
		}
	})
}

func TestRefusals(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		_, hs := serve(t, s, nil)
		a, _ := s.AddToken(t.Context(), "site-a")
		b, _ := s.AddToken(t.Context(), "site-b")
		at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
		good := batch("site-b", 1, 10, at)
		lines := bytes.SplitAfter(good, []byte("\n"))
		swap := func(i int, line string) []byte {
			out := bytes.Join(lines[:i], nil)
			out = append(out, line+"\n"...)
			return append(out, bytes.Join(lines[i+1:], nil)...)
		}
		withDetail := func(detail string) string {
			return strings.Replace(strings.TrimSpace(string(lines[4])), `"detail":{}`, `"detail":`+detail, 1)
		}
		cases := []struct {
			name, token, key string
			body             []byte
			code             int
			msg              string
		}{
			{"another site's token", a, "site-a:1-10", good, 403, "site-b"},
			{"another site in the key", a, "site-b:1-10", good, 403, "site-a"},
			{"no token", "", "site-b:1-10", good, 401, "token"},
			{"revoked or unknown", "nope", "site-b:1-10", good, 401, "unknown"},
			{"malformed line", b, "site-b:1-10", swap(4, `{"id": "x", "seq": 5,`), 400, "line 5"},
			{"unknown kind", b, "site-b:1-10", swap(4, strings.Replace(string(bytes.TrimSpace(lines[4])), "session_started", "keystroke", 1)), 400, "line 5: invalid usage event: unknown kind"},
			{"unknown field", b, "site-b:1-10", swap(6, strings.Replace(string(bytes.TrimSpace(lines[6])), `"kind"`, `"name":"Dupont","kind"`, 1)), 400, `line 7: not a usage event: json: unknown field "name"`},
			{"unknown detail key", b, "site-b:1-10", swap(4, withDetail(`{"text":"bonjour"}`)), 400, `line 5: invalid usage event: detail key "text" is not allowed`},
			{"a phone number", b, "site-b:1-10", swap(4, withDetail(`{"reason":"rappeler 06 12 34 56 78"}`)), 400, "line 5: invalid usage event: detail \"reason\" looks like personal data"},
			{"an e-mail address", b, "site-b:1-10", swap(9, strings.Replace(string(bytes.TrimSpace(lines[9])), `"place":"Gien"`, `"place":"jean.dupont@example.fr"`, 1)), 400, "line 10: invalid usage event: place looks like personal data"},
			{"key not matching", b, "site-b:1-9", good, 400, "does not match"},
			{"no key", b, "", good, 400, "Idempotency-Key"},
		}
		for _, c := range cases {
			code, msg, _ := post(t, hs.URL, c.token, c.key, "", c.body)
			if code != c.code || !strings.Contains(msg, c.msg) {
				t.Errorf("%s: %d %q, want %d with %q", c.name, code, msg, c.code, c.msg)
			}
		}
		if n := count(t, s, ""); n != 0 {
			t.Errorf("%d events stored from refused batches", n)
		}
		// A bad generation, then 10 MiB.
		if code, msg, _ := post(t, hs.URL, b, "site-b:1-10", "not-a-uuid", good); code != 400 || !strings.Contains(msg, GenerationHeader) {
			t.Errorf("bad generation: %d %s", code, msg)
		}
		big := bytes.Repeat(batch("site-b", 1, 1, at), 10<<20/len(lines[0])+1)
		if code, msg, _ := post(t, hs.URL, b, "site-b:1-1", "", big); code != 413 {
			t.Errorf("10 MiB: %d %s", code, msg)
		}
		// The same 10 MiB without a length: cut off at the limit.
		req, _ := http.NewRequest(http.MethodPost, hs.URL+EventsPath, io.MultiReader(bytes.NewReader(big)))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Authorization", "Bearer "+b)
		req.Header.Set("Idempotency-Key", "site-b:1-1")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			if resp.StatusCode != 413 {
				t.Errorf("10 MiB chunked: %d", resp.StatusCode)
			}
			resp.Body.Close()
		}
		if n := count(t, s, ""); n != 0 {
			t.Errorf("%d events stored from refused batches", n)
		}
		// After all that, the good batch goes in.
		if code, msg, _ := post(t, hs.URL, b, "site-b:1-10", "", good); code != 200 {
			t.Errorf("good batch: %d %s", code, msg)
		}
		if n, err := s.RevokeTokens(t.Context(), "site-b"); n != 1 || err != nil {
			t.Errorf("revoke: %d %v", n, err)
		}
		if code, _, _ := post(t, hs.URL, b, "site-b:1-10", "", good); code != 401 {
			t.Errorf("revoked token: %d", code)
		}
	})
}

// TestSlowClient: a client sending a byte a second is cut off at the read
// timeout, and kiosks are served meanwhile.
func TestSlowClient(t *testing.T) {
	s := openStore(t, "sqlite")
	cfg := testConfig("unused")
	cfg.ReadTimeout = 2e9
	_, hs := serve(t, s, cfg)
	token, _ := s.AddToken(t.Context(), "loiret-gien")
	for _, head := range []bool{true, false} { // trickling the headers, then the body
		conn, err := net.Dial("tcp", hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		body := batch("loiret-gien", 1, 3, time.Now())
		msg := fmt.Sprintf("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nAuthorization: Bearer %s\r\nIdempotency-Key: loiret-gien:1-3\r\nContent-Length: %d\r\n\r\n", token, len(body))
		start := time.Now()
		if !head {
			conn.Write([]byte(msg))
			msg = string(body)
		}
		cut := make(chan time.Duration, 1)
		go func() {
			for i := 0; i < len(msg); i++ {
				if _, err := conn.Write([]byte{msg[i]}); err != nil {
					cut <- time.Since(start)
					return
				}
				time.Sleep(time.Second)
			}
			cut <- -1
		}()
		// Meanwhile a kiosk is served.
		if code, ans, _ := post(t, hs.URL, token, "loiret-gien:1-3", "", body); code != 200 {
			t.Fatalf("a kiosk beside the slow client: %d %s", code, ans)
		}
		// The server closes the slow one: reading sees the end.
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, _ := io.ReadAll(bufio.NewReader(conn))
		took := time.Since(start)
		conn.Close()
		if took > 10*time.Second {
			t.Errorf("slow client (headers %v) held for %v", head, took)
		}
		if strings.HasPrefix(string(resp), "HTTP/1.1 200") {
			t.Errorf("slow client (headers %v) got %q", head, resp)
		}
		<-cut
	}
	if n := count(t, s, ""); n != 6 { // the kiosk's two batches, nothing of the slow ones
		t.Errorf("%d events", n)
	}
}

// TestBusy: past max_requests batches at once, 429 with Retry-After.
func TestBusy(t *testing.T) {
	s := openStore(t, "sqlite")
	// The first batch holds the only slot while its body trickles in: a
	// read timeout longer than the test, so a loaded machine cannot free
	// the slot before the second batch is sent.
	cfg, err := ParseConfig("collector.toml", []byte("database = \"unused\"\nread_timeout = \"60s\"\nmax_requests = 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, hs := serve(t, s, cfg)
	token, _ := s.AddToken(t.Context(), "loiret-gien")
	body := batch("loiret-gien", 1, 3, time.Now())
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, hs.URL+EventsPath, pr)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", "loiret-gien:1-3")
	first := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	pw.Write(body[:10]) // the slot is taken
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, h := post(t, hs.URL, token, "loiret-gien:1-3", "", body)
		if code == 429 {
			if h.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never busy: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pw.Write(body[10:])
	pw.Close()
	if code := <-first; code != 200 {
		t.Errorf("the first batch: %d", code)
	}
}

func TestAnswersFromBothEnginesAgree(t *testing.T) {
	ctx := context.Background()
	var answers []string
	for _, engine := range []string{"sqlite", "postgres"} {
		s := openStore(t, engine)
		s.now = func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }
		_, hs := serve(t, s, nil)
		for _, site := range []string{"loiret-gien", "loiret-briare"} {
			token, _ := s.AddToken(ctx, site)
			k := newKiosk(t, site, strings.TrimPrefix(site, "loiret-"))
			k.fill(t, 400, time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC))
			if _, err := k.sync(t, hs.URL, token); err != nil {
				t.Fatal(err)
			}
		}
		var b strings.Builder
		for _, by := range []string{usage.ByDay, usage.ByMonth} {
			st, err := s.Stats(ctx, StatsOptions{By: by, Location: paris(t)})
			if err != nil {
				t.Fatal(err)
			}
			st.Write(&b, FormatJSON)
		}
		f, err := s.Fleet(ctx, FleetOptions{Now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		// Each kiosk log draws its generation at random: the two
		// engines saw different logs with the same events.
		for i := range f.Kiosks {
			for j := range f.Kiosks[i].Generations {
				f.Kiosks[i].Generations[j].ID = ""
			}
		}
		f.Write(&b, FormatJSON, nil)
		answers = append(answers, b.String())
	}
	if answers[0] != answers[1] {
		t.Errorf("SQLite and PostgreSQL disagree:\n%s\n---\n%s", answers[0], answers[1])
	}
}

// TestGroupCommit: batches that arrive together share one transaction,
// each under its own savepoint: a batch the database refuses is rolled
// back alone, one sent again keeps only its new events, the others are
// stored and counted.
func TestGroupCommit(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
		var group []*pending
		gens := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
		for i, site := range []string{"loiret-gien", "loiret-briare", "loiret-sully"} {
			events, err := ParseBatch(batch(site, 1, 10, at))
			if err != nil {
				t.Fatal(err)
			}
			if i == 1 {
				events[7].DurationMS = -1 // past the checks, refused by the table
			}
			group = append(group, &pending{ctx: t.Context(), site: site, generation: gens[i], events: events, now: at.Unix(), done: make(chan struct{})})
		}
		// Gien's batch again, with five more: in the same group.
		more, err := ParseBatch(batch("loiret-gien", 11, 5, at.Add(time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		again := append(append([]Event{}, group[0].events...), more...)
		group = append(group, &pending{ctx: t.Context(), site: "loiret-gien", generation: gens[0], events: again, now: at.Unix(), done: make(chan struct{})})
		s.commitGroup(group)
		for i, p := range group {
			<-p.done
			want := []int{10, 0, 10, 5}[i]
			if (p.err != nil) != (i == 1) || p.added != want {
				t.Errorf("batch %d: added %d (want %d), %v", i, p.added, want, p.err)
			}
		}
		if n := count(t, s, ""); n != 25 {
			t.Errorf("%d events stored, want 25", n)
		}
		f, err := s.Fleet(t.Context(), FleetOptions{})
		if err != nil || len(f.Kiosks) != 2 || f.Kiosks[0].Site != "loiret-gien" || f.Kiosks[0].Events != 15 || f.Kiosks[0].Holes != 0 || f.Kiosks[1].Events != 10 {
			t.Errorf("fleet: %+v %v", f.Kiosks, err)
		}
		st, err := s.Stats(t.Context(), StatsOptions{Location: paris(t)})
		if err != nil || st.Total.Sessions != 25 || len(st.Rows) != 2 {
			t.Errorf("stats: %+v %v", st, err)
		}

		// Thirty kiosks at once, each batch answered after its commit.
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Go(func() {
				site := fmt.Sprintf("loiret-k%02d", i)
				events, err := ParseBatch(batch(site, 1, 100, at))
				if err == nil {
					_, _, err = s.Ingest(t.Context(), site, "", events)
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := count(t, s, ""); n != 25+3000 {
			t.Errorf("%d events stored, want 3025", n)
		}
		s.Close()
		if _, _, err := s.Ingest(t.Context(), "loiret-gien", "", group[0].events); !errors.Is(err, errClosed) {
			t.Errorf("a batch after Close: %v", err)
		}
	})
}

func TestLooksPersonal(t *testing.T) {
	for s, want := range map[string]bool{
		"+33 6 12 34 56 78": true, "06.12.34.56.78": true, "0612345678": true, "rappeler 02-38-12-34-56": true,
		"jean.dupont@example.fr": true, "écrire à a@b.fr": true,
		"Commune 3": false, "printer": false, "2026-11-02 09:30": false, "0 6 1 2": false, "@loiret": false, "": false,
	} {
		if looksPersonal(s) != want {
			t.Errorf("looksPersonal(%q) = %v", s, !want)
		}
	}
}

// TestSQLiteWriterSettings: the writer's connection keeps its durability
// and its checkpoint size, whenever it is opened again.
func TestSQLiteWriterSettings(t *testing.T) {
	s := openStore(t, "sqlite")
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "wal_autocheckpoint": "65536", "journal_size_limit": "67108864", "temp_store": "2"} {
		var got string
		if err := s.w.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %s", pragma, got, err, want)
		}
	}
}
