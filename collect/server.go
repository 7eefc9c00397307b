package collect

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/loiret/borne/usage"
)

// Protocol names (DESIGN.md, "Sync").
const (
	EventsPath       = "/v1/events"
	MetricsPath      = "/metrics"
	GenerationHeader = "Borne-Log-Generation"
)

// MaxBody is the largest batch taken: the kiosk's own limit.
const MaxBody = usage.MaxBatchBytes

// Server answers the kiosks' batches and the monitoring's scrapes.
type Server struct {
	store *Store
	cfg   *Config
	slots chan struct{} // one per batch being taken
	logf  func(format string, args ...any)
}

// NewServer is a server storing into store; logf hears of refusals and
// failures (nil: silence).
func NewServer(cfg *Config, store *Store, logf func(format string, args ...any)) *Server {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Server{store: store, cfg: cfg, slots: make(chan struct{}, cfg.MaxRequests), logf: logf}
}

// Handler routes POST /v1/events and GET /metrics.
func (srv *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(EventsPath, srv.events)
	mux.HandleFunc(MetricsPath, srv.metrics)
	return mux
}

// HTTPServer is an http.Server with the limits a server facing the
// Internet needs: a client trickling its headers or its body is cut off
// after the read timeout.
func (srv *Server) HTTPServer() *http.Server {
	rt := srv.cfg.ReadTimeout.D()
	return &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: min(10*time.Second, rt),
		ReadTimeout:       rt,
		WriteTimeout:      rt + time.Minute, // the read, then storing the batch
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}

// Serve listens on cfg.Listen (TLS when cfg names a certificate), purges
// past the retention daily, and returns when ctx ends, after the batches
// being stored are done. ready, when set, hears the address once listening.
func (srv *Server) Serve(ctx context.Context, ready func(addr string)) error {
	t0 := time.Now()
	if built, err := srv.store.KeepDaily(ctx, srv.cfg.Location()); err != nil {
		return err
	} else if built {
		srv.logf("stats: days of %s counted from the events in %v", srv.cfg.Location(), time.Since(t0).Round(time.Millisecond))
	}
	hs := srv.HTTPServer()
	if srv.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(srv.cfg.TLSCert, srv.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("tls_cert %s, tls_key %s: %v", srv.cfg.TLSCert, srv.cfg.TLSKey, err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", srv.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %v", srv.cfg.Listen, err)
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		srv.purgeDaily(ctx)
	}()
	errc := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = hs.Shutdown(sctx)
		cancel()
	}
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// purgeDaily deletes events past the retention now and every day.
func (srv *Server) purgeDaily(ctx context.Context) {
	for {
		n, err := srv.store.Purge(ctx, srv.cfg.Retention.D())
		switch {
		case err != nil && ctx.Err() == nil:
			srv.logf("retention purge: %v", err)
		case n > 0:
			srv.logf("retention purge: deleted %d events older than %s", n, srv.cfg.Retention)
		}
		t := time.NewTimer(24 * time.Hour)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Ack is the answer to a stored batch; the kiosk counts a delivery only
// when it names its key and stored is the batch's size.
type Ack struct {
	IdempotencyKey string `json:"idempotency_key"`
	Stored         int    `json:"stored"`
}

var keyPattern = regexp.MustCompile(`^([A-Za-z0-9._-]{1,64}):([0-9]{1,19})-([0-9]{1,19})$`)

func (srv *Server) events(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		plain(w, http.StatusMethodNotAllowed, "POST NDJSON batches here")
		return
	}
	select {
	case srv.slots <- struct{}{}:
		defer func() { <-srv.slots }()
	default:
		// Busy: the kiosk waits as told, each a little differently.
		w.Header().Set("Retry-After", strconv.Itoa(1+rand.IntN(5)))
		plain(w, http.StatusTooManyRequests, "busy: send this batch again later")
		return
	}
	status, msg, ack := srv.take(r)
	if status != http.StatusOK {
		if status >= 500 {
			srv.logf("%s %s: %s", r.RemoteAddr, r.Header.Get("Idempotency-Key"), msg)
		}
		plain(w, status, msg)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ack)
}

// take reads, checks and stores one batch, and says what to answer.
func (srv *Server) take(r *http.Request) (int, string, Ack) {
	var ack Ack
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token = strings.TrimSpace(token); !ok || token == "" {
		return http.StatusUnauthorized, "no token: send Authorization: Bearer <the kiosk's token>", ack
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-ndjson" {
		return http.StatusUnsupportedMediaType, "send Content-Type: application/x-ndjson", ack
	}
	key := r.Header.Get("Idempotency-Key")
	m := keyPattern.FindStringSubmatch(key)
	if m == nil {
		return http.StatusBadRequest, "Idempotency-Key must be <site>:<first seq>-<last seq>", ack
	}
	generation := r.Header.Get(GenerationHeader)
	if generation != "" {
		g, err := uuid.Parse(generation)
		if err != nil {
			return http.StatusBadRequest, GenerationHeader + " must be the log's UUID", ack
		}
		generation = g.String()
	}
	if r.ContentLength > MaxBody {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("a batch is at most %d bytes", MaxBody), ack
	}
	body, err := readBody(r)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("a batch is at most %d bytes", MaxBody), ack
	}
	if err != nil {
		// The read timeout, or the client gone: it may send again.
		return http.StatusRequestTimeout, "the batch could not be read in time: " + err.Error(), ack
	}
	// The body is in: the read timeout bounds the network alone, never a
	// wait for the database.
	site, err := srv.store.TokenSite(r.Context(), token)
	if errors.Is(err, errNoToken) {
		return http.StatusUnauthorized, "unknown or revoked token (borne collect token add SITE makes one)", ack
	}
	if err != nil {
		return http.StatusServiceUnavailable, err.Error(), ack
	}
	if m[1] != site {
		return http.StatusForbidden, fmt.Sprintf("this token posts for site %s, not %s", site, m[1]), ack
	}
	events, err := ParseBatch(body)
	if err != nil {
		return http.StatusBadRequest, err.Error(), ack
	}
	first, last := events[0].Seq, events[len(events)-1].Seq
	for i := range events {
		if events[i].Site != site {
			return http.StatusForbidden, fmt.Sprintf("line %d: an event of site %s, and this token posts for site %s: nothing stored", i+1, events[i].Site, site), ack
		}
		first, last = min(first, events[i].Seq), max(last, events[i].Seq)
	}
	if m[2] != strconv.FormatInt(first, 10) || m[3] != strconv.FormatInt(last, 10) {
		return http.StatusBadRequest, fmt.Sprintf("Idempotency-Key %s does not match the batch (seq %d to %d)", key, first, last), ack
	}
	held, _, err := srv.store.Ingest(r.Context(), site, generation, events)
	if err != nil {
		return http.StatusServiceUnavailable, err.Error(), ack
	}
	return http.StatusOK, "", Ack{IdempotencyKey: key, Stored: held}
}

// readBody reads a batch of at most MaxBody bytes (the caller has
// refused a larger announced size), into a buffer of the announced size
// when there is one rather than one doubled as it fills.
func readBody(r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(nil, r.Body, MaxBody)
	if r.ContentLength <= 0 {
		return io.ReadAll(body)
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// plain answers one line of text: the kiosk shows it to the technician.
func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

func (srv *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		plain(w, http.StatusMethodNotAllowed, "GET only")
		return
	}
	f, err := srv.store.Fleet(r.Context(), FleetOptions{SyncInterval: srv.cfg.SyncInterval.D()})
	if err != nil {
		plain(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	f.WriteMetrics(w)
}
