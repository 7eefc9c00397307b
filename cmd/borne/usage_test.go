package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

var longFlag = regexp.MustCompile(`--[a-z][a-z-]*`)

// --help and -h on every command print its usage, with every flag it
// takes, on standard output, and exit 0; the synopsis in borne's own
// help names the same flags as the command's flag set.
func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range commands {
		for _, h := range []string{"--help", "-h"} {
			args := append(strings.Fields(c.name), h)
			code, out, errOut := runMain(t, "", args...)
			if code != 0 || errOut != "" {
				t.Errorf("borne %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
				continue
			}
			if want := "usage: " + synopsis(c) + "\n"; !strings.HasPrefix(out, want) {
				t.Errorf("borne %s: %q does not start with %q", strings.Join(args, " "), out, want)
			}
			listed, said := flagsOf(out), longFlag.FindAllString(c.args, -1)
			slices.Sort(said)
			if !slices.Equal(listed, slices.Compact(said)) {
				t.Errorf("borne %s: the flags %v, the synopsis %v", c.name, listed, said)
			}
		}
	}
}

// flagsOf lists the flags under "flags:" in a command's help.
func flagsOf(help string) []string {
	_, section, ok := strings.Cut(help, "\nflags:\n")
	if !ok {
		return nil
	}
	var names []string
	for _, line := range strings.Split(section, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "--") {
			names = append(names, f[0])
		}
	}
	slices.Sort(names)
	return names
}

// borne's help, and each group's, lists its commands; help COMMAND is
// COMMAND --help.
func TestHelpLists(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"help", "help"}} {
		code, out, _ := runMain(t, "", args...)
		if code != 0 {
			t.Errorf("borne %v: exit %d", args, code)
		}
		for _, c := range commands {
			if !strings.Contains(out, "\n  "+synopsis(c)+"\n") {
				t.Errorf("borne %v does not list %q", args, c.name)
			}
		}
	}
	for _, group := range []string{"config", "pin", "logs"} {
		code, out, _ := runMain(t, "", group, "--help")
		if code != 0 {
			t.Errorf("borne %s --help: exit %d", group, code)
		}
		for _, c := range commands {
			if in := strings.HasPrefix(c.name, group+" "); in != strings.Contains(out, synopsis(c)) {
				t.Errorf("borne %s --help and %q: %q", group, c.name, out)
			}
		}
	}
	_, direct, _ := runMain(t, "", "logs", "export", "--help")
	if code, out, _ := runMain(t, "", "help", "logs", "export"); code != 0 || out != direct {
		t.Errorf("borne help logs export: exit %d, %q", code, out)
	}
	// After other flags and arguments too; a wrong flag still points there.
	for _, args := range [][]string{{"logs", "export", "--db", "x", "--help"}, {"config", "check", "some.toml", "-h"}} {
		if code, out, _ := runMain(t, "", args...); code != 0 || !strings.HasPrefix(out, "usage: ") {
			t.Errorf("borne %v: exit %d, %q", args, code, out)
		}
	}
	if code, _, errOut := runMain(t, "", "logs", "stats", "--nope"); code != 2 || !strings.Contains(errOut, "borne logs stats --help") {
		t.Errorf("a wrong flag: exit %d, %q", code, errOut)
	}
}
