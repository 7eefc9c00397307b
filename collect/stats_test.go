package collect

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loiret/borne/usage"
)

func paris(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestStatsMatchTheKiosks: the fleet's figures for each site are the
// figures each kiosk's own logs stats gives, row by row, by day and by
// month, over a change of time (25 October) and bounds cutting days.
func TestStatsMatchTheKiosks(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, hs := serve(t, s, nil)
		loc := paris(t)
		kiosks := []*kiosk{newKiosk(t, "loiret-gien", "Gien"), newKiosk(t, "loiret-briare", "Briare"), newKiosk(t, "loiret-pithiviers", "Pithiviers")}
		for i, k := range kiosks {
			token, err := s.AddToken(ctx, k.site)
			if err != nil {
				t.Fatal(err)
			}
			k.fill(t, 700+150*i, time.Date(2026, 10, 23, 6, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour))
			if res, err := k.sync(t, hs.URL, token); err != nil || res.Events != 700+150*i {
				t.Fatalf("sync %s: %+v %v", k.site, res, err)
			}
		}
		for _, o := range []StatsOptions{
			{By: usage.ByDay, Location: loc},
			{By: usage.ByMonth, Location: loc},
			{By: usage.ByDay, Location: loc, From: time.Date(2026, 10, 24, 0, 0, 0, 0, loc), To: time.Date(2026, 10, 27, 0, 0, 0, 0, loc)},
		} {
			fleet, err := s.Stats(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			var sessions int
			for _, k := range kiosks {
				own, err := k.log.Stats(ctx, usage.StatsOptions{From: o.From, To: o.To, Location: o.Location, By: o.By})
				if err != nil {
					t.Fatal(err)
				}
				sessions += own.Total.Sessions
				var mine []StatsRow
				for _, r := range fleet.Rows {
					if r.Site == k.site {
						mine = append(mine, r)
					}
				}
				if len(mine) != len(own.Rows) || len(own.Rows) == 0 {
					t.Fatalf("%s by %s: %d rows, the kiosk has %d", k.site, o.By, len(mine), len(own.Rows))
				}
				for i, r := range own.Rows {
					want := StatsRow{Period: r.Period, Site: k.site, Place: k.place, Operator: r.Operator, Sessions: r.Sessions, Completed: r.Completed,
						MedianDurationMS: r.MedianDurationMS, TotalDurationMS: r.TotalDurationMS, Surveys: r.Surveys, SurveyAverage: r.SurveyAverage, PrintJobs: r.PrintJobs}
					if fmt.Sprint(deref(mine[i])) != fmt.Sprint(deref(want)) {
						t.Errorf("%s by %s row %d:\n got %v\nwant %v", k.site, o.By, i, deref(mine[i]), deref(want))
					}
				}
			}
			if fleet.Total.Sessions != sessions {
				t.Errorf("total sessions %d, kiosks %d", fleet.Total.Sessions, sessions)
			}
		}
	})
}

func deref(r StatsRow) string {
	avg := "-"
	if r.SurveyAverage != nil {
		avg = fmt.Sprint(*r.SurveyAverage)
	}
	r.SurveyAverage = nil
	return fmt.Sprintf("%+v avg=%s", r, avg)
}

func TestStatsOutputs(t *testing.T) {
	s := openStore(t, "sqlite")
	_, hs := serve(t, s, nil)
	token, _ := s.AddToken(t.Context(), "loiret-gien")
	k := newKiosk(t, "loiret-gien", "Gien")
	k.fill(t, 16, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	if _, err := k.sync(t, hs.URL, token); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(t.Context(), StatsOptions{By: usage.ByMonth, Location: paris(t)})
	if err != nil {
		t.Fatal(err)
	}
	var table, csvOut bytes.Buffer
	st.Write(&table, FormatTable)
	st.Write(&csvOut, FormatCSV)
	want := `month    site         place  operator  sessions  completed   median    total  surveys  average  prints
2026-11  loiret-gien  Gien   caf              2          0  0:00:00  0:00:00        1     3.00       0
2026-11  loiret-gien  Gien   carsat           1          1  0:00:37  0:01:13        0        -       0
2026-11  loiret-gien  Gien   cpam             1          1  0:01:10  0:01:10        1     5.00       0
total    all          all    all              4          2  0:01:02  0:02:23        2     4.00       0
`
	if table.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", table.String(), want)
	}
	recs, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil || len(recs) != 4 || strings.Join(recs[0], ",") != strings.Join(StatsColumns, ",") {
		t.Errorf("csv %v %v", recs, err)
	}
}

// TestGenerations: a kiosk whose log was recreated starts again at seq 1
// under a new generation: nothing counts as lost; a gap in one log does.
func TestGenerations(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		_, hs := serve(t, s, nil)
		token, _ := s.AddToken(t.Context(), "loiret-gien")
		at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
		old, recreated := uuid.NewString(), uuid.NewString()
		for _, p := range []struct {
			gen        string
			first, n   int
			wantHoles  int64
			wantLogs   int
			wantEvents int64
		}{
			{old, 1, 100, 0, 1, 100},
			{recreated, 1, 40, 0, 2, 140},   // seq back to 1: a new log, not lost events
			{recreated, 51, 10, 10, 2, 150}, // 41..50 never arrived
		} {
			key := fmt.Sprintf("loiret-gien:%d-%d", p.first, p.first+p.n-1)
			if code, msg, _ := post(t, hs.URL, token, key, p.gen, batch("loiret-gien", p.first, p.n, at)); code != 200 {
				t.Fatalf("%d %s", code, msg)
			}
			f, err := s.Fleet(t.Context(), FleetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			k := f.Kiosks[0]
			if k.Holes != p.wantHoles || len(k.Generations) != p.wantLogs || k.Events != p.wantEvents {
				t.Errorf("after %s: holes %d logs %d events %d", key, k.Holes, len(k.Generations), k.Events)
			}
		}
	})
}
