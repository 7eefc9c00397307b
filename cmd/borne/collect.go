package main

import (
	"context"
	"errors"
	"flag"
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

// collectorFlag is the --config flag of every collect command.
func collectorFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "the collector's config (default "+defaultCollectorConfig+")")
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
	cfgPath := collectorFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadCollector(*cfgPath)
	if err != nil {
		return err
	}
	return withStore("collect serve", cfg, func(ctx context.Context, s *collect.Store) error {
		logf := func(format string, args ...any) { fmt.Fprintf(e.stderr, "borne collect: "+format+"\n", args...) }
		srv := collect.NewServer(cfg, s, logf)
		scheme := "http"
		if cfg.TLSCert != "" {
			scheme = "https"
		}
		return srv.Serve(ctx, func(addr string) {
			logf("listening on %s://%s%s (%s database)", scheme, addr, collect.EventsPath, s.Engine())
		})
	})
}

// withStore opens the collector's database and runs f with it until a
// signal ends the command; what names the command in errors.
func withStore(what string, cfg *collect.Config, f func(context.Context, *collect.Store) error) error {
	ctx, cancel := signalContext()
	defer cancel()
	s, err := collect.Open(ctx, cfg.Database)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer s.Close()
	err = f(ctx, s)
	var code exitStatus
	if err == nil || errors.As(err, &code) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// checkFormat refuses an output format the tables do not write.
func checkFormat(what, format string) error {
	switch format {
	case collect.FormatTable, collect.FormatCSV, collect.FormatJSON:
		return nil
	}
	return usagef("%s: --format %q: use table, csv or json", what, format)
}

func (e env) collectStats(args []string) error {
	fs := newFlags("collect stats")
	cfgPath := collectorFlag(fs)
	from := fs.String("from", "", "first day counted, YYYY-MM-DD")
	to := fs.String("to", "", "last day counted, YYYY-MM-DD")
	format := fs.String("format", "table", "table, csv or json")
	by := fs.String("by", "day", "day or month")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkFormat("collect stats", *format); err != nil {
		return err
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
	return withStore("collect stats", cfg, func(ctx context.Context, s *collect.Store) error {
		st, err := s.Stats(ctx, o)
		if err != nil {
			return err
		}
		return st.Write(e.stdout, *format)
	})
}

func (e env) collectFleet(args []string) error {
	fs := newFlags("collect fleet")
	cfgPath := collectorFlag(fs)
	format := fs.String("format", "table", "table, csv or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkFormat("collect fleet", *format); err != nil {
		return err
	}
	cfg, err := loadCollector(*cfgPath)
	if err != nil {
		return err
	}
	return withStore("collect fleet", cfg, func(ctx context.Context, s *collect.Store) error {
		f, err := s.Fleet(ctx, collect.FleetOptions{SyncInterval: cfg.SyncInterval.D()})
		if err != nil {
			return err
		}
		if err := f.Write(e.stdout, *format, cfg.Location()); err != nil {
			return err
		}
		return e.visits(f)
	})
}

// visits says which kiosks need a visit, and exits exitNeedsVisit when
// any does.
func (e env) visits(f collect.Fleet) error {
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
	cfgPath := collectorFlag(fs)
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
	return withStore("collect token "+verb, cfg, func(ctx context.Context, s *collect.Store) error {
		if verb == "revoke" {
			n, err := s.RevokeTokens(ctx, site)
			if err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("site %s has no token", site)
			}
			fmt.Fprintf(e.stderr, "revoked %d tokens of %s: its batches are refused from now on\n", n, site)
			return nil
		}
		token, err := s.AddToken(ctx, site)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "A new token for %s, shown this once: put it alone in the kiosk's usage.sync.token_file (mode 0600).\n%s\n", site, token)
		return nil
	})
}
