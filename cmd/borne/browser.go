package main

import (
	"context"
	"fmt"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/hw/browser"
)

// policyFile is where the browser's managed policy is installed (a
// variable for tests).
var policyFile = browser.PolicyFile

// browserPolicyCmd prints the browser's managed policy made from the
// config, or installs it (--install) where Chromium reads it.
func (e env) browserPolicyCmd(args []string) error {
	fs := newFlags("config browser-policy")
	path := fs.String("config", "", configUsage)
	install := fs.Bool("install", false, "write it to "+browser.PolicyFile+", root, 0644")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	ops, err := cfg.ResolveOperators()
	if err != nil {
		return badConfig{err}
	}
	data := browser.PolicyJSON(ops)
	if !*install {
		_, err := e.stdout.Write(data)
		return err
	}
	changed, err := browser.InstallPolicy(policyFile, data)
	if err != nil {
		return fmt.Errorf("browser policy not installed: %w", err)
	}
	if changed {
		fmt.Fprintf(e.stdout, "%s: installed from %s\n", policyFile, cfg.Path)
	} else {
		fmt.Fprintf(e.stdout, "%s: already the config's\n", policyFile)
	}
	return nil
}

// browserChecks are borne doctor's lines about web visios: the browser
// and its installed policy. None when no operator is a web visio.
func browserChecks(ctx context.Context, cfg *config.Config) []hw.Check {
	ops, err := cfg.ResolveOperators()
	if err != nil {
		return []hw.Check{{Name: "operators", Needed: true, Health: hw.Missing, Reason: err.Error()}}
	}
	visio := false
	for _, op := range ops {
		visio = visio || op.IsVisio()
	}
	if !visio {
		return nil
	}
	checks := []hw.Check{browser.CommandCheck(ctx, cfg.Hardware.Browser.Command)}
	pol := hw.Check{Name: "policy", Needed: true, Health: hw.OK, Reason: policyFile + " is the config's"}
	if err := browser.CheckPolicy(policyFile, browser.PolicyJSON(ops)); err != nil {
		pol.Health, pol.Reason = hw.Degraded, err.Error()
	}
	return append(checks, pol) // operators on the example's address: operatorChecks
}
