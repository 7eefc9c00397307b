package usage

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of one batch (DESIGN.md, "Sync").
const (
	MaxBatchEvents = 1000
	MaxBatchBytes  = 1 << 20
)

// Defaults of SyncOptions.
const (
	DefaultRequestTimeout = 2 * time.Minute // a 1 MiB batch over a weak mobile link
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	maxRetryAfter         = time.Hour
)

// SyncOptions says where and how Sync sends the log.
type SyncOptions struct {
	URL   string // the collector
	Token string // sent as "Authorization: Bearer <token>"
	// Site goes into each batch's Idempotency-Key; empty: the site of the
	// batch's first event.
	Site      string
	UserAgent string

	// AllowLoopbackHTTP permits an http:// URL, to this machine only
	// (127.0.0.0/8, localhost, [::1]): tests. Otherwise the URL must be
	// https://, since the token and the events would travel in clear.
	AllowLoopbackHTTP bool

	// Client sends the batches; nil: a plain client. Sync uses a copy that
	// never follows a redirect, whatever Client says. RequestTimeout bounds
	// each request (default DefaultRequestTimeout).
	Client         *http.Client
	RequestTimeout time.Duration

	// Once makes one attempt per batch: the first failure ends Sync.
	// Otherwise failures that may pass (5xx, 408, 429, network) are retried
	// with capped exponential back-off and full jitter, or after the
	// collector's Retry-After, until ctx ends.
	Once       bool
	MinBackoff time.Duration // default DefaultMinBackoff
	MaxBackoff time.Duration // default DefaultMaxBackoff

	// MaxEvents and MaxBytes bound a batch (defaults and upper limits
	// MaxBatchEvents and MaxBatchBytes).
	MaxEvents int
	MaxBytes  int

	// Progress, when set, hears of each batch sent and each failed attempt.
	Progress func(SyncProgress)

	sleep      func(ctx context.Context, d time.Duration) error // tests: a fake clock
	afterAck   func() error                                     // tests: a crash between the 2xx and the cursor
	generation string                                           // the log's, read by Sync
}

// GenerationHeader carries the log's generation id (Store.Generation) with
// every batch: the contract with the collector.
const GenerationHeader = "Borne-Log-Generation"

// SyncProgress is one step of a sync.
type SyncProgress struct {
	FirstSeq, LastSeq int64
	Events            int
	Err               error // nil: the batch was acknowledged
	// Retry is set when the batch will be tried again, after RetryIn.
	Retry   bool
	RetryIn time.Duration
}

// SyncResult tells what a sync did.
type SyncResult struct {
	Batches, Events   int   // acknowledged by the collector
	FirstSeq, LastSeq int64 // their seq range; 0 when none
	Cursor            int64 // the cursor when Sync returned
	Retries           int   // failed attempts that were tried again
}

// CollectorError is a failure of one POST: the collector's answer, or the
// network's.
type CollectorError struct {
	Status int    // HTTP status; 0 when no answer came
	Body   string // first line of the answer, cleaned and cut short
	// Location is where a 3xx pointed, cleaned and cut short: redirects
	// are never followed, so that neither the token nor the events go
	// anywhere but usage.sync.url.
	Location  string
	Err       error // the network error when Status is 0; what was wrong with a 2xx
	Retryable bool
	retryIn   time.Duration // from Retry-After
}

func (e *CollectorError) Error() string {
	if e.Status == 0 {
		return "the collector could not be reached: " + e.Err.Error()
	}
	msg := fmt.Sprintf("the collector answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Status >= 300 && e.Status < 400 {
		to := e.Location
		if to == "" {
			to = "nowhere (no Location)"
		}
		msg += " pointing to " + to + ": redirects are not followed; set usage.sync.url to the collector's own address (a captive portal or a moved collector?)"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	return msg
}

func (e *CollectorError) Unwrap() error { return e.Err }

// Sync sends the events after the sync cursor to the collector, in seq
// order, in NDJSON batches, and moves the cursor past each batch the
// collector acknowledges (a 2xx whose JSON names the batch's
// Idempotency-Key and the count of its events), in its own transaction. A batch whose
// acknowledgement is lost is sent again, with the same Idempotency-Key and
// the same events: delivery is at least once, and a collector that keeps
// each event id once stores each event once. Only one Sync of a log runs
// at a time, across processes: another gets ErrSyncBusy.
//
// Sync returns when every event recorded before it began has been
// acknowledged, when a failure ends it (any failure with Once; always a
// 4xx other than 408 and 429, a 3xx, which is never followed, and a 2xx
// that is not the acknowledgement: each says what came back), or when ctx
// ends. A URL other than https:// is refused (see CheckCollectorURL).
func (s *Store) Sync(ctx context.Context, o SyncOptions) (SyncResult, error) {
	var res SyncResult
	if s == nil || s.closed.Load() {
		return res, ErrClosed
	}
	if o.URL == "" {
		return res, errors.New("usage sync: no collector address (set usage.sync.url)")
	}
	if err := CheckCollectorURL(o.URL, o.AllowLoopbackHTTP); err != nil {
		return res, fmt.Errorf("usage sync: %w", err)
	}
	o.defaults()
	gen, err := s.Generation(ctx)
	if err != nil {
		return res, err
	}
	o.generation = gen
	lock, err := lockSync(s.path)
	if err != nil {
		return res, err
	}
	defer lock.unlock()

	st, err := readSyncState(ctx, s.r)
	if err != nil {
		return res, s.describe("reading the sync cursor", err)
	}
	// What was there when the sync began, and no more: a kiosk recording
	// faster than the collector takes its events cannot keep a sync going
	// for ever; the next one sends the rest.
	cursor, target := st.Cursor, st.LastSeq
	res.Cursor = cursor
	var body bytes.Buffer
	for cursor < target {
		b, err := s.nextBatch(ctx, cursor, target, &o, &body)
		if err != nil {
			return res, s.describe("reading events to send", err)
		}
		if b.events == 0 {
			return res, nil
		}
		if err := s.sendBatch(ctx, &o, b, body.Bytes(), &res); err != nil {
			return res, err
		}
		if o.afterAck != nil {
			if err := o.afterAck(); err != nil {
				return res, err
			}
		}
		if err := s.moveCursor(ctx, b.last); err != nil {
			return res, err
		}
		cursor = b.last
		res.Cursor = cursor
		if res.Batches == 0 {
			res.FirstSeq = b.first
		}
		res.LastSeq = b.last
		res.Batches++
		res.Events += b.events
		if o.Progress != nil {
			o.Progress(SyncProgress{FirstSeq: b.first, LastSeq: b.last, Events: b.events})
		}
	}
	return res, nil
}

func (o *SyncOptions) defaults() {
	if o.MaxEvents <= 0 || o.MaxEvents > MaxBatchEvents {
		o.MaxEvents = MaxBatchEvents
	}
	if o.MaxBytes <= 0 || o.MaxBytes > MaxBatchBytes {
		o.MaxBytes = MaxBatchBytes
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	c := http.Client{}
	if o.Client != nil {
		c = *o.Client
	}
	// A 3xx is answered to the POST itself: following it would send the
	// token and the batch elsewhere (another port, http:// from https://),
	// or turn the POST into a bodiless GET whose 200 looks like delivery.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.Client = &c
	if o.sleep == nil {
		o.sleep = sleepCtx
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type batch struct {
	first, last int64
	events      int
	site        string
}

// nextBatch writes into body, as NDJSON, the events after cursor, up to
// target, that fit in one batch. It reads one snapshot through the read pool, so the kiosk
// goes on recording meanwhile.
func (s *Store) nextBatch(ctx context.Context, cursor, target int64, o *SyncOptions, body *bytes.Buffer) (batch, error) {
	body.Reset()
	var b batch
	rows, err := s.r.QueryContext(ctx, selectColumns+` WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`, cursor, target, o.MaxEvents)
	if err != nil {
		return b, err
	}
	defer rows.Close()
	var (
		r    row
		dest = r.dest()
		line []byte
	)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return b, err
		}
		line = appendNDJSON(line[:0], &r)
		if b.events > 0 && body.Len()+len(line) > o.MaxBytes {
			break
		}
		body.Write(line)
		if b.events == 0 {
			b.first, b.site = r.seq, r.site
		}
		b.last = r.seq
		b.events++
	}
	return b, rows.Err()
}

// sendBatch posts one batch until the collector acknowledges it, retrying
// what may pass unless o.Once.
func (s *Store) sendBatch(ctx context.Context, o *SyncOptions, b batch, body []byte, res *SyncResult) error {
	site := o.Site
	if site == "" {
		site = b.site
	}
	key := fmt.Sprintf("%s:%d-%d", site, b.first, b.last)
	for attempt := 0; ; attempt++ {
		err := post(ctx, o, key, b.events, body)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("sync stopped before seq %d-%d was acknowledged: %w", b.first, b.last, err)
		}
		var ce *CollectorError
		if !errors.As(err, &ce) || !ce.Retryable || o.Once {
			if o.Progress != nil {
				o.Progress(SyncProgress{FirstSeq: b.first, LastSeq: b.last, Events: b.events, Err: err})
			}
			return fmt.Errorf("sending events %d to %d: %w", b.first, b.last, err)
		}
		wait := backoff(attempt, o.MinBackoff, o.MaxBackoff)
		if ce.retryIn > 0 {
			wait = ce.retryIn
		}
		if o.Progress != nil {
			o.Progress(SyncProgress{FirstSeq: b.first, LastSeq: b.last, Events: b.events, Err: err, Retry: true, RetryIn: wait})
		}
		res.Retries++
		if err := o.sleep(ctx, wait); err != nil {
			return fmt.Errorf("sync stopped while waiting to send events %d to %d again, after: %w", b.first, b.last, ce)
		}
	}
}

// backoff is the wait before retry number attempt+1: full jitter over a
// ceiling that doubles from lo up to hi, so kiosks that lost the network
// together do not come back together.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	ceiling := hi
	if attempt < 32 {
		if c := lo << attempt; c > 0 && c < hi {
			ceiling = c
		}
	}
	return rand.N(ceiling + 1)
}

// post sends one batch and reads the whole answer: an answer cut short
// is a failure like a lost one, even after a 2xx status line, and so is a
// 2xx that is not the collector's acknowledgement of this batch.
func post(ctx context.Context, o *SyncOptions, key string, events int, body []byte) error {
	rctx, cancel := context.WithTimeout(ctx, o.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, o.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("usage sync: %q: %v", o.URL, err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+o.Token)
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set(GenerationHeader, o.generation)
	if o.UserAgent != "" {
		req.Header.Set("User-Agent", o.UserAgent)
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return &CollectorError{Err: netErr(err), Retryable: true}
	}
	defer resp.Body.Close()
	head, rerr := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if rerr == nil {
		// The rest, unread, so that the connection can be reused.
		_, rerr = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	ce := &CollectorError{Status: resp.StatusCode, Body: firstLine(head)}
	switch {
	case ok && rerr != nil:
		ce.Err, ce.Retryable = fmt.Errorf("its answer was cut off: %v", netErr(rerr)), true
	case ok:
		if ce.Err = checkAck(head, key, events); ce.Err == nil {
			return nil
		}
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		ce.Location = firstLine([]byte(resp.Header.Get("Location")))
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		ce.Retryable = true
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			ce.retryIn = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	}
	return ce
}

// ack is the collector's answer to a batch it holds (DESIGN.md, "Sync").
type ack struct {
	Key    *string `json:"idempotency_key"`
	Stored *int64  `json:"stored"`
}

// checkAck says what is wrong with a 2xx answer that should acknowledge
// the batch key of events events; nil when it does. Anything else (a
// portal's page, a proxy's "OK", another protocol's counts) proves nothing
// was stored, and the cursor must not move on it.
func checkAck(body []byte, key string, events int) error {
	var a ack
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&a); err != nil || dec.More() {
		return errors.New("not the collector's acknowledgement (want {\"idempotency_key\":…,\"stored\":…}): is usage.sync.url a borne collector?")
	}
	switch {
	case a.Key == nil || a.Stored == nil:
		return errors.New("the acknowledgement lacks idempotency_key or stored: is usage.sync.url a borne collector?")
	case *a.Key != key:
		return fmt.Errorf("the acknowledgement is for batch %q, not %q", firstLine([]byte(*a.Key)), key)
	case *a.Stored != int64(events):
		return fmt.Errorf("the collector says it holds %d of the batch's %d events", *a.Stored, events)
	}
	return nil
}

// CheckCollectorURL checks a collector address: https://, or http:// to
// this machine (127.0.0.0/8, localhost, [::1]) when allowLoopbackHTTP, for
// tests; anything else would send the token and the events in clear.
// borne config check applies the same rule with the config's position.
func CheckCollectorURL(raw string, allowLoopbackHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("usage.sync.url %q is not a web address", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme != "http":
		return fmt.Errorf("usage.sync.url %q is not an https:// address", raw)
	case !allowLoopbackHTTP:
		return fmt.Errorf("usage.sync.url %q: http:// would send the token and the events in clear; use https://", raw)
	case !LoopbackHost(u.Hostname()):
		return fmt.Errorf("usage.sync.url %q: http:// is allowed only to this machine (127.0.0.1, localhost, [::1]), even with allow_loopback_http", raw)
	}
	return nil
}

// LoopbackHost reports whether host (without port or brackets) names this
// machine: localhost, 127.0.0.0/8 or ::1.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// netErr drops the method and address Go puts in front of a network error:
// the message names the collector already.
func netErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("no answer in time")
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// retryAfter reads a Retry-After header: seconds or an HTTP date; 0 when
// absent or unreadable. A far date is cut to an hour, so that a wrong
// header cannot silence a kiosk for good.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(h); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// firstLine is the first line of a collector's answer, fit for a
// terminal: printable characters only, cut to 200 bytes.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// moveCursor records, in its own transaction, that the collector holds
// every event up to seq.
func (s *Store) moveCursor(ctx context.Context, seq int64) error {
	now := s.now().Unix()
	err := withTx(ctx, s.w, nil, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, raiseSQL, metaSyncCursor, strconv.FormatInt(seq, 10)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, setSQL, metaLastSync, strconv.FormatInt(now, 10))
		return err
	})
	if err != nil {
		if s.closed.Load() {
			return ErrClosed
		}
		return s.describe(fmt.Sprintf("moving the sync cursor to %d (the collector has the events; they will be sent again)", seq), err)
	}
	return nil
}
