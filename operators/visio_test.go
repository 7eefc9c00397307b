package operators

import (
	"strings"
	"testing"
)

func TestEndMatches(t *testing.T) {
	for _, c := range []struct {
		end, url string
		want     bool
	}{
		{"https://meet.example/static/close", "https://meet.example/static/close.html", true},
		{"https://meet.example/static/close", "https://meet.example/static/close2.html?x=1#y", true},
		{"https://meet.example/static/close", "https://meet.example/room", false},
		{"https://meet.example/static/close", "https://other.example/static/close.html", false},
		// A site's root is its welcome page, not every page of the site.
		{"https://meet.example/", "https://meet.example/", true},
		{"https://meet.example/", "https://meet.example", true},
		{"https://meet.example/", "https://meet.example/#thanks", true},
		{"https://meet.example/", "https://meet.example/room", false},
		{"https://meet.example/static/close*.html", "https://meet.example/static/close3.html", true},
		{"https://meet.example/static/close*.html", "https://meet.example/static/close3.htm", false},
		{"https://bbb.example/*/logout*", "https://bbb.example/b/logout?x", true},
		{"https://bbb.example/*/logout*", "https://bbb.example/b/room", false},
		{"https://a.example/x*y*y", "https://a.example/xy", false},
		{"https://a.example/x*y*y", "https://a.example/xyy", true},
	} {
		if got := EndMatches(c.end, c.url); got != c.want {
			t.Errorf("EndMatches(%q, %q) = %v, want %v", c.end, c.url, got, c.want)
		}
	}
}

func TestCheckVisio(t *testing.T) {
	for _, c := range []struct {
		s        string
		loopback bool
		end      bool
		err      string
	}{
		{"https://visio.example/caf", false, false, ""},
		{"http://visio.example/caf", true, false, "must use https"},
		{"http://127.0.0.1:8080/caf", false, false, "allow_loopback_http"},
		{"http://127.0.0.1:8080/caf", true, false, ""},
		{"visio.example/caf", false, false, "not a web address"},
		{"https://visio.example/c*f", false, false, "not a web address"},
		{"https://visio.example/close*", false, true, ""},
		{"https://*.example/close", false, true, "only stand in the path"},
		{"https://visio*", false, true, "only stand in the path"},
	} {
		check := CheckVisioURL
		if c.end {
			check = CheckVisioEnd
		}
		err := check(c.s, c.loopback)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.s, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one saying %q", c.s, err, c.err)
		}
	}
}

func TestVisioOrLaunch(t *testing.T) {
	if _, err := New(Spec{ID: "x", Name: "X", VisioURL: "https://v.example/x", Launch: []string{"/bin/true"}}, nil); err == nil {
		t.Error("an operator with both launch and visio_url was accepted")
	}
	if _, err := New(Spec{ID: "x", Name: "X", VisioEnd: []string{"https://v.example/end"}}, nil); err == nil {
		t.Error("visio_end without visio_url was accepted")
	}
	// A site gives a built-in partner its native client: the visio goes.
	ops := mustBuild(t, []string{"caf"}, []Spec{{ID: "caf", Launch: []string{"/usr/bin/partner"}}})
	if ops[0].IsVisio() || len(ops[0].Launch) != 1 || !ops[0].Callable() {
		t.Errorf("native override: %+v", ops[0])
	}
	// And a site's real visio address replaces the example, end included.
	ops = mustBuild(t, []string{"caf"}, []Spec{{ID: "caf", VisioURL: "https://meet.example/caf", VisioEnd: []string{"https://meet.example/"}}})
	if ops[0].VisioURL != "https://meet.example/caf" || !ops[0].IsEnd("https://meet.example/") || ops[0].IsEnd("https://visio.example/static/close") {
		t.Errorf("visio override: %+v", ops[0])
	}
	if o, _ := Origin("https://meet.example:8443/static/close*"); o != "https://meet.example:8443" {
		t.Errorf("Origin = %q", o)
	}
}
