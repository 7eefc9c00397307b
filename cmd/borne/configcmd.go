package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/loiret/borne/config"
)

const defaultConfig = "/etc/borne/borne.toml"

// configUsage is every command's --config.
const configUsage = "the config `FILE` (default: $BORNE_CONFIG, else " + defaultConfig + ")"

// newFlags makes a flag set that reports its errors as usage errors rather
// than printing and exiting.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses a command's flags; -h or --help is its help.
func parseFlags(fs *flag.FlagSet, args []string) error { return parseArgs(fs, args, 0) }

// parseArgs is parseFlags for a command that also takes up to n
// arguments after its flags.
func parseArgs(fs *flag.FlagSet, args []string, n int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpFor(fs.Name(), fs)
		}
		return usagef("%s: %v (see: borne %s --help)", fs.Name(), err, fs.Name())
	}
	for _, a := range fs.Args() {
		if isHelp(a) { // after an argument, as in config check FILE --help
			return helpFor(fs.Name(), fs)
		}
	}
	if fs.NArg() > n {
		return usagef("%s: unexpected argument %q (see: borne %s --help)", fs.Name(), fs.Arg(n), fs.Name())
	}
	return nil
}

// noArgs is for the commands without flags: only -h or --help.
func noArgs(name string, args []string) error {
	switch {
	case len(args) == 0:
		return nil
	case isHelp(args[0]):
		return helpFor(name, nil)
	}
	return usagef("%s takes no argument (see: borne %s --help)", name, name)
}

// configPath is --config, else $BORNE_CONFIG, else the system file.
func (e env) configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := e.getenv("BORNE_CONFIG"); p != "" {
		return p
	}
	return defaultConfig
}

func (e env) loadConfig(flagValue string) (*config.Config, error) {
	cfg, err := config.Load(e.configPath(flagValue))
	if err != nil {
		return nil, badConfig{err}
	}
	return cfg, nil
}

func (e env) configCmd(args []string) error {
	if len(args) == 0 {
		return usagef("config: say check, example or browser-policy (see: borne config --help)")
	}
	switch args[0] {
	case "check":
		return e.checkCmd(args[1:])
	case "browser-policy":
		return e.browserPolicyCmd(args[1:])
	case "example":
		if err := noArgs("config example", args[1:]); err != nil {
			return err
		}
		_, err := e.stdout.Write(config.Example())
		return err
	}
	if isHelp(args[0]) {
		return helpFor("config", nil)
	}
	return usagef("config: unknown command %q (check, example or browser-policy)", args[0])
}

// checkCmd is `borne config check`: the file by --config or named alone.
func (e env) checkCmd(args []string) error {
	fs := newFlags("config check")
	path := fs.String("config", "", configUsage)
	if err := parseArgs(fs, args, 1); err != nil {
		return err
	}
	if fs.NArg() == 1 {
		if *path != "" {
			return usagef("config check: name the file once: --config %s or %s", *path, fs.Arg(0))
		}
		*path = fs.Arg(0)
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	// Warnings turn an optional feature off but keep the config valid:
	// the kiosk must start all the same (exit 0).
	for _, w := range cfg.Warnings {
		fmt.Fprintf(e.stderr, "%s (warning)\n", w)
	}
	fmt.Fprintf(e.stdout, "%s: ok\n", cfg.Path)
	return nil
}
