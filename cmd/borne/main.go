// Command borne is the kiosk shell of the public-service video kiosks and
// its tools: config checks, usage log export, PIN hashing.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Version is set at build time (-ldflags "-X main.Version=…").
var Version = "dev"

// Exit codes (DESIGN.md).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// badConfig is an invalid config file: exit code 2, its errors printed as
// they are.
type badConfig struct{ err error }

func (e badConfig) Error() string { return e.err.Error() }
func (e badConfig) Unwrap() error { return e.err }

type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func main() {
	e := env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(e.main(os.Args[1:]))
}

func (e env) main(args []string) int {
	err := e.dispatch(args)
	if err == nil {
		return exitOK
	}
	var help shownHelp
	if errors.As(err, &help) {
		fmt.Fprint(e.stdout, string(help))
		return exitOK
	}
	var st exitStatus
	if errors.As(err, &st) {
		return int(st) // the relayed command's own status, said by itself
	}
	var ce badConfig
	if errors.As(err, &ce) {
		// Already one "FILE:LINE:COL: message" line per error.
		fmt.Fprintln(e.stderr, ce.err.Error())
		return exitUsage
	}
	fmt.Fprintln(e.stderr, "borne: "+err.Error())
	if errors.Is(err, errCrash) {
		return exitCrash
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

func (e env) dispatch(args []string) error {
	cmd, rest := "run", args
	switch {
	case len(args) > 0 && isHelp(args[0]):
		return helpFor("", nil)
	case len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-':
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return e.runCmd(rest)
	case "demo":
		return e.demoCmd(rest)
	case "config":
		return e.configCmd(rest)
	case "pin":
		return e.pinCmd(rest)
	case "logs":
		return e.logsCmd(rest)
	case "doctor":
		return e.doctorCmd(rest)
	case "relay":
		return e.relayCmd(rest)
	case "collect":
		return e.collectCmd(rest)
	case "version":
		if err := noArgs("version", rest); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "borne %s\n", Version)
		return nil
	case "help":
		switch {
		case len(rest) == 0 || rest[0] == "help":
			return helpFor("", nil)
		case isHelp(rest[0]):
			return helpFor("help", nil)
		}
		return e.dispatch(append(rest, "--help")) // borne help logs export
	}
	return usagef("unknown command %q (try: borne help)", cmd)
}
