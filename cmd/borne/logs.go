package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/loiret/borne/usage"
)

func (e env) logsCmd(args []string) error {
	if len(args) == 0 {
		return usagef("logs: say export")
	}
	switch args[0] {
	case "export":
		return e.exportCmd(args[1:])
	}
	return usagef("logs: unknown command %q (export)", args[0])
}

func (e env) exportCmd(args []string) error {
	fs := newFlags("logs export")
	cfgPath := fs.String("config", "", "config file (for usage.database)")
	db := fs.String("db", "", "usage log database")
	format := fs.String("format", "ndjson", "ndjson or csv")
	since := fs.Int64("since-seq", 0, "export events after this seq")
	out := fs.String("out", "", "file to write (default: standard output)")
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
	ctx := context.Background()
	if *out == "" {
		_, err := usage.ExportFile(ctx, path, e.stdout, opts)
		return err
	}
	sum, digest, err := exportAtomic(ctx, path, *out, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "exported %d events (seq %d to %d) to %s, sha256 %s\n",
		sum.Events, sum.FirstSeq, sum.LastSeq, *out, digest)
	return nil
}

// exportAtomic writes the export beside its destination, syncs it and
// renames it, so a USB key pulled out too early never holds half a file.
func exportAtomic(ctx context.Context, db, out string, o usage.ExportOptions) (usage.Summary, string, error) {
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".part-*")
	if err != nil {
		return usage.Summary{}, "", fmt.Errorf("logs export: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	h := sha256.New()
	sum, err := usage.ExportFile(ctx, db, io.MultiWriter(tmp, h), o)
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
		return sum, "", fmt.Errorf("logs export: %w", err)
	}
	return sum, hex.EncodeToString(h.Sum(nil)), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
