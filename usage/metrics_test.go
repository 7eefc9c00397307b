package usage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMetricsRender(t *testing.T) {
	m := NewMetrics()
	for _, e := range []Event{
		{Kind: KindSessionEnded, Operator: "caf", Outcome: OutcomeCompleted},
		{Kind: KindSessionEnded, Operator: "caf", Outcome: OutcomeCompleted},
		{Kind: KindSessionEnded, Operator: "caf", Outcome: OutcomeFailed},
		{Kind: KindSessionEnded, Operator: "mairie", Outcome: OutcomeTimeout},
		{Kind: KindSessionStarted, Operator: "caf"},
		{Kind: KindSurvey, Operator: "caf"},
	} {
		m.Observe(e)
	}
	m.SetDevice("printer", false)
	m.SetDevice("camera", true)
	m.SetDevice(`odd"name`, true)
	select {
	case <-m.Changed():
	default:
		t.Error("no change signalled")
	}
	last := time.Unix(1795000000, 0)
	got := string(m.Render(MetricsState{LogUp: false, Buffered: 12, Dropped: 1,
		Sync: &SyncState{Unsynced: 30, LastSync: last}}))
	want := `# HELP borne_calls_total Video calls ended since the shell started, by operator and outcome.
# TYPE borne_calls_total counter
borne_calls_total{operator="caf",outcome="completed"} 2
borne_calls_total{operator="caf",outcome="failed"} 1
borne_calls_total{operator="mairie",outcome="timeout"} 1
# HELP borne_device_up Whether a device or service works (1) or not (0), as last reported.
# TYPE borne_device_up gauge
borne_device_up{device="camera"} 1
borne_device_up{device="odd\"name"} 1
borne_device_up{device="printer"} 0
# HELP borne_usage_log_up Whether the usage log can be written (1) or events wait in memory (0).
# TYPE borne_usage_log_up gauge
borne_usage_log_up 0
# HELP borne_usage_buffered_events Usage events kept in memory until the log can be written.
# TYPE borne_usage_buffered_events gauge
borne_usage_buffered_events 12
# HELP borne_usage_dropped_events_total Usage events lost because memory was full while the log could not be written.
# TYPE borne_usage_dropped_events_total counter
borne_usage_dropped_events_total 1
# HELP borne_unsynced_events Usage events not yet acknowledged by the collector, in the log or in memory.
# TYPE borne_unsynced_events gauge
borne_unsynced_events 42
# HELP borne_last_sync_timestamp_seconds When the collector last acknowledged a batch, in Unix seconds; 0 if never.
# TYPE borne_last_sync_timestamp_seconds gauge
borne_last_sync_timestamp_seconds 1795000000
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	// Without a readable sync state, no made-up sync lines.
	if s := string(m.Render(MetricsState{LogUp: true})); strings.Contains(s, "borne_unsynced_events") || strings.Contains(s, "borne_last_sync") {
		t.Errorf("sync lines without a sync state:\n%s", s)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "borne.prom")
	for _, content := range []string{"first\n", "second\n"} {
		if err := WriteFileAtomic(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		if string(b) != content {
			t.Errorf("content %q", b)
		}
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "none", "x.prom"), nil, 0o644); err == nil {
		t.Error("no error in a missing folder")
	}

	m := NewMetrics()
	WriteFileAtomic(path, m.Render(MetricsState{LogUp: false, Buffered: 7, Dropped: 2}), 0o644)
	st, written, ok := MetricsFileState(path)
	if !ok || st.LogUp || st.Buffered != 7 || st.Dropped != 2 || time.Since(written) > time.Minute {
		t.Errorf("read back %+v %v %v", st, written, ok)
	}
	if _, _, ok := MetricsFileState(filepath.Join(dir, "none.prom")); ok {
		t.Error("a missing file read as ok")
	}
}
