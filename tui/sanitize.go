package tui

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"
)

// clean makes text from config or a service safe to put on the terminal:
// valid UTF-8, one line, no control characters (C0, DEL, C1), no escape
// sequences and no bidi overrides that could reorder what a citizen reads.
func clean(s string) string {
	s = ansi.Strip(strings.ToValidUTF8(s, "�"))
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
			continue
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
			continue
		case unicode.Is(unicode.Co, r): // private use: no font shows it
			continue
		}
		space = r == ' '
		b.WriteRune(r)
	}
	return b.String()
}

// fit cuts s to at most w cells, marking the cut with an ellipsis.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// wrap breaks plain text into lines of at most w cells, between words
// where it can.
func wrap(s string, w int) []string {
	if s == "" || w <= 0 {
		return nil
	}
	return strings.Split(ansi.Wrap(s, w, ""), "\n")
}

// cut keeps the first n lines, marking the last with an ellipsis when
// some are dropped.
func cut(lines []string, n, w int) []string {
	if len(lines) <= n {
		return lines
	}
	if n <= 0 {
		return nil
	}
	out := append([]string(nil), lines[:n]...)
	out[n-1] = fit(out[n-1]+"…", w)
	return out
}
