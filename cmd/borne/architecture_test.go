package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ARCHITECTURE.md names every package of the module and every file of
// this one, so that a newcomer finds any behaviour in one hop.
func TestArchitectureMap(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	named := func(s string) bool {
		return strings.Contains(string(doc), "`"+s+"`") || strings.Contains(string(doc), s+" ")
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		dir, _ := filepath.Rel(root, filepath.Dir(p))
		if !named(filepath.ToSlash(dir)) {
			t.Errorf("ARCHITECTURE.md does not name the package %s", dir)
		}
		if dir == filepath.Join("cmd", "borne") && !named(d.Name()) {
			t.Errorf("ARCHITECTURE.md does not name cmd/borne/%s", d.Name())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
