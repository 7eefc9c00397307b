package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	xterm "github.com/charmbracelet/x/term"

	"github.com/loiret/borne/config"
)

// pinCmd is `borne pin hash`: a PIN on standard input, its argon2id hash
// on standard output, ready for maintenance.pin_hash. The PIN is not
// echoed when typed at a terminal.
func (e env) pinCmd(args []string) error {
	switch {
	case len(args) > 0 && isHelp(args[0]):
		return helpFor("pin", nil)
	case len(args) == 0 || args[0] != "hash":
		return usagef("pin: say hash (borne pin hash < file, or type the PIN)")
	}
	if err := noArgs("pin hash", args[1:]); err != nil {
		return err
	}
	pin, err := e.readPIN()
	if err != nil {
		return err
	}
	if err := config.CheckPIN(pin); err != nil {
		return usagef("pin hash: %v", err)
	}
	h, err := config.HashPIN(pin)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, h)
	return nil
}

// readPIN reads the PIN: at a terminal twice, unseen, as passwd does (a
// typing mistake there would lock the site's agents out); from a pipe
// once.
func (e env) readPIN() (string, error) {
	if f, ok := e.stdin.(*os.File); ok && xterm.IsTerminal(f.Fd()) {
		pin, err := e.askPIN(f, "PIN (6 to 12 digits): ")
		if err != nil {
			return "", err
		}
		if err := config.CheckPIN(pin); err != nil {
			return "", usagef("pin hash: %v", err)
		}
		again, err := e.askPIN(f, "The same PIN again: ")
		if err != nil {
			return "", err
		}
		if again != pin {
			return "", usagef("pin hash: the two PINs differ: nothing was printed; run borne pin hash again")
		}
		return pin, nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", usagef("pin hash: no PIN on standard input")
	}
	return strings.TrimSpace(line), nil
}

// askPIN prompts on standard error and reads a line without echo.
func (e env) askPIN(f *os.File, prompt string) (string, error) {
	fmt.Fprint(e.stderr, prompt)
	b, err := xterm.ReadPassword(f.Fd())
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", fmt.Errorf("pin hash: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
