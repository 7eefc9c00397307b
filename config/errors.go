package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a config file, at a position a technician can go
// to. Line and Col are 1-based; Col counts characters, not bytes. Line 0
// means the problem is about the whole file (it could not be read, say).
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

// Error returns "FILE:LINE:COL: message", or "FILE: message" when Line is 0.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Col)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a config file, in file order. Parse and
// Load return their errors as an Errors holding at least one *Error.
type Errors []*Error

// Error returns one line per problem.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives errors.As and errors.Is access to each *Error.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// sorted orders the errors by position and drops exact duplicates.
func (es Errors) sorted() Errors {
	slices.SortStableFunc(es, func(a, b *Error) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Col, b.Col)
	})
	return slices.CompactFunc(es, func(a, b *Error) bool { return *a == *b })
}

// How many problems a check places in the file (the rest are counted), and
// how many it reports: a file wrong everywhere gets a readable answer, in
// a time that does not grow with its mistakes.
const (
	maxCollected = 1000
	maxReported  = 50
)

// capped keeps the first maxReported errors, in file order, and says how
// many more there were (dropped of them were never placed).
func (es Errors) capped(file string, dropped int) Errors {
	es = es.sorted()
	if more := len(es) - maxReported + dropped; more > 0 {
		es = append(es[:min(len(es), maxReported)], &Error{File: file, Msg: fmt.Sprintf("… and %d more problems", more)})
	}
	return es
}
