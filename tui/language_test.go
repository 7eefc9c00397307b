package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/loiret/borne/config"
)

// The attract screen invites in every language the site speaks.
func TestAttractSpeaksEveryLanguage(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.send(attractMsg{h.m.gen})
	v := plain(h.m)
	if !strings.Contains(v, "Touchez l'écran pour commencer") || !strings.Contains(v, "Touch the screen to start") {
		t.Fatalf("attract screen:\n%s", v)
	}
}

// After a call's survey, in whatever way it ends, the next person finds
// the site's language; the contrast chosen stays until the idle reset.
func TestSurveyGivesTheKioskBackInItsLanguage(t *testing.T) {
	ends := map[string]func(h *harness){
		"score":   func(h *harness) { h.tap("score:5") },
		"skip":    func(h *harness) { h.tap(idSkip) },
		"timeout": func(h *harness) { h.fire(func(m tea.Msg) bool { _, ok := m.(afterTimeoutMsg); return ok }) },
	}
	for name, end := range ends {
		h := newHarness(t, 100, 30)
		h.tap(idLang)
		h.tap(idContrast)
		h.tap("op:0")
		h.tap(idCall)
		h.until("in call", screenIs("in-call"))
		h.advance(time.Minute)
		h.tap(idEnd)
		h.until("after", screenIs("after-call"))
		if h.m.Lang() != "en" || !strings.Contains(plain(h.m), "How did your conversation go?") {
			t.Fatalf("%s: the survey is not in the citizen's language", name)
		}
		end(h)
		if h.m.Screen() != "home" || h.m.Lang() != "fr" || h.m.Theme() != "high-contrast" {
			t.Errorf("%s: after the survey: %s in %s, theme %s", name, h.m.Screen(), h.m.Lang(), h.m.Theme())
		}
	}
}

func TestPluralsAndNumbersFollowTheLanguage(t *testing.T) {
	for _, c := range []struct {
		lang, key string
		n         int
		want      string
	}{
		{"fr", "n.prints", 0, "0 impression"},
		{"fr", "n.prints", 1, "1 impression"},
		{"fr", "n.prints", 2, "2 impressions"},
		{"en", "n.prints", 0, "0 prints"},
		{"en", "n.prints", 1, "1 print"},
		{"en", "n.prints", 2, "2 prints"},
		{"fr", "n.minutes", 1, "1 minute"},
		{"en", "n.minutes", 4, "4 minutes"},
	} {
		if got := plural(c.lang, c.key, c.n); got != c.want {
			t.Errorf("plural(%s, %s, %d) = %q, want %q", c.lang, c.key, c.n, got, c.want)
		}
	}
	h := newHarness(t, 100, 30)
	x := Figures{Calls: 1, Completed: 1, Prints: 1, Surveys: 2, ScoreSum: 9}
	if got := h.m.figuresLine("Aujourd'hui", x); got != "Aujourd'hui : 1 appel (1 mené à terme), 1 impression, 2 avis (moyenne 4,5)" {
		t.Errorf("French figures: %q", got)
	}
	h.m.lang = "en"
	if got := h.m.figuresLine("Today", x); got != "Today: 1 call (1 completed), 1 print, 2 ratings (average 4.5)" {
		t.Errorf("English figures: %q", got)
	}
}

// The last minute of a call says "1 minute", in each language.
func TestInCallWarningSaysOneMinute(t *testing.T) {
	for lang, want := range map[string]string{"fr": "dans 1 minute.", "en": "in 1 minute."} {
		h := newHarnessCfg(t, 100, 30, tuesday, inBothLanguages(lang))
		h.tap("op:0")
		h.tap(idCall)
		h.until("in call", screenIs("in-call"))
		h.advance(44*time.Minute + 30*time.Second)
		h.send(callTickMsg{h.m.call.gen})
		if !strings.Contains(plain(h.m), want) {
			t.Errorf("%s: no %q:\n%s", lang, want, plain(h.m))
		}
	}
}

// A call cut at max_session says why, in each language.
func TestCallCutAtMaxSessionSaysWhy(t *testing.T) {
	for lang, want := range map[string]string{
		"fr": "L'appel a été arrêté après 30 minutes",
		"en": "The call was stopped after 30 minutes",
	} {
		h := newHarnessCfg(t, 80, 24, tuesday, func(c *config.Config) {
			inBothLanguages(lang)(c)
			c.Kiosk.MaxSession = config.Duration(30 * time.Minute)
		})
		h.tap("op:0")
		h.tap(idCall)
		h.until("in call", screenIs("in-call"))
		h.advance(30 * time.Minute)
		h.send(callTickMsg{h.m.call.gen})
		h.until("after", screenIs("after-call"))
		if v := words(plain(h.m)); !strings.Contains(v, want) {
			t.Errorf("%s: no %q:\n%s", lang, want, plain(h.m))
		}
	}
	// A call the adviser ends says nothing of the kind.
	h := newHarness(t, 80, 24)
	h.tap("op:0")
	h.tap(idCall)
	h.until("in call", screenIs("in-call"))
	h.tap(idEnd)
	h.until("after", screenIs("after-call"))
	if strings.Contains(plain(h.m), "arrêté après") {
		t.Fatalf("an ordinary end says it was cut:\n%s", plain(h.m))
	}
}
