package collect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	_ "time/tzdata" // the Département's zone works on boxes without tzdata

	toml "github.com/pelletier/go-toml/v2"

	"github.com/loiret/borne/config"
)

// Config is collector.toml (README, "The Département's collector").
type Config struct {
	Path string `toml:"-"`

	// Listen is the address the kiosks POST to (http(s)://Listen/v1/events).
	Listen string `toml:"listen"`
	// TLSCert and TLSKey are PEM files; both empty: plain HTTP, for
	// loopback or behind a reverse proxy that does TLS.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// Database is a SQLite file, or a postgres:// URL.
	Database string `toml:"database"`
	// Timezone is the Département's, where stats' days and months begin.
	Timezone string `toml:"timezone"`
	// Retention is how long events are kept; older ones are purged daily.
	Retention config.Duration `toml:"retention"`
	// SyncInterval is the kiosks' usage.sync.interval: a kiosk silent for
	// three of them needs a visit.
	SyncInterval config.Duration `toml:"sync_interval"`
	// ReadTimeout bounds the reading of one request, body included, so
	// that a client trickling bytes cannot hold a slot.
	ReadTimeout config.Duration `toml:"read_timeout"`
	// MaxRequests is how many batches are taken at once; more get 429.
	MaxRequests int `toml:"max_requests"`

	loc *time.Location
}

// Defaults of Config.
const (
	DefaultListen       = "127.0.0.1:8440"
	DefaultTimezone     = "Europe/Paris"
	DefaultRetention    = 760 * 24 * time.Hour // 25 months, the CNIL's guidance for audience figures
	DefaultSyncInterval = 15 * time.Minute     // the kiosks' default
	DefaultReadTimeout  = 2 * time.Minute      // a 1 MiB batch over a weak mobile link
	DefaultMaxRequests  = 32
)

// Location is the Département's time zone.
func (c *Config) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// IsPostgres tells whether Database names a PostgreSQL database.
func (c *Config) IsPostgres() bool { return isPostgresURL(c.Database) }

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// LoadConfig reads and checks collector.toml. Its errors are a
// config.Errors, each naming FILE:LINE:COL.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, config.Errors{{File: path, Msg: "cannot read the collector's config: " + plainErr(err)}}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, config.Errors{{File: path, Msg: "cannot read the collector's config: " + plainErr(err)}}
	}
	return ParseConfig(path, data)
}

// ParseConfig is LoadConfig on data; file names it in errors.
func ParseConfig(file string, data []byte) (*Config, error) {
	c := &Config{
		Listen:       DefaultListen,
		Timezone:     DefaultTimezone,
		Retention:    config.Duration(DefaultRetention),
		SyncInterval: config.Duration(DefaultSyncInterval),
		ReadTimeout:  config.Duration(DefaultReadTimeout),
		MaxRequests:  DefaultMaxRequests,
	}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, config.Errors{decodeError(file, data, err)}
	}
	c.Path = file
	var errs config.Errors
	bad := func(key, format string, args ...any) {
		line, col := keyPos(data, key)
		errs = append(errs, &config.Error{File: file, Line: line, Col: col, Msg: key + ": " + fmt.Sprintf(format, args...)})
	}
	if c.Listen == "" {
		bad("listen", "is empty: give the address the kiosks post to, like %q", DefaultListen)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert", "tls_cert and tls_key go together: give both files, or neither for plain HTTP")
	}
	if c.Database == "" {
		bad("database", "is empty: give a SQLite file or a postgres:// URL")
	}
	if loc, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" {
		bad("timezone", "%q is not a known time zone (like %q)", c.Timezone, DefaultTimezone)
	} else {
		c.loc = loc
	}
	if c.Retention.D() < 24*time.Hour {
		bad("retention", "%s is less than a day: the purge runs daily", c.Retention)
	}
	if c.SyncInterval.D() <= 0 {
		bad("sync_interval", "must be more than zero (the kiosks' usage.sync.interval, like \"15m\")")
	}
	if c.ReadTimeout.D() <= 0 {
		bad("read_timeout", "must be more than zero, like \"2m\"")
	}
	if c.MaxRequests < 1 {
		bad("max_requests", "must be 1 or more")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// decodeError places a TOML error: a syntax error, an unknown key or a
// value of the wrong type.
func decodeError(file string, data []byte, err error) *config.Error {
	var se *toml.StrictMissingError
	if errors.As(err, &se) && len(se.Errors) > 0 {
		first := se.Errors[0]
		line, col := first.Position()
		key := strings.Join(first.Key(), ".")
		return &config.Error{File: file, Line: line, Col: col, Msg: fmt.Sprintf("unknown key %q (known: listen, tls_cert, tls_key, database, timezone, retention, sync_interval, read_timeout, max_requests)", key)}
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return &config.Error{File: file, Line: line, Col: col, Msg: de.Error()}
	}
	return &config.Error{File: file, Msg: err.Error()}
}

// keyPos finds where key is set in the flat collector.toml; 1:1 when it is
// not (a default is at fault).
func keyPos(data []byte, key string) (line, col int) {
	for i, l := range strings.Split(string(data), "\n") {
		t := strings.TrimLeft(l, " \t")
		if rest, ok := strings.CutPrefix(t, key); ok && strings.HasPrefix(strings.TrimLeft(rest, " \t"), "=") {
			return i + 1, len(l) - len(t) + 1
		}
	}
	return 1, 1
}

func plainErr(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "there is no such file"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
