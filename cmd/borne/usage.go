package main

import (
	"flag"
	"fmt"
	"strings"
)

// command is one line of borne's help: how a command is called and what it
// does. The per-command help (--help, -h) and `borne help` are both made
// from this table, so they cannot tell different stories.
type command struct {
	name  string // "logs export"
	args  string // what follows the name
	about string // one line
}

var commands = []command{
	{"run", "[--config FILE] [--db FILE]", "the kiosk shell (the default command)"},
	{"demo", "[--db FILE] [--lang fr|en]", "the shell on the embedded demo config and simulated hardware"},
	{"config check", "[--config FILE | FILE]", "check a config file: each error as FILE:LINE:COL"},
	{"config example", "", "print a commented example config"},
	{"config browser-policy", "[--config FILE] [--install]", "print the browser's managed policy made from the config, or install it for Chromium"},
	{"pin hash", "", "read a PIN (twice at a terminal), print its hash for maintenance.pin_hash"},
	{"logs export", "[--config FILE] [--db FILE] [--format ndjson|csv] [--since-seq N] [--out FILE]", "write the usage log's events"},
	{"logs stats", "[--config FILE] [--db FILE] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format table|csv|json] [--by day|month] [--timezone ZONE]", "count the usage log's events per day or month"},
	{"logs sync", "[--config FILE] [--db FILE] [--once]", "send the log to the collector"},
	{"logs purge", "[--config FILE] [--db FILE]", "delete events past usage.retention that left the kiosk"},
	{"doctor", "[--config FILE]", "one line per service, device and operator: ok, degraded or missing"},
	{"relay", "-- COMMAND [ARGS…]", "run COMMAND, passing its sd_notify states on (the kiosk unit)"},
	{"collect serve", "[--config FILE]", "the Département's collector: the kiosks post their usage logs to it (default config /etc/borne/collector.toml)"},
	{"collect stats", "[--config FILE] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format table|csv|json] [--by day|month]", "the fleet's figures per day or month, site, commune and operator"},
	{"collect fleet", "[--config FILE] [--format table|csv|json]", "one line per kiosk: last sync, events, holes, faults; exit 3 when a kiosk needs a visit"},
	{"collect token add", "SITE [--config FILE]", "a new token for a kiosk, printed alone on the last line"},
	{"collect token revoke", "SITE [--config FILE]", "refuse a kiosk's tokens from now on"},
	{"version", "", "print borne's version"},
	{"help", "[COMMAND…]", "this help, or a command's"},
}

// isHelp tells whether arg asks for help.
func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "-help" }

// shownHelp is a help text asked for with --help or -h: printed on
// standard output, exit status 0.
type shownHelp string

func (h shownHelp) Error() string { return string(h) }

// helpFor is the usage of the command called name, or of the group of
// commands whose names start with it ("logs"), or of all of them ("").
func helpFor(name string, fs *flag.FlagSet) shownHelp {
	var b strings.Builder
	if name == "" {
		b.WriteString("borne — the kiosk shell of the public-service video kiosks\n\n")
	}
	var group []command
	for _, c := range commands {
		if c.name == name {
			fmt.Fprintf(&b, "usage: %s\n\n%s.\n", synopsis(c), capital(c.about))
			if fs != nil {
				flagHelp(&b, fs)
			}
			return shownHelp(b.String())
		}
		if name == "" || strings.HasPrefix(c.name, name+" ") {
			group = append(group, c)
		}
	}
	b.WriteString("usage:\n")
	for _, c := range group {
		fmt.Fprintf(&b, "  %s\n      %s\n", synopsis(c), c.about)
	}
	b.WriteString("\nEach command's flags: borne COMMAND --help. Exit status: 0 done, 1 failed, 2 bad usage or config.\n")
	return shownHelp(b.String())
}

func synopsis(c command) string {
	return strings.TrimSpace("borne " + c.name + " " + c.args)
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// flagHelp lists fs's flags the GNU way (--name VALUE), with their
// defaults.
func flagHelp(b *strings.Builder, fs *flag.FlagSet) {
	b.WriteString("\nflags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		value, usage := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if value != "" {
			left += " " + value
		}
		if len(left) > 20 {
			left += "\n" + strings.Repeat(" ", 22)
		}
		fmt.Fprintf(b, "  %-20s %s", left, usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(b, " (default %s)", f.DefValue)
		}
		b.WriteByte('\n')
	})
	fmt.Fprintf(b, "  %-20s %s\n", "-h, --help", "this help")
}
