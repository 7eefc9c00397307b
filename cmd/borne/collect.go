package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/loiret/borne/collect"
	"github.com/loiret/borne/usage"
)

// defaultCollectorConfig is where the Département's collector keeps its
// config when --config is not given.
const defaultCollectorConfig = "/etc/borne/collector.toml"

// exitNeedsVisit is borne collect fleet's answer when a kiosk needs a
// visit: monitoring tells it from a failure (1) and bad usage (2).
const exitNeedsVisit = 3

func (e env) collectCmd(args []string) error {
	if len(args) == 0 {
		return usagef("collect: say serve, stats, fleet or token")
	}
	switch args[0] {
	case "serve":
		return e.collectServe(args[1:])
	case "stats":
		return e.collectStats(args[1:])
	case "fleet":
		return e.collectFleet(args[1:])
	case "token":
		return e.collectToken(args[1:])
	}
	return usagef("collect: unknown command %q (serve, stats, fleet or token)", args[0])
}

func loadCollector(path string) (*collect.Config, error) {
	if path == "" {
		path = defaultCollectorConfig
	}
	cfg, err := collect.LoadConfig(path)
	if err != nil {
		return nil, badConfig{err}
	}
	return cfg, nil
}

func (e env) collectServe(args []string) error {
	fs := newFlags("collect serve")
	cfgPath := fs.String("config", "", "the collector's config (default "+defaultCollectorConfig+")")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadCollector(*cfgPath)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	s, err := collect.Open(ctx, cfg.Database)
	if err != nil {
		return fmt.Errorf("collect serve: %w", err)
	}
	defer s.Close()
	logf := func(format string, args ...any) { fmt.Fprintf(e.stderr, "borne collect: "+format+"\n", args...) }
	srv := collect.NewServer(cfg, s, logf)
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	err = srv.Serve(ctx, func(addr string) {
		logf("listening on %s://%s%s (%s database)", scheme, addr, collect.EventsPath, s.Engine())
	})
	if err != nil {
		return fmt.Errorf("collect serve: %w", err)
	}
	return nil
}

func (e env) collectStats(args []string) error {
	fs := newFlags("collect stats")
	cfgPath := fs.String("config", "", "the collector's config (default "+defaultCollectorConfig+")")
	from := fs.String("from", "", "first day counted, YYYY-MM-DD")
	to := fs.String("to", "", "last day counted, YYYY-MM-DD")
	format := fs.String("format", "table", "table, csv or json")
	by := fs.String("by", "day", "day or month")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch *format {
	case collect.FormatTable, collect.FormatCSV, collect.FormatJSON:
	default:
		return usagef("collect stats: --format %q: use table, csv or json", *format)
	}
	if *by != usage.ByDay && *by != usage.ByMonth {
		return usagef("collect stats: --by %q: use day or month", *by)
	}
	cfg, err := loadCollector(*cfgPath)
	if err != nil {
		return err
	}
	loc := cfg.Location()
	o := collect.StatsOptions{Location: loc, By: *by}
	if *from != "" {
		if o.From, err = time.ParseInLocation(dateLayout, *from, loc); err != nil {
			return usagef("collect stats: --from %q: write the day as YYYY-MM-DD, like 2026-11-01", *from)
		}
	}
	if *to != "" {
		d, err := time.ParseInLocation(dateLayout, *to, loc)
		if err != nil {
			return usagef("collect stats: --to %q: write the day as YYYY-MM-DD, like 2026-11-30", *to)
		}
		o.To = d.AddDate(0, 0, 1) // the whole last day
	}
	if !o.From.IsZero() && !o.To.IsZero() && !o.From.Before(o.To) {
		return usagef("collect stats: --from %s is after --to %s", *from, *to)
	}
	ctx, cancel := signalContext()
	defer cancel()
	s, err := collect.Open(ctx, cfg.Database)
	if err != nil {
		return fmt.Errorf("collect stats: %w", err)
	}
	defer s.Close()
	st, err := s.Stats(ctx, o)
	if err != nil {
		return fmt.Errorf("collect stats: %w", err)
	}
	return st.Write(e.stdout, *format)
}

func (e env) collectFleet(args []string) error {
	fs := newFlags("collect fleet")
	cfgPath := fs.String("config", "", "the collector's config (default "+defaultCollectorConfig+")")
	format := fs.String("format", "table", "table, csv or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch *format {
	case collect.FormatTable, collect.FormatCSV, collect.FormatJSON:
	default:
		return usagef("collect fleet: --format %q: use table, csv or json", *format)
	}
	cfg, err := loadCollector(*cfgPath)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	s, err := collect.Open(ctx, cfg.Database)
	if err != nil {
		return fmt.Errorf("collect fleet: %w", err)
	}
	defer s.Close()
	f, err := s.Fleet(ctx, collect.FleetOptions{SyncInterval: cfg.SyncInterval.D()})
	if err != nil {
		return fmt.Errorf("collect fleet: %w", err)
	}
	if err := f.Write(e.stdout, *format, cfg.Location()); err != nil {
		return err
	}
	var visit []string
	for _, k := range f.Kiosks {
		if k.NeedsVisit {
			visit = append(visit, k.Site)
		}
	}
	if len(visit) > 0 {
		fmt.Fprintf(e.stderr, "borne: %d kiosks need a visit: %s\n", len(visit), strings.Join(visit, ", "))
		return exitStatus(exitNeedsVisit)
	}
	return nil
}

func (e env) collectToken(args []string) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "revoke") {
		return usagef("collect token: say add SITE or revoke SITE")
	}
	verb := args[0]
	fs := newFlags("collect token " + verb)
	cfgPath := fs.String("config", "", "the collector's config (default "+defaultCollectorConfig+")")
	// The site may come before or after the flags.
	rest := args[1:]
	var site string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		site, rest = rest[0], rest[1:]
	}
	want := 1
	if site != "" {
		want = 0
	}
	if err := parseArgs(fs, rest, want); err != nil {
		return err
	}
	if site == "" {
		site = fs.Arg(0)
	}
	if site == "" {
		return usagef("collect token %s: name the kiosk's site (its site.id)", verb)
	}
	if err := collect.CheckSite(site); err != nil {
		return usagef("collect token %s: %v", verb, err)
	}
	cfg, err := loadCollector(*cfgPath)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	s, err := collect.Open(ctx, cfg.Database)
	if err != nil {
		return fmt.Errorf("collect token %s: %w", verb, err)
	}
	defer s.Close()
	if verb == "revoke" {
		n, err := s.RevokeTokens(ctx, site)
		if err != nil {
			return fmt.Errorf("collect token revoke: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("collect token revoke: site %s has no token", site)
		}
		fmt.Fprintf(e.stderr, "revoked %d tokens of %s: its batches are refused from now on\n", n, site)
		return nil
	}
	token, err := s.AddToken(ctx, site)
	if err != nil {
		return fmt.Errorf("collect token add: %w", err)
	}
	fmt.Fprintf(e.stdout, "A new token for %s, shown this once: put it alone in the kiosk's usage.sync.token_file (mode 0600).\n%s\n", site, token)
	return nil
}
