package usage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestServiceFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "out-of-service")
	f := NewServiceFile(path)
	if s, err := f.Load(); err != nil || s.On() {
		t.Fatalf("no file: %+v %v", s, err)
	}
	since := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, want := range []OutOfService{{Key: "oos.preset.fault", Since: since}, {Message: "Fermé lundi", Since: since}} {
		if err := f.Save(want); err != nil {
			t.Fatal(err)
		}
		got, err := f.Load()
		if err != nil || got.Key != want.Key || got.Message != want.Message || !got.Since.Equal(since) {
			t.Fatalf("saved %+v, loaded %+v %v", want, got, err)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode: %v %v", fi, err)
	}
	if err := f.Save(OutOfService{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("back in service left the file: %v", err)
	}
	if err := f.Save(OutOfService{}); err != nil {
		t.Fatalf("back in service twice: %v", err)
	}
}

// A file there that cannot be trusted is an error the caller answers by
// staying out of service; none of them hangs or fills the memory.
func TestServiceFileRefusesWhatItCannotTrust(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]func(path string) error{
		"empty":   func(p string) error { return os.WriteFile(p, nil, 0o600) },
		"garbled": func(p string) error { return os.WriteFile(p, []byte("{\"key\":"), 0o600) },
		"no key":  func(p string) error { return os.WriteFile(p, []byte(`{"since":"2026-12-01T09:00:00Z"}`), 0o600) },
		"huge": func(p string) error {
			return os.WriteFile(p, []byte(`{"message":"`+strings.Repeat("x", 8<<10)+`"}`), 0o600)
		},
		"fifo":    func(p string) error { return syscall.Mkfifo(p, 0o600) },
		"folder":  func(p string) error { return os.Mkdir(p, 0o700) },
		"symlink": func(p string) error { return os.Symlink("/dev/zero", p) },
		"dangling": func(p string) error {
			return os.Symlink(filepath.Join(dir, "nowhere"), p)
		},
	}
	for name, create := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := create(path); err != nil {
			t.Fatal(err)
		}
		done := inBackground(func() error { _, err := NewServiceFile(path).Load(); return err })
		select {
		case err := <-done:
			if !errors.Is(err, ErrServiceFile) {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Load hangs", name)
		}
	}
}

func inBackground(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// What "Mettre hors service" costs on the disk: a synced write and a
// synced folder, off the screen's loop.
func BenchmarkServiceFileSave(b *testing.B) {
	f := NewServiceFile(filepath.Join(b.TempDir(), "out-of-service"))
	s := OutOfService{Key: "oos.preset.fault", Since: time.Now()}
	for b.Loop() {
		if err := f.Save(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkServiceFileLoad(b *testing.B) {
	f := NewServiceFile(filepath.Join(b.TempDir(), "out-of-service"))
	if err := f.Save(OutOfService{Key: "oos.preset.fault", Since: time.Now()}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := f.Load(); err != nil {
			b.Fatal(err)
		}
	}
}
