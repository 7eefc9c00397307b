package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/loiret/borne/config"
)

const defaultConfig = "/etc/borne/borne.toml"

// newFlags makes a flag set that reports its errors as usage errors rather
// than printing and exiting.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
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
		return usagef("config: say check or example")
	}
	switch args[0] {
	case "check":
		fs := newFlags("config check")
		path := fs.String("config", "", "config file")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		cfg, err := e.loadConfig(*path)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: ok\n", cfg.Path)
		return nil
	case "example":
		if len(args) > 1 {
			return usagef("config example takes no argument")
		}
		_, err := e.stdout.Write(config.Example())
		return err
	}
	return usagef("config: unknown command %q (check or example)", args[0])
}
