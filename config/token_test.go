package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSyncTokenFile checks what Load says of usage.sync.token_file: a
// missing or world-readable file is an error at the value's position;
// Parse, which reads no file, leaves it alone.
func TestSyncTokenFile(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "sync.token")
	doc := base + fmt.Sprintf("\n[usage.sync]\nurl = \"https://collector.example/e\"\ntoken_file = %q\n", token)
	cfgPath := filepath.Join(dir, "borne.toml")
	if err := os.WriteFile(cfgPath, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	// Line 12 holds token_file; its value starts at column 14.
	at := cfgPath + ":12:14: usage.sync.token_file: "

	_, err := Load(cfgPath)
	if err == nil || !strings.Contains(err.Error(), at+fmt.Sprintf("%q does not exist", token)) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("missing token file: %v", err)
	}
	if _, err := Parse("borne.toml", []byte(doc)); err != nil {
		t.Errorf("Parse checks files: %v", err)
	}

	if err := os.WriteFile(token, []byte("s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(token, 0o644)
	_, err = Load(cfgPath)
	if err == nil || !strings.Contains(err.Error(), at+fmt.Sprintf("%q is readable by every user (mode 0644)", token)) {
		t.Errorf("world-readable token file: %v", err)
	}

	for _, mode := range []os.FileMode{0o600, 0o640, 0o400} {
		os.Chmod(token, mode)
		if _, err := Load(cfgPath); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}

	os.Remove(token)
	os.Mkdir(token, 0o700)
	if _, err := Load(cfgPath); err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("a folder: %v", err)
	}
}

func TestMetricsFileEndsInProm(t *testing.T) {
	doc := base + "\n[usage]\nmetrics_file = \"/var/lib/prometheus/node-exporter/borne.txt\"\n"
	_, err := Parse("borne.toml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "borne.toml:11:16: usage.metrics_file:") || !strings.Contains(err.Error(), "must end in .prom") {
		t.Errorf("metrics file: %v", err)
	}
	doc = strings.Replace(doc, ".txt", ".prom", 1)
	if _, err := Parse("borne.toml", []byte(doc)); err != nil {
		t.Error(err)
	}
}

// A host key others can read turns remote help off, with a warning at
// remote.host_key; a missing one is made by remote help, readable by the
// kiosk's user only.
func TestRemoteHostKeyModes(t *testing.T) {
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	doc := base + fmt.Sprintf("\n[remote]\nlisten = \"127.0.0.1:2222\"\nauthorized_keys = [%q]\nhost_key = %q\n", testKey, hostKey)
	cfgPath := filepath.Join(dir, "borne.toml")
	os.WriteFile(cfgPath, []byte(doc), 0o600)
	for mode, ok := range map[os.FileMode]bool{0o600: true, 0o400: true, 0o640: false, 0o644: false, 0o604: false} {
		os.WriteFile(hostKey, []byte("key"), 0o600)
		os.Chmod(hostKey, mode)
		c, err := Load(cfgPath)
		if err != nil {
			t.Fatalf("mode %04o refused the config: %v", mode, err)
		}
		if (c.Remote.Off == "") != ok {
			t.Errorf("mode %04o: off %q", mode, c.Remote.Off)
		}
		if !ok && !strings.Contains(c.Warnings.Error(), cfgPath+":13:12: remote.host_key: ") {
			t.Errorf("mode %04o: warnings %v", mode, c.Warnings)
		}
	}
	os.Remove(hostKey)
	if c, err := Load(cfgPath); err != nil || c.Remote.Off != "" {
		t.Errorf("no host key yet: %v %q", err, c.Remote.Off)
	}
	os.Symlink(cfgPath, hostKey)
	if c, err := Load(cfgPath); err != nil || !strings.Contains(c.Remote.Off, "not a plain file") {
		t.Errorf("a symlinked host key: %v", c.Remote.Off)
	}
}
