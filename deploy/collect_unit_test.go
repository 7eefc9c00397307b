package deploy

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// The collector's unit passes systemd-analyze verify without a word.
func TestCollectUnitVerifies(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	root := verifyRoot(t)
	copyFile(t, filepath.Join("systemd", "borne-collect.service"), filepath.Join(root, "usr/lib/systemd/system/borne-collect.service"), 0o644)
	out, err := exec.Command(analyze, "verify", "--root="+root, "--man=no", "borne-collect.service").CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
