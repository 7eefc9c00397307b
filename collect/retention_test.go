package collect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestPurge: events past the retention go, the logs they came from are
// recounted (no false holes), and a fault of the last day marks the kiosk.
func TestPurge(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		s.now = func() time.Time { return now }
		_, hs := serve(t, s, nil)
		token, _ := s.AddToken(t.Context(), "loiret-gien")
		gen := uuid.NewString()
		old := time.Date(2024, 10, 1, 9, 0, 0, 0, time.UTC) // 791 days before
		if code, msg, _ := post(t, hs.URL, token, "loiret-gien:1-30", gen, batch("loiret-gien", 1, 30, old)); code != 200 {
			t.Fatal(code, msg)
		}
		recent := batch("loiret-gien", 31, 20, now.Add(-48*time.Hour))
		fault := fmt.Sprintf(`{"id":%q,"seq":51,"at":%q,"site":"loiret-gien","place":"Gien","kind":"hardware_fault","operator":"","outcome":"","duration_ms":0,"detail":{"device":"camera","reason":"unplugged"}}`+"\n",
			uuid.NewString(), now.Add(-time.Hour).Format(time.RFC3339))
		if code, msg, _ := post(t, hs.URL, token, "loiret-gien:31-51", gen, append(recent, fault...)); code != 200 {
			t.Fatal(code, msg)
		}
		// Another kiosk's sessions on both sides of the cutoff, 760 days
		// before now: its day is counted again from what is left.
		cutoff := now.Add(-760 * 24 * time.Hour)
		briare, _ := s.AddToken(t.Context(), "loiret-briare")
		straddle := strings.ReplaceAll(string(batch("loiret-briare", 1, 30, cutoff.Add(-15*time.Minute))), `"Gien"`, `"Briare"`)
		if code, msg, _ := post(t, hs.URL, briare, "loiret-briare:1-30", uuid.NewString(), []byte(straddle)); code != 200 {
			t.Fatal(code, msg)
		}
		n, err := s.Purge(t.Context(), 760*24*time.Hour)
		if err != nil || n != 45 {
			t.Fatalf("purged %d, %v", n, err)
		}
		day := StatsOptions{Location: paris(t), From: midnight(cutoff, paris(t)), To: midnight(cutoff, paris(t)).AddDate(0, 0, 1)}
		st, err := s.Stats(t.Context(), day)
		if err != nil || st.Total.Sessions != 15 || len(st.Rows) != 1 || st.Rows[0].Site != "loiret-briare" {
			t.Errorf("the cutoff's day after the purge: %+v %v", st, err)
		}
		if got, want := statsText(t, s, StatsOptions{Location: paris(t)}), fromEvents(t, s, StatsOptions{Location: paris(t)}); got != want {
			t.Errorf("the roll-up after the purge:\n%s\nthe events:\n%s", got, want)
		}
		f, err := s.Fleet(t.Context(), FleetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if b := f.Kiosks[0]; b.Site != "loiret-briare" || b.Events != 15 || b.Holes != 0 || b.Generations[0].MinSeq != 16 {
			t.Errorf("the other kiosk after the purge: %+v", b)
		}
		f.Kiosks = f.Kiosks[1:]
		k := f.Kiosks[0]
		if k.Events != 21 || k.Holes != 0 || k.Generations[0].MinSeq != 31 || k.Faults != 1 || !k.NeedsVisit || k.Silent {
			t.Errorf("after the purge: %+v", k)
		}
		var b strings.Builder
		f.WriteMetrics(&b)
		for _, want := range []string{`borne_collect_hardware_faults_last_day{site="loiret-gien"} 1`, `borne_collect_events{site="loiret-gien"} 21`, `borne_collect_silent{site="loiret-gien"} 0`} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		// Four sync intervals later, silent.
		f, _ = s.Fleet(t.Context(), FleetOptions{Now: now.Add(time.Hour), SyncInterval: 15 * time.Minute})
		if !f.Kiosks[1].Silent || !strings.Contains(strings.Join(f.Kiosks[1].Why, ","), "silent for 60 minutes") {
			t.Errorf("silent: %+v", f.Kiosks[1])
		}
	})
}

// statsText is the stats as JSON, to compare.
func statsText(t *testing.T, s *Store, o StatsOptions) string {
	t.Helper()
	st, err := s.Stats(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	st.Write(&b, FormatJSON)
	return b.String()
}

// fromEvents is the stats counted from the events alone: the roll-up
// counts another zone's days meanwhile, then o's again.
func fromEvents(t *testing.T, s *Store, o StatsOptions) string {
	t.Helper()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.KeepDaily(t.Context(), tokyo); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := s.KeepDaily(t.Context(), o.Location); err != nil {
			t.Fatal(err)
		}
	}()
	return statsText(t, s, o)
}
