package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// AuthorizedKey is one line of remote.authorized_keys: the key and the
// options of it that remote help honours, as sshd does.
type AuthorizedKey struct {
	Key     ssh.PublicKey
	Comment string
	// From holds the patterns of from="…": the client's address must match
	// one and none of the negated ("!…") ones; empty: any address.
	// A pattern is an address with * and ? wildcards, or a CIDR block.
	From []string
	// Expiry is expiry-time="…": the key is refused from then on; zero:
	// never.
	Expiry time.Time
}

// harmlessOptions are the authorized_keys options that remote help obeys
// by what it is: it never forwards anything, never runs a command or an rc
// file, and its only channel is the read-only view (or maintenance behind
// the PIN) in a terminal.
var harmlessOptions = []string{"restrict", "no-port-forwarding", "no-agent-forwarding", "no-x11-forwarding", "no-user-rc", "pty"}

// ParseAuthorizedKey reads one line of remote.authorized_keys, as in an
// authorized_keys file: [options] type base64 [comment]. It honours
// from="…" and expiry-time="…" (YYYYMMDD[HHMM[SS]], in loc unless it ends
// in Z; sshd reads it in the system's time zone, time.Local) and refuses
// any option it cannot honour, naming it.
func ParseAuthorizedKey(line string, loc *time.Location) (AuthorizedKey, error) {
	var k AuthorizedKey
	key, comment, opts, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return k, errors.New(`is not a public key line (like "ssh-ed25519 AAAA… technicien@loiret", as in a .pub file)`)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return k, errors.New("holds more than one key: write one key per string")
	}
	k.Key, k.Comment = key, comment
	for _, o := range opts {
		name, value, quoted := strings.Cut(o, "=")
		name = strings.ToLower(name)
		value = strings.Trim(value, `"`)
		switch {
		case name == "from" && quoted:
			if k.From, err = fromPatterns(value); err != nil {
				return k, err
			}
		case name == "expiry-time" && quoted:
			if k.Expiry, err = expiryTime(value, loc); err != nil {
				return k, err
			}
		case !quoted && containsFold(harmlessOptions, name):
		default:
			return k, fmt.Errorf("option %q is not one remote help can honour (from=, expiry-time= and %s are)", name, strings.Join(harmlessOptions, ", "))
		}
	}
	return k, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func fromPatterns(list string) ([]string, error) {
	var pats []string
	for p := range strings.SplitSeq(list, ",") {
		p = strings.TrimSpace(p)
		bare := strings.TrimPrefix(p, "!")
		switch {
		case bare == "":
			return nil, fmt.Errorf(`from="%s": an empty pattern`, list)
		case strings.Contains(bare, "/"):
			if _, _, err := net.ParseCIDR(bare); err != nil {
				return nil, fmt.Errorf(`from="%s": %q is not an address block (like 192.0.2.0/24)`, list, bare)
			}
		default:
			if _, err := path.Match(bare, ""); err != nil || strings.ContainsAny(bare, "[]") {
				return nil, fmt.Errorf(`from="%s": %q is not an address pattern (like 192.0.2.* or 2001:db8::1)`, list, bare)
			}
		}
		pats = append(pats, p)
	}
	return pats, nil
}

func expiryTime(v string, loc *time.Location) (time.Time, error) {
	utc := strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z")
	digits := strings.TrimRight(v, "Zz")
	layouts := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(digits)]
	if loc == nil || utc {
		loc = time.UTC
	}
	t, err := time.ParseInLocation(layout, digits, loc)
	if !ok || err != nil {
		return time.Time{}, fmt.Errorf(`expiry-time="%s" is not a date (YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, Z at the end for UTC)`, v)
	}
	return t, nil
}

// Allows says whether the key may log in from ip at now: not expired, and
// ip matching from="…" (sshd's rule: no negated pattern matches, and some
// other does).
func (k AuthorizedKey) Allows(ip net.IP, now time.Time) error {
	if !k.Expiry.IsZero() && !now.Before(k.Expiry) {
		return fmt.Errorf("the key expired on %s (expiry-time)", k.Expiry.Format(time.DateTime))
	}
	if len(k.From) == 0 {
		return nil
	}
	allowed := false
	for _, p := range k.From {
		bare, negated := strings.CutPrefix(p, "!")
		if !matchAddr(bare, ip) {
			continue
		}
		if negated {
			return fmt.Errorf("%s is excluded by from=%q", ip, strings.Join(k.From, ","))
		}
		allowed = true
	}
	if !allowed {
		return fmt.Errorf("%s is not in from=%q", ip, strings.Join(k.From, ","))
	}
	return nil
}

func matchAddr(pattern string, ip net.IP) bool {
	if ip == nil {
		return false
	}
	if strings.Contains(pattern, "/") {
		_, block, err := net.ParseCIDR(pattern)
		return err == nil && block.Contains(ip)
	}
	s := ip.String()
	if v4 := ip.To4(); v4 != nil {
		s = v4.String()
	}
	ok, _ := path.Match(strings.ToLower(pattern), s)
	return ok
}

// remote checks [remote]. The keys are parsed here so that a typo in one
// is found by `borne config check`, not on the day a technician needs it;
// since remote help is optional, a key line it cannot honour and a host key
// others can read turn it off with a warning instead of refusing the whole
// config: the kiosk serves its citizens all the same.
func (v *validator) remote(c *Config) {
	r := &c.Remote
	if r.Listen != "" {
		host, port, err := net.SplitHostPort(r.Listen)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil || perr != nil || n < 1 || n > 65535:
			v.fail("remote.listen", `%q is not an address and a port (like "0.0.0.0:2222", or "" for no remote help)`, r.Listen)
		case host != "" && host != "localhost" && net.ParseIP(host) == nil:
			v.fail("remote.listen", `%q: write the address as digits (like "0.0.0.0:2222"), not a host name`, r.Listen)
		}
		if len(r.AuthorizedKeys) == 0 {
			v.missing("remote.authorized_keys", `when remote.listen is set (public keys, like ["ssh-ed25519 AAAA… technicien@loiret"])`)
		}
	}
	for i, line := range r.AuthorizedKeys {
		if _, err := ParseAuthorizedKey(line, time.Local); err != nil {
			v.remoteOff(r, "remote.authorized_keys["+strconv.Itoa(i)+"]", err.Error())
		}
	}
	if r.HostKey == "" {
		v.missing("remote.host_key", `(like "/var/lib/borne/ssh_host_ed25519_key")`)
		return
	}
	v.absPath("remote.host_key", r.HostKey, c.Hardware.Backend == "sim", "/var/lib/borne/ssh_host_ed25519_key")
	if v.files && r.Listen != "" {
		if err := CheckHostKey(r.HostKey); err != nil {
			v.remoteOff(r, "remote.host_key", err.Error())
		}
	}
}

// remoteOff turns remote help off, with a warning at path.
func (v *validator) remoteOff(r *Remote, path, msg string) {
	msg = path + ": " + msg + "; remote help is off until it is fixed"
	v.warns = append(v.warns, &Error{File: v.file, Line: v.d.posOf(path).line, Col: v.d.posOf(path).col, Msg: msg})
	if r.Off == "" {
		r.Off = msg
	}
}

// CheckHostKey checks the remote help's host key, when there is one yet
// (remote help makes it, readable by the kiosk's user only, on first
// start): a plain file no other user can read, as sshd wants. Whoever
// reads it can pass for the kiosk.
func CheckHostKey(p string) error {
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%q cannot be checked: %v", p, pathReason(err))
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%q is not a plain file", p)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%q can be read by other users (mode %04o): make it readable by the kiosk's user only (chmod 600), or remove it so that a new one is made", p, fi.Mode().Perm())
	}
	return nil
}
