package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/loiret/borne/config"
	"github.com/loiret/borne/hw"
	"github.com/loiret/borne/operators"
)

// exampleHost is where the catalog and the example config point the
// operators' visios until a site sets the partners' real addresses.
const exampleHost = operators.ExampleVisioHost

// operatorChecks gives one line per operator the kiosk shows: its video
// client can run (a call would fail otherwise: needed), and none of its
// addresses is still the example's (a warning).
func operatorChecks(cfg *config.Config) []hw.Check {
	ops, err := cfg.ResolveOperators()
	if err != nil {
		return []hw.Check{{Name: "operator", Health: hw.Missing, Needed: true, Reason: err.Error()}}
	}
	checks := make([]hw.Check, 0, len(ops))
	for _, op := range ops {
		checks = append(checks, operatorCheck(op))
	}
	return checks
}

func operatorCheck(op operators.Operator) hw.Check {
	c := hw.Check{Name: "operator", Health: hw.OK, Needed: true}
	switch {
	case !op.Callable():
		c.Reason = op.ID + ": no video client (no launch): its screen informs, it cannot be called"
		return c
	case op.IsVisio(): // a web visio, in the kiosk's browser (see browserChecks)
		c.Reason = op.ID + ": web visio " + op.VisioURL
		if exampleAddress([]string{op.VisioURL}) != "" {
			c.Health = hw.Missing
			c.Reason = fmt.Sprintf("%s: %s is the example's address, not the partner's: set its real visio_url in [[operators.custom]] (id = %q)", op.ID, op.VisioURL, op.ID)
		}
		return c
	}
	if err := canRun(op.Launch[0]); err != nil {
		c.Health, c.Reason = hw.Missing, fmt.Sprintf("%s: cannot start its video client: %v", op.ID, err)
		return c
	}
	c.Reason = op.ID + ": " + op.Launch[0]
	if u := exampleAddress(op.Launch[1:]); u != "" {
		c.Health, c.Needed = hw.Degraded, false
		c.Reason = fmt.Sprintf("%s: %s is the example's address, not the partner's: set its real one in [[operators.custom]] (id = %q)", op.ID, u, op.ID)
	}
	return c
}

// canRun tells why the program at path could not be started by systemd:
// not absolute, absent, not a file, not executable, or a script whose
// interpreter is missing.
func canRun(path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%q is not an absolute path", path)
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s is not installed (no such file)", path)
	case err != nil:
		return err
	case st.IsDir():
		return fmt.Errorf("%s is a folder, not a program", path)
	case st.Mode().Perm()&0o111 == 0 || syscall.Access(path, 1 /* X_OK */) != nil:
		return fmt.Errorf("%s is not executable (mode %v)", path, st.Mode().Perm())
	}
	interp, err := interpreter(path)
	if err != nil {
		return fmt.Errorf("%s cannot be read: %w", path, err)
	}
	if interp != "" && interp != path {
		if err := canRun(interp); err != nil {
			return fmt.Errorf("%s is a script whose interpreter cannot run: %w", path, err)
		}
	}
	return nil
}

// interpreter is the program named on a script's "#!" line, "" for a
// binary.
func interpreter(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := f.Read(head)
	head = head[:n]
	if !bytes.HasPrefix(head, []byte("#!")) {
		return "", nil
	}
	line, _, _ := bytes.Cut(head[2:], []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return "", errors.New(`its "#!" line names no interpreter`)
	}
	return fields[0], nil
}

// exampleAddress is the first of args that is a web address on the
// example's host, "" when none is.
func exampleAddress(args []string) string {
	for _, a := range args {
		if i := strings.Index(a, "://"); i >= 0 {
			a = a[strings.LastIndex(a[:i], "=")+1:] // --app=https://…
		}
		u, err := url.Parse(a)
		if err != nil || u.Host == "" {
			continue
		}
		if h := u.Hostname(); h == exampleHost || strings.HasSuffix(h, "."+exampleHost) {
			return a
		}
	}
	return ""
}
