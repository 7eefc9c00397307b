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
// month, over a change of time (25 October) and bounds cutting days: from
// the roll-up kept batch by batch, from the events when the roll-up counts
// another zone's days, and from the roll-up built again from the events.
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
		check := func(t *testing.T) {
			for _, o := range []StatsOptions{
				{By: usage.ByDay, Location: loc},
				{By: usage.ByMonth, Location: loc},
				{By: usage.ByDay, Location: loc, From: time.Date(2026, 10, 24, 0, 0, 0, 0, loc), To: time.Date(2026, 10, 27, 0, 0, 0, 0, loc)},
				{By: usage.ByDay, Location: loc, From: time.Date(2026, 10, 24, 13, 30, 0, 0, loc), To: time.Date(2026, 10, 26, 2, 15, 0, 0, loc)},
				{By: usage.ByMonth, Location: loc, From: time.Date(2026, 10, 25, 1, 0, 0, 0, loc)},
				{By: usage.ByDay, Location: loc, To: time.Date(2026, 10, 25, 23, 59, 59, 0, loc)},
				{By: usage.ByDay, Location: loc, From: time.Date(2026, 10, 25, 9, 0, 0, 0, loc), To: time.Date(2026, 10, 25, 17, 0, 0, 0, loc)},
			} {
				matchKiosks(t, s, kiosks, o)
			}
		}
		t.Run("kept", check)
		if built, err := s.KeepDaily(ctx, time.UTC); err != nil || !built {
			t.Fatal(built, err)
		}
		t.Run("another zone's roll-up", check)
		if built, err := s.KeepDaily(ctx, loc); err != nil || !built {
			t.Fatal(built, err)
		}
		t.Run("rebuilt", check)
	})
}

// matchKiosks checks the fleet's stats against each kiosk's own.
func matchKiosks(t *testing.T, s *Store, kiosks []*kiosk, o StatsOptions) {
	t.Helper()
	ctx := context.Background()
	fleet, err := s.Stats(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var sessions int
	var durations int64
	for _, k := range kiosks {
		own, err := k.log.Stats(ctx, usage.StatsOptions{From: o.From, To: o.To, Location: o.Location, By: o.By})
		if err != nil {
			t.Fatal(err)
		}
		sessions += own.Total.Sessions
		durations += own.Total.TotalDurationMS
		var mine []StatsRow
		for _, r := range fleet.Rows {
			if r.Site == k.site {
				mine = append(mine, r)
			}
		}
		if len(mine) != len(own.Rows) || len(own.Rows) == 0 {
			t.Fatalf("%s by %s from %v to %v: %d rows, the kiosk has %d", k.site, o.By, o.From, o.To, len(mine), len(own.Rows))
		}
		for i, r := range own.Rows {
			want := StatsRow{Period: r.Period, Site: k.site, Place: k.place, Operator: r.Operator, Sessions: r.Sessions, Completed: r.Completed,
				MedianDurationMS: r.MedianDurationMS, TotalDurationMS: r.TotalDurationMS, Surveys: r.Surveys, SurveyAverage: r.SurveyAverage, PrintJobs: r.PrintJobs}
			if fmt.Sprint(deref(mine[i])) != fmt.Sprint(deref(want)) {
				t.Errorf("%s by %s from %v to %v row %d:\n got %v\nwant %v", k.site, o.By, o.From, o.To, i, deref(mine[i]), deref(want))
			}
		}
	}
	if fleet.Total.Sessions != sessions || fleet.Total.TotalDurationMS != durations {
		t.Errorf("total sessions %d (%d ms), kiosks %d (%d ms)", fleet.Total.Sessions, fleet.Total.TotalDurationMS, sessions, durations)
	}
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
