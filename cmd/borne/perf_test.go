package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"golang.org/x/sys/unix"
)

// The performance benchmarks run the real binary under a pseudo-terminal
// of 120×36, beside the anchors of performance.md measured the same way in
// the same run. `make bench` runs them; they are never pass/fail.

// pty is the master side of a pseudo-terminal and what it has read.
type pty struct {
	master *os.File
	slave  string
	mu     sync.Mutex
	out    bytes.Buffer
	seen   chan struct{}
}

func openPTY(cols, rows int) (*pty, error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		return nil, err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	p := &pty{master: os.NewFile(uintptr(fd), "ptmx"), slave: "/dev/pts/" + strconv.Itoa(n), seen: make(chan struct{}, 1)}
	go p.read()
	return p, nil
}

func (p *pty) read() {
	buf := make([]byte, 64<<10)
	for {
		n, err := p.master.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			select {
			case p.seen <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *pty) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ansi.Strip(p.out.String())
}

// start runs a program on the terminal's slave side, as its controlling
// terminal.
func (p *pty) start(name string, args ...string) (*exec.Cmd, error) {
	slave, err := os.OpenFile(p.slave, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer slave.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	return cmd, cmd.Start()
}

// waitAll waits until every word has been written to the terminal.
func (p *pty) waitAll(words []string, limit time.Duration) bool {
	deadline := time.After(limit)
	for {
		t := p.text()
		all := true
		for _, w := range words {
			if !strings.Contains(t, w) {
				all = false
				break
			}
		}
		if all {
			return true
		}
		select {
		case <-p.seen:
		case <-deadline:
			return false
		}
	}
}

func (p *pty) close() { p.master.Close() }

// firstFrame is the time from exec until every word is on the terminal.
func firstFrame(b *testing.B, words []string, name string, args ...string) time.Duration {
	b.Helper()
	p, err := openPTY(120, 36)
	if err != nil {
		b.Fatal(err)
	}
	defer p.close()
	t0 := time.Now()
	cmd, err := p.start(name, args...)
	if err != nil {
		b.Fatal(err)
	}
	ok := p.waitAll(words, 10*time.Second)
	d := time.Since(t0)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Process.Kill()
	cmd.Wait()
	if !ok {
		b.Fatalf("%s never showed %v:\n%s", name, words, p.text())
	}
	return d
}

func buildMinimal(b *testing.B) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "minimal")
	if msg, err := exec.Command("go", "build", "-o", out, "./testdata/minimal").CombinedOutput(); err != nil {
		b.Fatalf("building the anchor: %v\n%s", err, msg)
	}
	return out
}

// BenchmarkFirstFrame: borne demo against the minimal Bubble Tea program,
// both until their tiles are on a 120×36 terminal.
func BenchmarkFirstFrame(b *testing.B) {
	minimal := buildMinimal(b)
	b.Run("minimal-bubbletea", func(b *testing.B) {
		words := []string{"CAF du Loiret", "Services de l'État"}
		for b.Loop() {
			firstFrame(b, words, minimal)
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
	})
	b.Run("borne-demo", func(b *testing.B) {
		words := []string{"CAF du Loiret", "Services de l'État", "Appel d'essai", "English", "Contraste"}
		dir := b.TempDir()
		for i := 0; b.Loop(); i++ {
			firstFrame(b, words, binary, "demo", "--db", filepath.Join(dir, fmt.Sprint(i), "u.db"))
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
	})
}

// cpuNS is the CPU time all of a process's threads have used, from the
// scheduler's count (nanoseconds, unlike the 10 ms ticks of /proc/pid/stat).
func cpuNS(pid int) (int64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no threads for %d", pid)
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that just ended
		}
		n, _ := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
		sum += n
	}
	return sum, nil
}

func rssKiB(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			n, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return n
		}
	}
	return 0
}

// idleCPU runs a program for a while on a terminal nobody touches and
// returns the share of one core it used once settled.
func idleCPU(b *testing.B, settle, span time.Duration, ready []string, name string, args ...string) (float64, int64) {
	b.Helper()
	p, err := openPTY(120, 36)
	if err != nil {
		b.Fatal(err)
	}
	defer p.close()
	cmd, err := p.start(name, args...)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if !p.waitAll(ready, 10*time.Second) {
		b.Fatalf("%s never showed %v", name, ready)
	}
	time.Sleep(settle)
	c0, err := cpuNS(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(span)
	c1, _ := cpuNS(cmd.Process.Pid)
	return float64(c1-c0) / float64(span.Nanoseconds()) * 100, rssKiB(cmd.Process.Pid)
}

// BenchmarkIdleCPU: a minute's share of a core with nobody at the kiosk,
// on the home screen, the attract screen and the sleeping screen, beside
// the minimal program. BORNE_IDLE_SECONDS shortens the span.
func BenchmarkIdleCPU(b *testing.B) {
	span := time.Minute
	if s, err := strconv.Atoi(os.Getenv("BORNE_IDLE_SECONDS")); err == nil && s > 0 {
		span = time.Duration(s) * time.Second
	}
	minimal := buildMinimal(b)
	cases := []struct {
		name   string
		settle time.Duration
		ready  []string
		cmd    func(dir string) []string
	}{
		{"minimal-bubbletea", 0, []string{"CAF du Loiret"}, func(string) []string { return []string{minimal} }},
		{"home", 0, []string{"Appel d'essai"}, func(dir string) []string {
			return []string{binary, "demo", "--db", filepath.Join(dir, "u.db")}
		}},
		{"attract", 12 * time.Second, []string{"Appel d'essai"}, func(dir string) []string {
			return []string{binary, "run", "--config", perfConfig(b, dir, `attract_after = "10s"`, "")}
		}},
		{"asleep", time.Second, []string{}, func(dir string) []string {
			return []string{binary, "run", "--config", perfConfig(b, dir, "", `hours = ["mon-sun 00:00-00:01"]`)}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var pct float64
			var rss int64
			for b.Loop() {
				args := c.cmd(b.TempDir())
				pct, rss = idleCPU(b, c.settle, span, c.ready, args[0], args[1:]...)
			}
			b.ReportMetric(pct, "%core")
			b.ReportMetric(float64(rss)/1024, "MiB-peak-rss")
		})
	}
}

// perfConfig is a sim kiosk with one extra kiosk or site line.
func perfConfig(b *testing.B, dir, kiosk, site string) string {
	b.Helper()
	body := fmt.Sprintf(`[site]
id = "perf"
name = "Banc d'essai"
place = "Gien"
help_phone = "02 38 00 00 00"
%s

[kiosk]
%s

[hardware]
backend = "sim"

[usage]
database = %q

[[operators.custom]]
id = "essai"
name = "Appel d'essai"
hours = ["mon-sun 00:00-24:00"]
open_on_holidays = true
launch = ["/bin/true"]
`, site, kiosk, filepath.Join(dir, "u.db"))
	path := filepath.Join(dir, "borne.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}
