package usage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Metrics are the kiosk's fleet metrics, kept by the shell and written as
// a Prometheus text file that the node exporter's textfile collector
// carries to the Département. Counters start at zero with each shell, as
// Prometheus expects of a restarted process: they are not read back from
// the log, whose purge would make them go down.
type Metrics struct {
	mu      sync.Mutex
	calls   map[callKey]int64
	devices map[string]bool
	changed chan struct{}
}

type callKey struct{ operator, outcome string }

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{calls: map[callKey]int64{}, devices: map[string]bool{}, changed: make(chan struct{}, 1)}
}

// Observe counts an event the shell records: each ended call, by
// operator and outcome.
func (m *Metrics) Observe(e Event) {
	if e.Kind != KindSessionEnded {
		return
	}
	m.mu.Lock()
	m.calls[callKey{e.Operator, e.Outcome}]++
	m.mu.Unlock()
	m.signal()
}

// SetDevice notes whether a device or service works.
func (m *Metrics) SetDevice(device string, up bool) {
	if device == "" {
		return
	}
	m.mu.Lock()
	was, known := m.devices[device]
	m.devices[device] = up
	m.mu.Unlock()
	if !known || was != up {
		m.signal()
	}
}

func (m *Metrics) signal() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// Changed receives a value after the metrics changed.
func (m *Metrics) Changed() <-chan struct{} { return m.changed }

// MetricsState is what the metrics read from the log and its buffer.
type MetricsState struct {
	LogUp    bool
	Buffered int   // events in memory, not yet in the log
	Dropped  int64 // events lost because memory was full
	// Sync is the log's sync state; nil when it could not be read, and
	// then the sync lines are left out rather than made up.
	Sync *SyncState
}

// Render writes the metrics in the Prometheus text exposition format.
func (m *Metrics) Render(st MetricsState) []byte {
	var b bytes.Buffer
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}

	m.mu.Lock()
	keys := make([]callKey, 0, len(m.calls))
	for k := range m.calls {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b callKey) int {
		return strings.Compare(a.operator+"\x00"+a.outcome, b.operator+"\x00"+b.outcome)
	})
	family("borne_calls_total", "counter", "Video calls ended since the shell started, by operator and outcome.")
	for _, k := range keys {
		fmt.Fprintf(&b, "borne_calls_total{operator=%s,outcome=%s} %d\n", label(k.operator), label(k.outcome), m.calls[k])
	}
	devices := make([]string, 0, len(m.devices))
	for d := range m.devices {
		devices = append(devices, d)
	}
	slices.Sort(devices)
	family("borne_device_up", "gauge", "Whether a device or service works (1) or not (0), as last reported.")
	for _, d := range devices {
		fmt.Fprintf(&b, "borne_device_up{device=%s} %d\n", label(d), boolNum(m.devices[d]))
	}
	m.mu.Unlock()

	family("borne_usage_log_up", "gauge", "Whether the usage log can be written (1) or events wait in memory (0).")
	fmt.Fprintf(&b, "borne_usage_log_up %d\n", boolNum(st.LogUp))
	family("borne_usage_buffered_events", "gauge", "Usage events kept in memory until the log can be written.")
	fmt.Fprintf(&b, "borne_usage_buffered_events %d\n", st.Buffered)
	family("borne_usage_dropped_events_total", "counter", "Usage events lost because memory was full while the log could not be written.")
	fmt.Fprintf(&b, "borne_usage_dropped_events_total %d\n", st.Dropped)
	if st.Sync != nil {
		family("borne_unsynced_events", "gauge", "Usage events not yet acknowledged by the collector, in the log or in memory.")
		fmt.Fprintf(&b, "borne_unsynced_events %d\n", st.Sync.Unsynced+int64(st.Buffered))
		family("borne_last_sync_timestamp_seconds", "gauge", "When the collector last acknowledged a batch, in Unix seconds; 0 if never.")
		var last int64
		if !st.Sync.LastSync.IsZero() {
			last = st.Sync.LastSync.Unix()
		}
		fmt.Fprintf(&b, "borne_last_sync_timestamp_seconds %d\n", last)
	}
	return b.Bytes()
}

func boolNum(ok bool) int {
	if ok {
		return 1
	}
	return 0
}

// label quotes a label value as the exposition format wants.
func label(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}

// WriteFileAtomic replaces path with data, written beside it, synced,
// then renamed and the folder synced: after a power cut the file holds the
// old content or the new, never half of one. The folder must exist.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // finds nothing after the rename
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// MetricsFileState reads, from a metrics file the shell wrote, the
// usage log's health as the shell last saw it, for borne doctor. ok is
// false when the file or its lines are missing.
func MetricsFileState(path string) (st MetricsState, written time.Time, ok bool) {
	data, err := ReadStateFile(context.Background(), path, 256<<10)
	if err != nil {
		return st, written, false
	}
	if fi, err := os.Stat(path); err == nil {
		written = fi.ModTime()
	}
	var up, buffered bool
	for line := range strings.Lines(string(data)) {
		name, value, found := strings.Cut(strings.TrimSpace(line), " ")
		if !found || strings.HasPrefix(name, "#") {
			continue
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "borne_usage_log_up":
			st.LogUp, up = n == 1, true
		case "borne_usage_buffered_events":
			st.Buffered, buffered = int(n), true
		case "borne_usage_dropped_events_total":
			st.Dropped = n
		}
	}
	return st, written, up && buffered
}

// Touch asks for the metrics to be written again: the log's state
// changed (a sync, a purge).
func (m *Metrics) Touch() { m.signal() }
