// Package audiotest runs a real sound server for tests: PipeWire,
// WirePlumber and pipewire-pulse on a private session bus, with a
// runtime folder of their own and null devices standing in for the
// kiosk's speaker and microphone. The server can be killed and started
// again; pactl reads its state back.
package audiotest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loiret/borne/hw/dbustest"
)

// Mic says what the test microphone hears.
type Mic int

const (
	MicSilent Mic = iota // a null source: only silence
	MicSignal            // a source that plays a steady tone
	MicNone              // no microphone at all
)

// Options shape the test server.
type Options struct {
	Mic       Mic
	NoSpeaker bool
}

// Names of the test devices, as pactl shows them.
const (
	Speaker    = "borne-test-speaker"
	Microphone = "borne-test-mic"
)

// Server is a running test sound server.
type Server struct {
	// Addr is the PulseAudio server string of pipewire-pulse.
	Addr    string
	Runtime string // its XDG_RUNTIME_DIR

	t    testing.TB
	dir  string
	env  []string
	mu   sync.Mutex
	cmds []*exec.Cmd
	logs []*bytes.Buffer
}

// Start starts the server and waits until its devices are there; all is
// stopped when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	for _, p := range []string{"pipewire", "wireplumber", "pipewire-pulse", "pactl"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is needed for these tests (Debian packages pipewire, wireplumber, pipewire-pulse, pulseaudio-utils): %v", p, err)
		}
	}
	bus := dbustest.StartBus(t, "session")
	// Socket paths are limited to 108 bytes: t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "borne-sound-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{t: t, dir: dir, Runtime: filepath.Join(dir, "run")}
	s.Addr = "unix:" + filepath.Join(s.Runtime, "pulse", "native")
	conf := filepath.Join(dir, "config", "pipewire", "pipewire.conf.d")
	for _, d := range []string{s.Runtime, conf, filepath.Join(dir, "home")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(conf, "borne-test.conf"), []byte(devices(o)), 0o600); err != nil {
		t.Fatal(err)
	}
	s.env = append(os.Environ(),
		"XDG_RUNTIME_DIR="+s.Runtime,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"HOME="+filepath.Join(dir, "home"),
		"DBUS_SESSION_BUS_ADDRESS="+bus.Addr,
		"PULSE_SERVER="+s.Addr,
		"PIPEWIRE_RUNTIME_DIR="+s.Runtime,
		"DISPLAY=", "WAYLAND_DISPLAY=",
	)
	t.Cleanup(s.Kill)
	s.Restart()
	s.WaitDevices(o)
	return s
}

// devices is the PipeWire config fragment that makes the test devices.
// They belong to PipeWire itself, so they outlive a restart of
// pipewire-pulse, as a sound card does.
func devices(o Options) string {
	var objs []string
	if !o.NoSpeaker {
		objs = append(objs, `{ factory = adapter args = { factory.name = support.null-audio-sink node.name = "`+Speaker+`"
    node.description = "Test speaker" media.class = Audio/Sink audio.position = [ FL FR ] object.linger = true } }`)
	}
	switch o.Mic {
	case MicSilent:
		objs = append(objs, `{ factory = adapter args = { factory.name = support.null-audio-sink node.name = "`+Microphone+`"
    node.description = "Test microphone" media.class = Audio/Source/Virtual audio.position = [ MONO ] object.linger = true } }`)
	case MicSignal:
		objs = append(objs, `{ factory = adapter args = { factory.name = audiotestsrc node.name = "`+Microphone+`"
    node.description = "Test microphone" media.class = Audio/Source audio.position = [ MONO ] object.linger = true } }`)
	}
	return "context.spa-libs = { audiotestsrc = audiotestsrc/libspa-audiotestsrc }\n" +
		"context.objects = [\n  " + strings.Join(objs, "\n  ") + "\n]\n"
}

// Restart starts PipeWire, WirePlumber and pipewire-pulse (again).
func (s *Server) Restart() {
	s.t.Helper()
	for _, f := range []string{"pipewire-0", "pipewire-0-manager", filepath.Join("pulse", "native")} {
		os.Remove(filepath.Join(s.Runtime, f))
	}
	s.start("pipewire")
	s.waitFile(filepath.Join(s.Runtime, "pipewire-0"))
	s.start("wireplumber")
	s.start("pipewire-pulse")
	s.waitFile(filepath.Join(s.Runtime, "pulse", "native"))
}

func (s *Server) start(name string) {
	s.t.Helper()
	cmd := exec.Command(name)
	cmd.Env = s.env
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", name, err)
	}
	s.mu.Lock()
	s.cmds = append(s.cmds, cmd)
	s.logs = append(s.logs, &log)
	s.mu.Unlock()
}

func (s *Server) waitFile(path string) {
	s.t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	s.t.Fatalf("%s did not appear within 10s; logs:\n%s", path, s.Logs())
}

// Kill stops the whole server at once, as a crash would. The socket file
// stays behind, as it does after a crash.
func (s *Server) Kill() {
	s.mu.Lock()
	cmds := s.cmds
	s.cmds = nil
	s.mu.Unlock()
	for i := len(cmds) - 1; i >= 0; i-- {
		cmds[i].Process.Kill()
		cmds[i].Wait()
	}
}

// KillPulse stops pipewire-pulse only: the service the shell talks to.
func (s *Server) KillPulse() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.cmds {
		if filepath.Base(c.Path) == "pipewire-pulse" {
			c.Process.Kill()
			c.Wait()
			s.cmds = append(s.cmds[:i], s.cmds[i+1:]...)
			os.Remove(filepath.Join(s.Runtime, "pulse", "native"))
			return
		}
	}
}

// StartPulse starts pipewire-pulse again after KillPulse.
func (s *Server) StartPulse() {
	s.t.Helper()
	s.start("pipewire-pulse")
	s.waitFile(filepath.Join(s.Runtime, "pulse", "native"))
}

// Logs is what the server's programs said.
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, l := range s.logs {
		b.WriteString(l.String())
	}
	return b.String()
}

// Pactl runs pactl against the server and returns its output.
func (s *Server) Pactl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pactl", args...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("pactl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// WaitDevices waits until the test devices are the server's defaults.
func (s *Server) WaitDevices(o Options) {
	s.t.Helper()
	var last string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		// Listed is not enough: WirePlumber picks the defaults a moment
		// later, and the shell uses the defaults.
		info, err := s.Pactl("info")
		last = info
		if err != nil {
			continue
		}
		speaker := strings.Contains(info, "Default Sink: "+Speaker+"\n")
		mic := strings.Contains(info, "Default Source: "+Microphone+"\n")
		if speaker != o.NoSpeaker && mic == (o.Mic != MicNone) {
			return
		}
	}
	s.t.Fatalf("the test devices did not appear within 10s; pactl said:\n%s\nlogs:\n%s", last, s.Logs())
}

// MicMuted tells whether the test microphone is muted.
func (s *Server) MicMuted() (bool, error) {
	out, err := s.Pactl("get-source-mute", Microphone)
	if err != nil {
		return false, err
	}
	return strings.Contains(out, "yes"), nil
}

// Volume is the test speaker's volume in percent (its first channel).
func (s *Server) Volume() (int, error) {
	out, err := s.Pactl("get-sink-volume", Speaker)
	if err != nil {
		return 0, err
	}
	// "Volume: front-left: 45875 /  70% / -9.29 dB,   front-right: …"
	f := strings.Fields(out)
	for i, w := range f {
		if w == "/" && i+1 < len(f) && strings.HasSuffix(f[i+1], "%") {
			return strconv.Atoi(strings.TrimSuffix(f[i+1], "%"))
		}
	}
	return 0, fmt.Errorf("no volume in %q", out)
}
