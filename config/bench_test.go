package config

import (
	"strings"
	"testing"
)

// hugeConfigs are files under the 1 MiB limit built to make a checker
// slow: one very long line of array elements, valid or not, and a table
// header nested very deep.
func hugeConfigs() map[string][]byte {
	list := func(n int, elem string) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(elem)
		}
		return b.String()
	}
	deep := strings.Repeat("a.", 400_000-1) + "a"
	// The same, one element or key part a line, past the line limit.
	column := func(n int, elem string) string { return strings.ReplaceAll(list(n, elem), ",", ",\n") }
	return map[string][]byte{
		"array-500k-ints":    []byte(base + "[hardware.session]\nenvironment = [" + list(500_000, "1") + "]\n"),
		"array-300k-invalid": []byte(base + "[operators]\nenabled = [" + list(300_000, `""`) + "]\n"),
		"array-500k-nested":  []byte(base + "[operators]\nenabled = [" + list(250_000, "[]") + "]\n"),
		"array-10k-invalid":  []byte(base + "[operators]\nenabled = [" + column(10_000, `"nope"`) + "]\n"),
		"header-400k-deep":   []byte(base + "[" + deep + "]\n"),
		"column-250k-ints":   []byte(base + "[hardware.session]\nenvironment = [" + column(250_000, "1") + "]\n"),
	}
}

func BenchmarkParseHuge(b *testing.B) {
	for name, data := range hugeConfigs() {
		if len(data) > maxFileSize {
			b.Fatalf("%s: %d bytes, over the limit", name, len(data))
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				Parse("huge.toml", data)
			}
		})
	}
}

// The same files give a short answer: a few dozen lines at most, each with
// its place.
func TestHugeConfigsAnswerShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1 MiB configs")
	}
	for name, data := range hugeConfigs() {
		_, err := Parse("huge.toml", data)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) > 51 {
			t.Errorf("%s: %d lines of errors", name, len(lines))
		}
		if !strings.HasPrefix(lines[0], "huge.toml:") {
			t.Errorf("%s: %q", name, lines[0])
		}
		if name == "array-10k-invalid" && (len(lines) != 51 || lines[50] != "huge.toml: … and 9950 more problems" || !strings.HasPrefix(lines[0], "huge.toml:10:12: operators.enabled[0]")) {
			t.Errorf("%s: first %q, last %q of %d lines", name, lines[0], lines[len(lines)-1], len(lines))
		}
	}
}
