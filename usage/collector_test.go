package usage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// fault is what the test collector does with one request.
type fault int

const (
	answerOK       fault = iota
	fail500              // 500 before storing
	fail503              // 503 with Retry-After before storing
	fail429              // 429 with Retry-After before storing
	fail408              // 408 before storing
	fail400              // 400 with a message: the client must stop
	hang                 // no answer until the client gives up
	dropAfterStore       // stores the batch, then drops the connection
	truncated            // stores the batch, then answers 200 with half a body
)

// collector is a real HTTP collector as DESIGN.md describes it: it takes
// NDJSON batches and keeps each event id once. Faults queued with
// inject apply to the next requests, one each.
type collector struct {
	t     testing.TB
	srv   *httptest.Server
	token string
	check bool // parse and check every event (off in benchmarks)
	quit  chan struct{}

	mu          sync.Mutex
	ids         map[string]bool
	stored      []Event // each id once, in arrival order
	received    int     // events received, duplicates included
	requests    int
	keys        []string
	inflight    int
	maxInflight int
	faults      []fault
	retryAfter  string
	onStored    func() // called after a batch is stored, before answering
	problems    []string
	generations map[string]bool // Borne-Log-Generation values received
}

func newCollector(t testing.TB) *collector {
	c := &collector{t: t, token: "s3cret-token", check: true, ids: map[string]bool{}, generations: map[string]bool{}, retryAfter: "0", quit: make(chan struct{})}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(func() {
		close(c.quit)
		c.srv.CloseClientConnections()
		c.srv.Close()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.problems {
			t.Errorf("collector: %s", p)
		}
	})
	return c
}

func (c *collector) inject(fs ...fault) {
	c.mu.Lock()
	c.faults = append(c.faults, fs...)
	c.mu.Unlock()
}

func (c *collector) problem(format string, args ...any) {
	c.mu.Lock()
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.requests++
	c.inflight++
	c.maxInflight = max(c.maxInflight, c.inflight)
	f := answerOK
	if len(c.faults) > 0 {
		f, c.faults = c.faults[0], c.faults[1:]
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inflight--
		c.mu.Unlock()
	}()

	if r.Method != http.MethodPost {
		c.problem("method %s", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		c.problem("Content-Type %q", ct)
	}
	if r.Header.Get("Authorization") != "Bearer "+c.token {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	switch f {
	case fail500:
		http.Error(w, "database down", http.StatusInternalServerError)
		return
	case fail503:
		w.Header().Set("Retry-After", c.retryAfter)
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	case fail429:
		w.Header().Set("Retry-After", c.retryAfter)
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	case fail408:
		http.Error(w, "too slow", http.StatusRequestTimeout)
		return
	case fail400:
		http.Error(w, "unknown site \x1b[31mloiret-gien\nsecond line", http.StatusBadRequest)
		return
	case hang:
		// The server notices a client gone only once the body is read.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-c.quit:
		}
		return
	}

	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "cut request", http.StatusBadRequest)
		return
	}
	if len(body) > MaxBatchBytes {
		c.problem("batch of %d bytes", len(body))
	}
	var batch []Event
	if c.check {
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, MaxBatchBytes+1)
		for sc.Scan() {
			var e Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				http.Error(w, "bad line: "+err.Error(), http.StatusBadRequest)
				return
			}
			batch = append(batch, e)
		}
	} else {
		n := bytes.Count(body, []byte("\n"))
		batch = make([]Event, n)
		// Only the ids matter to a benchmark collector; take them from
		// the fixed place they have on each line.
		for i, line := 0, body; i < n; i++ {
			end := bytes.IndexByte(line, '\n')
			batch[i].ID = string(line[7:43])
			line = line[end+1:]
		}
	}
	if len(batch) == 0 || len(batch) > MaxBatchEvents {
		c.problem("batch of %d events", len(batch))
	}
	key := r.Header.Get("Idempotency-Key")
	if g := r.Header.Get(GenerationHeader); !uuidPattern.MatchString(g) {
		c.problem("%s %q is not a UUID", GenerationHeader, g)
	} else {
		c.mu.Lock()
		c.generations[g] = true
		c.mu.Unlock()
	}
	if c.check && len(batch) > 0 {
		want := fmt.Sprintf("%s:%d-%d", batch[0].Site, batch[0].Seq, batch[len(batch)-1].Seq)
		if key != want {
			c.problem("Idempotency-Key %q, want %q", key, want)
		}
		for i := 1; i < len(batch); i++ {
			if batch[i].Seq <= batch[i-1].Seq {
				c.problem("seq %d after %d in one batch", batch[i].Seq, batch[i-1].Seq)
			}
		}
	}
	c.mu.Lock()
	c.keys = append(c.keys, key)
	c.received += len(batch)
	for _, e := range batch {
		if !c.ids[e.ID] {
			c.ids[e.ID] = true
			c.stored = append(c.stored, e)
		}
	}
	after := c.onStored
	c.mu.Unlock()
	if after != nil {
		after()
	}

	switch f {
	case dropAfterStore, truncated:
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			c.problem("hijack: %v", err)
			return
		}
		if f == truncated {
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nstored")
			buf.Flush()
		}
		conn.Close()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"idempotency_key": key, "stored": len(batch)})
}

// stats returns how many distinct events the collector holds, how many it
// received, and how many requests it served.
func (c *collector) counts() (stored, received, requests int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stored), c.received, c.requests
}

func (c *collector) storedEvents() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.stored...)
}

// options returns sync options aimed at the collector, with back-off
// short enough for tests.
func (c *collector) options() SyncOptions {
	return SyncOptions{URL: c.srv.URL, Token: c.token, AllowLoopbackHTTP: true, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		RequestTimeout: 5 * time.Second}
}

// bulkLoad adds n events to s in one transaction, one every step from
// start, through the same insert as Record: many events fast, for tests
// about what happens to them afterwards.
func bulkLoad(t testing.TB, s *Store, n int, start time.Time, step time.Duration) {
	t.Helper()
	tx, err := s.w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	stmt := tx.Stmt(s.insert)
	kinds := []string{KindOperatorViewed, KindSessionStarted, KindSessionEnded, KindPrintJob, KindSurvey, KindIdleReset}
	ops := []string{"caf", "cpam", "carsat", "adil", "cdad"}
	for i := range n {
		e := Event{ID: uuid.NewString(), At: start.Add(time.Duration(i) * step),
			Site: "loiret-gien", Place: "Gien", Kind: kinds[i%len(kinds)], Operator: ops[i%len(ops)]}
		switch e.Kind {
		case KindSessionEnded:
			e.Outcome, e.DurationMS = OutcomeCompleted, int64(60000+i%2000*1000)
		case KindPrintJob:
			e.Outcome, e.Detail = OutcomePrinted, map[string]any{"pages": 1 + i%4}
		case KindSurvey:
			e.Detail = map[string]any{"score": 1 + i%5}
		case KindIdleReset:
			e.Operator = ""
		}
		detail, err := check(&e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stmt.Exec(e.ID, e.At.UTC().Format(TimeFormat), e.Site, e.Place, e.Kind, e.Operator, e.Outcome, e.DurationMS, detail); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
