package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/usage"
)

func (e env) logsCmd(args []string) error {
	if len(args) == 0 {
		return usagef("logs: say export, stats, sync or purge (see: borne logs --help)")
	}
	if isHelp(args[0]) {
		return helpFor("logs", nil)
	}
	switch args[0] {
	case "export":
		return e.exportCmd(args[1:])
	case "stats":
		return e.statsCmd(args[1:])
	case "sync":
		return e.syncCmd(args[1:])
	case "purge":
		return e.purgeCmd(args[1:])
	}
	return usagef("logs: unknown command %q (export, stats, sync or purge)", args[0])
}

// signalContext ends when a technician presses Ctrl+C or the system stops
// the command.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func (e env) exportCmd(args []string) error {
	fs := newFlags("logs export")
	cfgPath := fs.String("config", "", configUsage+", for usage.database")
	db := fs.String("db", "", "the usage log `FILE` (default: the config's usage.database)")
	format := fs.String("format", "ndjson", "the format: `ndjson|csv`")
	since := fs.Int64("since-seq", 0, "export the events after seq `N`")
	out := fs.String("out", "", "the `FILE` to write, in a folder that exists (default: standard output)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "ndjson" && *format != "csv" {
		return usagef("logs export: --format %q: use ndjson or csv", *format)
	}
	if *since < 0 {
		return usagef("logs export: --since-seq must be 0 or more")
	}
	path := *db
	if path == "" {
		cfg, err := e.loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		path = cfg.Usage.Database
	}
	opts := usage.ExportOptions{Format: *format, SinceSeq: *since}
	ctx, cancel := signalContext()
	defer cancel()
	if *out == "" {
		_, err := usage.ExportFile(ctx, path, e.stdout, opts)
		return err
	}
	sum, digest, note, err := exportAtomic(ctx, path, *out, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "exported %d events (seq %d to %d) to %s, sha256 %s\n",
		sum.Events, sum.FirstSeq, sum.LastSeq, *out, digest)
	if note != nil {
		fmt.Fprintf(e.stderr, "borne: the export is complete, but the log could not note it, so its events stay until synced or exported again: %v\n", note)
	}
	return nil
}

// exportAtomic writes the export beside its destination, syncs it and
// renames it, so a USB key pulled out too early never holds half a file.
// Once the file is in place it notes the export in the log, so that the
// retention purge may delete what it holds; note says why it could not
// (the export itself is fine then).
func exportAtomic(ctx context.Context, db, out string, o usage.ExportOptions) (sum usage.Summary, digest string, note, err error) {
	dir := filepath.Dir(out)
	if err := outputFolder(dir); err != nil {
		return usage.Summary{}, "", nil, fmt.Errorf("logs export: --out %s: %w", out, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".part-*")
	if err != nil {
		return usage.Summary{}, "", nil, fmt.Errorf("logs export: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	h := sha256.New()
	sum, err = usage.ExportFile(ctx, db, io.MultiWriter(tmp, h), o)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return sum, "", nil, fmt.Errorf("logs export: %w", err)
	}
	if sum.Events > 0 {
		note = usage.MarkExported(ctx, db, o.SinceSeq, sum.LastSeq)
	}
	return sum, hex.EncodeToString(h.Sum(nil)), note, nil
}

// outputFolder says what is wrong with the folder a file is to be written
// in, in words: "open /x/.y.part-123: no such file or directory" names
// neither the folder nor the fault.
func outputFolder(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("the folder %s does not exist (make it first, or write elsewhere)", dir)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("the folder %s cannot be reached: permission denied", dir)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%s is not a folder", dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// dateLayout is how --from and --to are written.
const dateLayout = "2006-01-02"

func (e env) statsCmd(args []string) error {
	fs := newFlags("logs stats")
	cfgPath := fs.String("config", "", configUsage+", for usage.database and site.timezone; not read when --db is given alone")
	db := fs.String("db", "", "the usage log `FILE` (default: the config's usage.database)")
	from := fs.String("from", "", "the first day counted, `YYYY-MM-DD`")
	to := fs.String("to", "", "the last day counted, `YYYY-MM-DD`")
	format := fs.String("format", "table", "the format: `table|csv|json`")
	by := fs.String("by", "day", "one line per `day|month`")
	tz := fs.String("timezone", "", "the time `ZONE` of the days (default: the config's site.timezone, else Europe/Paris)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return usagef("logs stats: --format %q: use table, csv or json", *format)
	}
	if *by != usage.ByDay && *by != usage.ByMonth {
		return usagef("logs stats: --by %q: use day or month", *by)
	}
	// A log brought home on a key is read without the kiosk's config:
	// the config is needed only when --db is not given, or asked for.
	path := *db
	var cfg *config.Config
	if path == "" || *cfgPath != "" {
		var err error
		if cfg, err = e.loadConfig(*cfgPath); err != nil {
			return err
		}
		if path == "" {
			path = cfg.Usage.Database
		}
	}
	loc, err := statsLocation(*tz, cfg)
	if err != nil {
		return err
	}
	o := usage.StatsOptions{Location: loc, By: *by}
	if *from != "" {
		d, err := time.ParseInLocation(dateLayout, *from, loc)
		if err != nil {
			return usagef("logs stats: --from %q: write the day as YYYY-MM-DD, like 2026-11-01", *from)
		}
		o.From = d
	}
	if *to != "" {
		d, err := time.ParseInLocation(dateLayout, *to, loc)
		if err != nil {
			return usagef("logs stats: --to %q: write the day as YYYY-MM-DD, like 2026-11-30", *to)
		}
		o.To = d.AddDate(0, 0, 1) // the whole last day
	}
	if !o.From.IsZero() && !o.To.IsZero() && !o.From.Before(o.To) {
		return usagef("logs stats: --from %s is after --to %s", *from, *to)
	}
	ctx, cancel := signalContext()
	defer cancel()
	st, err := usage.StatsFile(ctx, path, o)
	if err != nil {
		return err
	}
	return st.Write(e.stdout, *format)
}

func statsLocation(name string, cfg *config.Config) (*time.Location, error) {
	switch {
	case name != "":
		loc, err := time.LoadLocation(name)
		if err != nil {
			return nil, usagef("logs stats: --timezone %q is not a known time zone (like Europe/Paris)", name)
		}
		return loc, nil
	case cfg != nil:
		return cfg.Location(), nil
	}
	return time.LoadLocation("Europe/Paris")
}

// openLog opens the log named by --db or the config, refusing to create
// one where a wrong path was given.
func (e env) openLog(name, db string, cfg *config.Config) (*usage.Store, error) {
	path := db
	if path == "" {
		path = cfg.Usage.Database
	}
	s, err := usage.OpenExisting(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func (e env) syncCmd(args []string) error {
	fs := newFlags("logs sync")
	cfgPath := fs.String("config", "", configUsage)
	db := fs.String("db", "", "the usage log `FILE` (default: usage.database)")
	once := fs.Bool("once", false, "try each batch once: exit 1 at the first failure instead of retrying")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if cfg.Usage.Sync.URL == "" {
		return usagef("logs sync: usage.sync.url is not set in %s: there is no collector to send the log to", cfg.Path)
	}
	token, err := readToken(cfg.Usage.Sync.TokenFile)
	if err != nil {
		return fmt.Errorf("logs sync: %w", err)
	}
	s, err := e.openLog("logs sync", *db, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := signalContext()
	defer cancel()
	o := syncOptions(cfg, token)
	o.Once = *once
	o.Progress = func(p usage.SyncProgress) {
		if p.Retry {
			fmt.Fprintf(e.stderr, "borne: events %d to %d: %v; trying again in %s\n", p.FirstSeq, p.LastSeq, p.Err, p.RetryIn.Round(time.Second))
		}
	}
	res, err := s.Sync(ctx, o)
	if err != nil {
		if res.Events > 0 {
			return fmt.Errorf("logs sync: %d events sent (seq %d to %d), then: %w", res.Events, res.FirstSeq, res.LastSeq, err)
		}
		return fmt.Errorf("logs sync: %w", err)
	}
	if res.Events == 0 {
		fmt.Fprintf(e.stderr, "nothing to send: the collector has every event up to seq %d\n", res.Cursor)
		return nil
	}
	fmt.Fprintf(e.stderr, "sent %d events (seq %d to %d) in %d batches to %s\n", res.Events, res.FirstSeq, res.LastSeq, res.Batches, o.URL)
	return nil
}

// syncOptions are the sync settings of cfg, for borne logs sync and the
// shell's background sync alike.
func syncOptions(cfg *config.Config, token string) usage.SyncOptions {
	return usage.SyncOptions{URL: cfg.Usage.Sync.URL, Token: token, Site: cfg.Site.ID, UserAgent: "borne/" + Version,
		AllowLoopbackHTTP: cfg.Usage.Sync.AllowLoopbackHTTP}
}

// readToken reads the collector's token. The config check has made sure
// the file exists and is not readable by everyone.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return "", fmt.Errorf("usage.sync.token_file %s: permission denied (the kiosk's user must be able to read it)", path)
		}
		return "", fmt.Errorf("usage.sync.token_file %s: %v", path, err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("usage.sync.token_file %s is empty: put the collector's token in it", path)
	}
	if strings.ContainsAny(token, "\r\n\t ") {
		return "", fmt.Errorf("usage.sync.token_file %s holds more than one word: put only the collector's token in it", path)
	}
	return token, nil
}

func (e env) purgeCmd(args []string) error {
	fs := newFlags("logs purge")
	cfgPath := fs.String("config", "", configUsage)
	db := fs.String("db", "", "the usage log `FILE` (default: usage.database)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	s, err := e.openLog("logs purge", *db, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := signalContext()
	defer cancel()
	res, err := s.Purge(ctx, usage.PurgeOptions{Retention: cfg.Usage.Retention.D()})
	if err != nil {
		return fmt.Errorf("logs purge: %w", err)
	}
	fmt.Fprintln(e.stderr, purgeSummary(res, cfg.Usage.Retention))
	return nil
}

func purgeSummary(res usage.PurgeResult, retention config.Duration) string {
	msg := fmt.Sprintf("deleted %d events from before %s (usage.retention = %s)",
		res.Deleted, res.Cutoff.UTC().Format("2006-01-02 15:04 MST"), retention)
	if res.Unsent > 0 {
		msg += fmt.Sprintf(", %d of them never synced nor exported but older than twice the retention", res.Unsent)
	}
	if res.Kept > 0 {
		msg += fmt.Sprintf("; kept %d older events not yet synced or exported", res.Kept)
	}
	if res.FreedBytes > 0 {
		msg += fmt.Sprintf("; %.1f MiB given back to the disk", float64(res.FreedBytes)/(1<<20))
	}
	return msg
}
