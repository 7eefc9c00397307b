package usage

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func paris(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// statsLog records the events of TestStats: calls around the night the
// clocks go forward, in Paris.
func statsLog(t *testing.T) (*Store, string, *time.Location) {
	s, path := openTest(t)
	loc := paris(t)
	at := func(day, clock string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", day+" "+clock, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	rec := func(tm time.Time, kind, op, outcome string, sec int64, detail map[string]any) {
		mustRecord(t, s, Event{At: tm, Site: "loiret-gien", Place: "Gien", Kind: kind, Operator: op, Outcome: outcome, DurationMS: sec * 1000, Detail: detail})
	}
	// Saturday 28 March, late.
	rec(at("2026-03-28", "23:30"), KindSessionStarted, "caf", "", 0, nil)
	rec(at("2026-03-28", "23:40"), KindSessionEnded, "caf", OutcomeCompleted, 600, nil)
	// Sunday 29 March: 00:30 in Paris is still the 28th in UTC.
	for i, sec := range []int64{100, 300, 200, 400} {
		tm := at("2026-03-29", "00:30").Add(time.Duration(i) * 3 * time.Hour)
		rec(tm, KindSessionStarted, "caf", "", 0, nil)
		rec(tm.Add(time.Minute), KindSessionEnded, "caf", OutcomeCompleted, sec, nil)
	}
	rec(at("2026-03-29", "14:00"), KindSessionStarted, "caf", "", 0, nil)
	rec(at("2026-03-29", "14:01"), KindSessionEnded, "caf", OutcomeFailed, 5, nil)
	rec(at("2026-03-29", "14:05"), KindSessionEnded, "caf", OutcomeCancelled, 0, nil) // never connected
	rec(at("2026-03-29", "14:10"), KindSurvey, "caf", "", 0, map[string]any{"score": 4})
	rec(at("2026-03-29", "14:11"), KindSurvey, "caf", "", 0, map[string]any{"score": 5})
	rec(at("2026-03-29", "15:00"), KindPrintJob, "cpam", OutcomePrinted, 0, map[string]any{"pages": 1})
	rec(at("2026-03-29", "15:01"), KindPrintJob, "cpam", OutcomeFailed, 0, nil)
	rec(at("2026-03-29", "15:02"), KindPrintJob, "", OutcomePrinted, 0, nil)
	rec(at("2026-03-29", "15:03"), KindOperatorViewed, "adil", "", 0, nil) // not counted
	// Wednesday 1 April.
	rec(at("2026-04-01", "09:00"), KindSessionStarted, "cpam", "", 0, nil)
	rec(at("2026-04-01", "09:45"), KindSessionEnded, "cpam", OutcomeTimeout, 2700, nil)
	rec(at("2026-04-01", "09:46"), KindSurvey, "cpam", "", 0, map[string]any{"score": 3})
	return s, path, loc
}

func avg(f float64) *float64 { return &f }

func TestStats(t *testing.T) {
	s, path, loc := statsLog(t)
	byDay, err := s.Stats(bg, StatsOptions{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	want := []StatsRow{
		{Period: "2026-03-28", Operator: "caf", Sessions: 1, Completed: 1, MedianDurationMS: 600000, TotalDurationMS: 600000},
		{Period: "2026-03-29", Operator: "", PrintJobs: 1},
		{Period: "2026-03-29", Operator: "caf", Sessions: 5, Completed: 4, MedianDurationMS: 200000, TotalDurationMS: 1005000, Surveys: 2, SurveyAverage: avg(4.5)},
		{Period: "2026-03-29", Operator: "cpam", PrintJobs: 1},
		{Period: "2026-04-01", Operator: "cpam", Sessions: 1, MedianDurationMS: 2700000, TotalDurationMS: 2700000, Surveys: 1, SurveyAverage: avg(3)},
	}
	if !reflect.DeepEqual(byDay.Rows, want) {
		t.Errorf("by day:\n%+v\nwant\n%+v", byDay.Rows, want)
	}
	// Seven sessions that connected: the median is the fourth duration.
	wantTotal := StatsRow{Period: "total", Sessions: 7, Completed: 5, MedianDurationMS: 300000, TotalDurationMS: 4305000, Surveys: 3, SurveyAverage: avg(4), PrintJobs: 2}
	if !reflect.DeepEqual(byDay.Total, wantTotal) {
		t.Errorf("total %+v, want %+v", byDay.Total, wantTotal)
	}

	byMonth, err := StatsFile(bg, path, StatsOptions{Location: loc, By: ByMonth})
	if err != nil {
		t.Fatal(err)
	}
	wantMonth := []StatsRow{
		{Period: "2026-03", Operator: "", PrintJobs: 1},
		// Six durations: the mean of the third and fourth.
		{Period: "2026-03", Operator: "caf", Sessions: 6, Completed: 5, MedianDurationMS: 250000, TotalDurationMS: 1605000, Surveys: 2, SurveyAverage: avg(4.5)},
		{Period: "2026-03", Operator: "cpam", PrintJobs: 1},
		{Period: "2026-04", Operator: "cpam", Sessions: 1, MedianDurationMS: 2700000, TotalDurationMS: 2700000, Surveys: 1, SurveyAverage: avg(3)},
	}
	if !reflect.DeepEqual(byMonth.Rows, wantMonth) || !reflect.DeepEqual(byMonth.Total, wantTotal) {
		t.Errorf("by month:\n%+v\nwant\n%+v", byMonth.Rows, wantMonth)
	}

	// From the 29th to the 31st, in Paris: the 28th and April are out.
	from := time.Date(2026, 3, 29, 0, 0, 0, 0, loc)
	to := time.Date(2026, 4, 1, 0, 0, 0, 0, loc)
	some, err := s.Stats(bg, StatsOptions{Location: loc, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(some.Rows, want[1:4]) {
		t.Errorf("29 to 31 March: %+v", some.Rows)
	}
	// In UTC, the 00:30 call of the 29th falls on the 28th.
	utc, err := s.Stats(bg, StatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if utc.Rows[0].Period != "2026-03-28" || utc.Rows[0].Sessions != 2 {
		t.Errorf("UTC: %+v", utc.Rows[0])
	}
	if _, err := s.Stats(bg, StatsOptions{By: "week"}); err == nil {
		t.Error("by week accepted")
	}
	if _, err := StatsFile(bg, path+".missing", StatsOptions{}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestStatsFormats(t *testing.T) {
	s, _, loc := statsLog(t)
	st, err := s.Stats(bg, StatsOptions{Location: loc, By: ByMonth})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := st.Write(&table, FormatTable); err != nil {
		t.Fatal(err)
	}
	wantTable := `month    operator  sessions  completed   median    total  surveys  average  prints
2026-03  -                0          0  0:00:00  0:00:00        0        -       1
2026-03  caf              6          5  0:04:10  0:26:45        2     4.50       0
2026-03  cpam             0          0  0:00:00  0:00:00        0        -       1
2026-04  cpam             1          0  0:45:00  0:45:00        1     3.00       0
total    all              7          5  0:05:00  1:11:45        3     4.00       2
`
	if table.String() != wantTable {
		t.Errorf("table:\n%s\nwant:\n%s", table.String(), wantTable)
	}

	var c bytes.Buffer
	if err := st.Write(&c, FormatCSV); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || !reflect.DeepEqual(recs[0], StatsColumns) ||
		strings.Join(recs[2], ",") != "2026-03,caf,6,5,250000,1605000,2,4.50,0" ||
		strings.Join(recs[1], ",") != "2026-03,,0,0,0,0,0,,1" {
		t.Errorf("csv: %q", recs)
	}

	var j bytes.Buffer
	if err := st.Write(&j, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var back Stats
	if err := json.Unmarshal(j.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, st) {
		t.Errorf("json round trip:\n%s", j.String())
	}
	if !strings.Contains(j.String(), `"survey_average": null`) {
		t.Errorf("json: no survey is null, not 0:\n%s", j.String())
	}

	empty, err := s.Stats(bg, StatsOptions{From: time.Date(2030, 1, 1, 0, 0, 0, 0, loc)})
	if err != nil {
		t.Fatal(err)
	}
	table.Reset()
	empty.Write(&table, FormatTable)
	if !strings.Contains(table.String(), "no sessions, surveys or print jobs") {
		t.Errorf("empty table: %q", table.String())
	}
	if err := empty.Write(&table, "xml"); err == nil {
		t.Error("xml accepted")
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []int64
		want float64
	}{
		{nil, 0},
		{[]int64{5}, 5},
		{[]int64{3, 1}, 2},
		{[]int64{1, 2}, 1.5},
		{[]int64{9, 1, 5}, 5},
		{[]int64{1 << 40, 1<<40 + 1}, 1<<40 + 0.5},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
