package operators

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ExampleVisioHost is the host of the built-in catalog's visio addresses:
// examples a site replaces with its partners' real ones.
const ExampleVisioHost = "visio.example"

// A visio_end entry says when a call is over: the browser's main frame
// reaching a matching address. An entry with "*" is a pattern over the
// whole address, "*" standing for any run of characters
// ("https://meet.example/static/close*.html"); an entry without "*" is a
// prefix ("https://visio.example/static/close" matches
// ".../static/close.html?x=1"), except a site's root ("https://meet.example/"),
// which matches only itself: it is a welcome page, not every page of the
// site. The fragment (#…) of an address is never compared.

// CheckVisioURL checks a partner's visio address: an absolute https
// address, or http on the loopback when loopbackHTTP (tests).
func CheckVisioURL(s string, loopbackHTTP bool) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || strings.ContainsAny(s, " \t\r\n*") {
		return fmt.Errorf("%q is not a web address (write it like \"https://visio.example/caf\")", s)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopbackHTTP && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return fmt.Errorf("%q: a visio address must use https (http on 127.0.0.1 only with [hardware.browser] allow_loopback_http = true, for tests)", s)
	}
	return fmt.Errorf("%q: a visio address must use https", s)
}

// CheckVisioEnd checks one visio_end entry: an address as for visio_url,
// with "*" allowed only after the host.
func CheckVisioEnd(s string, loopbackHTTP bool) error {
	if i := strings.Index(s, "*"); i >= 0 {
		u, err := url.Parse(s[:i])
		if err != nil || u.Host == "" || !strings.HasPrefix(s[i:], "*") || !hostDone(s[:i]) {
			return fmt.Errorf("%q: \"*\" may only stand in the path of an end address, like \"https://meet.example/static/close*\"", s)
		}
		return CheckVisioURL(s[:i], loopbackHTTP)
	}
	return CheckVisioURL(s, loopbackHTTP)
}

// hostDone tells whether the prefix s already holds the whole host: a "/"
// follows the scheme's "//".
func hostDone(s string) bool {
	_, rest, ok := strings.Cut(s, "//")
	return ok && strings.Contains(rest, "/")
}

func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "localhost" || host == "::1"
}

// EndMatches tells whether address u is the end of a call by entry end.
func EndMatches(end, u string) bool {
	u, _, _ = strings.Cut(u, "#")
	end, _, _ = strings.Cut(end, "#")
	if strings.Contains(end, "*") {
		return globMatch(end, u)
	}
	if p, err := url.Parse(end); err == nil && (p.Path == "" || p.Path == "/") && p.RawQuery == "" {
		return strings.TrimSuffix(u, "/") == strings.TrimSuffix(end, "/")
	}
	return strings.HasPrefix(u, end)
}

// globMatch matches s against pattern, "*" standing for any run of
// characters (slashes included, unlike path.Match).
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

// IsVisio tells whether the operator's call is a web visio the shell opens
// in its browser, rather than a native client.
func (o Operator) IsVisio() bool { return o.VisioURL != "" }

// IsEnd tells whether address u means the operator's call is over.
func (o Operator) IsEnd(u string) bool {
	for _, e := range o.VisioEnd {
		if EndMatches(e, u) {
			return true
		}
	}
	return false
}

// Origin returns the scheme://host[:port] of an address or end entry.
func Origin(s string) (string, error) {
	if i := strings.Index(s, "*"); i >= 0 {
		s = s[:i]
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", errors.New("no origin in " + s)
	}
	return u.Scheme + "://" + u.Host, nil
}
