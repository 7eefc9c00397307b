package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const day = 24 * time.Hour

// errDurationHint ends every message about a badly written duration.
const errDurationHint = "(use 90s, 3m, 2h or 395d)"

// maxDuration is the longest duration the config takes, whatever the key:
// beyond ten years a number is a typing mistake (and soon overflows).
const maxDuration = 3650 * day

// goDuration is how Go writes a duration, whatever its size: a number
// that matches it but does not parse is too big.
var goDuration = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))*$`)

// UnmarshalText reads a duration such as "90s", "1h30m" or "395d". A number
// of days may come first and be followed by a Go duration ("1d12h").
// Negative durations are refused: nothing in the config can last less than
// nothing. Whether zero is allowed is up to each setting.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := parseDuration(string(text))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes a whole number of days as "395d" and anything else as
// Go does, without trailing zero units ("1m30s", "3m", "2h"), so that
// UnmarshalText reads it back unchanged.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// String is the duration as MarshalText writes it.
func (d Duration) String() string {
	v := time.Duration(d)
	if v > 0 && v%day == 0 {
		return strconv.FormatInt(int64(v/day), 10) + "d"
	}
	t := v.String()
	if strings.HasSuffix(t, "m0s") {
		t = t[:len(t)-2]
	}
	if strings.HasSuffix(t, "h0m") {
		t = t[:len(t)-2]
	}
	return t
}

func parseDuration(s string) (time.Duration, error) {
	d, err := parseAnyDuration(s)
	if err == nil && d > maxDuration {
		err = errTooLong(s)
	}
	return d, err
}

func errTooLong(s string) error {
	return fmt.Errorf("%q is too long (at most %s, ten years)", s, Duration(maxDuration))
}

func parseAnyDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration %s", s, errDurationHint)
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("the duration is empty " + errDurationHint)
	}
	if t[0] == '-' {
		return 0, fmt.Errorf("%q is negative: a duration here must be positive %s", s, errDurationHint)
	}
	t = strings.TrimPrefix(t, "+")
	var days time.Duration
	if i := strings.IndexByte(t, 'd'); i >= 0 {
		n, err := strconv.ParseUint(t[:i], 10, 64)
		if errors.Is(err, strconv.ErrRange) || err == nil && n > uint64(math.MaxInt64/int64(day)) {
			return 0, errTooLong(s)
		}
		if err != nil || i == 0 {
			return 0, bad
		}
		days = time.Duration(n) * day
		t = t[i+1:]
		if t == "" {
			return days, nil
		}
	}
	if t == "" || !(t[0] == '.' || t[0] >= '0' && t[0] <= '9') {
		return 0, bad
	}
	v, err := time.ParseDuration(t)
	if err != nil && goDuration.MatchString(t) {
		return 0, errTooLong(s) // time.ParseDuration: "invalid duration"
	}
	if err != nil {
		return 0, bad
	}
	if v > math.MaxInt64-days {
		return 0, errTooLong(s)
	}
	return days + v, nil
}
