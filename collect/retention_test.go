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
		n, err := s.Purge(t.Context(), 760*24*time.Hour)
		if err != nil || n != 30 {
			t.Fatalf("purged %d, %v", n, err)
		}
		f, err := s.Fleet(t.Context(), FleetOptions{})
		if err != nil {
			t.Fatal(err)
		}
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
		if !f.Kiosks[0].Silent || !strings.Contains(strings.Join(f.Kiosks[0].Why, ","), "silent for 60 minutes") {
			t.Errorf("silent: %+v", f.Kiosks[0])
		}
	})
}
