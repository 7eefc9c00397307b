package sway

import (
	"os"
	"strconv"
	"strings"
)

// ancestors lists pid and the processes above it, up to init, from /proc.
func ancestors(pid int) []int {
	var out []int
	for pid > 0 && len(out) < 64 {
		out = append(out, pid)
		pid = parent(pid)
	}
	return out
}

// parent reads a process's parent from /proc/PID/stat; 0 when unknown.
func parent(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command's name is in parentheses and may hold anything: the
	// fields that follow come after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}
