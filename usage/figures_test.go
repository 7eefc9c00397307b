package usage

import (
	"path/filepath"
	"testing"
	"time"
)

func TestFigures(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "u.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	day := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	rec := func(at time.Time, e Event) {
		e.At, e.Site, e.Place = at, "t", "Gien"
		if _, err := s.Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	rec(day, Event{Kind: KindSessionStarted, Operator: "caf"})
	rec(day, Event{Kind: KindSessionEnded, Operator: "caf", Outcome: OutcomeCompleted, DurationMS: 1000})
	rec(day, Event{Kind: KindSessionStarted, Operator: "cpam"})
	rec(day, Event{Kind: KindSessionEnded, Operator: "cpam", Outcome: OutcomeFailed})
	rec(day, Event{Kind: KindSurvey, Operator: "caf", Detail: map[string]any{"score": 4}})
	rec(day, Event{Kind: KindSurvey, Operator: "caf", Detail: map[string]any{"score": 5}})
	rec(day, Event{Kind: KindPrintJob, Outcome: OutcomePrinted, Detail: map[string]any{"pages": 1}})
	rec(day, Event{Kind: KindPrintJob, Outcome: OutcomeFailed, Detail: map[string]any{"pages": 1}})
	rec(day, Event{Kind: KindHardwareFault, Detail: map[string]any{"device": "camera", "reason": "unplugged"}})
	rec(day.AddDate(0, 0, -2), Event{Kind: KindSessionStarted, Operator: "caf"})
	// An agent's trial call is no citizen's.
	rec(day, Event{Kind: KindSessionStarted, Operator: "essai", Detail: map[string]any{"test": true}})
	rec(day, Event{Kind: KindSessionEnded, Operator: "essai", Outcome: OutcomeCompleted, Detail: map[string]any{"test": true}})

	f, err := s.Figures(t.Context(), day.Add(-time.Hour), day.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if f.Calls != 2 || f.Completed != 1 || f.Prints != 1 || f.Surveys != 2 || f.ScoreSum != 9 {
		t.Fatalf("figures %+v", f)
	}
	if len(f.Faults) != 1 || f.Faults[0] != (Fault{At: day, Device: "camera", Reason: "unplugged"}) {
		t.Fatalf("faults %v", f.Faults)
	}
	month, _ := s.Figures(t.Context(), day.AddDate(0, 0, -26), day.Add(time.Hour))
	if month.Calls != 3 {
		t.Fatalf("month calls %d", month.Calls)
	}
}
