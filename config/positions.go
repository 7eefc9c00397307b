package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2/unstable"
)

// The decoder of the TOML library says where a value came from only when it
// fails. To name the line and column of any key in validation messages,
// Parse first walks the document with the library's low-level parser and
// keeps, for every key, where it and its value are written: a small tree
// shaped like the document.

// pos is a 1-based line and column (in characters). The zero pos is unknown.
type pos struct{ line, col int }

// The tree keeps byte offsets, and turns one into a line and a column only
// for a message that names it: counting characters from the line's start
// for every value made a long one-line array quadratic.
const noOffset = -1

// Limits of what a config can hold. No key of the schema is more than a few
// levels deep, and no list of it needs thousands of elements; a file past
// them is refused at once, before a tree or the decoder grows with it.
const (
	maxKeyParts  = 32
	maxArrayLen  = 10_000
	maxNestDepth = 32
	maxLineBytes = 64 << 10 // a line of keys is a few kilobytes at most
)

type nodeKind int

const (
	valueNode nodeKind = iota // a string, number, boolean or date
	tableNode                 // [table], inline table or dotted-key table
	arrayNode                 // [...] or [[array of tables]]
)

// node is one key of the document (or one element of an array).
type node struct {
	kind  nodeKind
	value unstable.Kind // for valueNode: String, Integer, Bool...
	at    int           // offset of the value; for tables the header or the first key naming it
	key   int           // offset of the key, for tables and key/values
	text  string        // the decoded value of a valueNode

	fields map[string]*node // tableNode
	order  []string         // tableNode: keys in document order
	elems  []*node          // arrayNode
}

func newTable(at int) *node {
	return &node{kind: tableNode, at: at, key: at, fields: map[string]*node{}}
}

func (n *node) set(name string, child *node) {
	if _, ok := n.fields[name]; !ok {
		n.order = append(n.order, name)
	}
	n.fields[name] = child
}

// doc is the position tree of one file.
type doc struct {
	data  []byte
	lines []int  // byte offset of the start of each line
	ascii []bool // whether each line is ASCII, where a column is a byte count
	root  *node
	// odd is set when the document defines a key twice or uses a key both
	// as a value and as a table. The decoder reports those; the tree is then
	// only approximate.
	odd bool
	// dups are keys written a second time in the same table, so that the
	// decoder's error about them can name them in full.
	dups []dupKey
}

type dupKey struct {
	parent *node
	name   string
	at     int
}

// syntaxError is the first error of the low-level parser, with its position.
type syntaxError struct {
	at  pos
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

// readDoc parses data into a position tree. It fails only on TOML syntax,
// and on a key or a list far beyond anything a config holds.
func readDoc(data []byte) (*doc, error) {
	d := &doc{data: data, lines: []int{0}, ascii: []bool{true}, root: newTable(0)}
	for i, c := range data {
		switch {
		case c == '\n':
			d.lines = append(d.lines, i+1)
			d.ascii = append(d.ascii, true)
		case c >= utf8.RuneSelf:
			d.ascii[len(d.ascii)-1] = false
		}
	}
	for i, start := range d.lines {
		end := len(data)
		if i+1 < len(d.lines) {
			end = d.lines[i+1]
		}
		if end-start > maxLineBytes {
			return nil, &syntaxError{at: pos{i + 1, 1}, msg: fmt.Sprintf("a line of %d bytes: no line of a config needs more than %d (one key per line, lists over several lines)", end-start, maxLineBytes)}
		}
	}
	var p unstable.Parser
	p.Reset(data)
	cur := d.root
	for p.NextExpression() {
		e := p.Expression()
		if err := d.tooBig(e); err != nil {
			return nil, err
		}
		switch e.Kind {
		case unstable.Table:
			cur = d.table(e)
		case unstable.ArrayTable:
			cur = d.arrayTable(e)
		case unstable.KeyValue:
			d.keyValue(cur, e)
		}
	}
	if err := p.Error(); err != nil {
		var perr *unstable.ParserError
		if errors.As(err, &perr) {
			return nil, &syntaxError{at: d.offsetPos(d.offsetOf(perr.Highlight)), msg: perr.Message}
		}
		return nil, &syntaxError{at: pos{1, 1}, msg: err.Error()}
	}
	return d, nil
}

// tooBig refuses an expression whose key has more parts, or whose value
// more elements or levels, than any config needs.
func (d *doc) tooBig(e *unstable.Node) error {
	if e.Kind == unstable.Comment {
		return nil
	}
	parts, it := 0, e.Key()
	for it.Next() {
		if parts++; parts > maxKeyParts {
			return &syntaxError{at: d.offsetPos(int(it.Node().Raw.Offset)), msg: fmt.Sprintf("a key of more than %d parts: no key of the config is that deep", maxKeyParts)}
		}
	}
	if e.Kind == unstable.KeyValue {
		return d.valueTooBig(e.Value(), 0)
	}
	return nil
}

func (d *doc) valueTooBig(v *unstable.Node, depth int) error {
	if v.Kind != unstable.Array && v.Kind != unstable.InlineTable {
		return nil
	}
	if depth >= maxNestDepth {
		return &syntaxError{at: d.offsetPos(d.offsetOf(v.Data)), msg: fmt.Sprintf("lists or tables nested more than %d deep: no value of the config is", maxNestDepth)}
	}
	n, it := 0, v.Children()
	for it.Next() {
		c := it.Node()
		if n++; n > maxArrayLen {
			return &syntaxError{at: d.offsetPos(int(c.Raw.Offset)), msg: fmt.Sprintf("a list or table of more than %d elements: no value of the config needs that many", maxArrayLen)}
		}
		if c.Kind == unstable.KeyValue {
			c = c.Value()
		}
		if err := d.valueTooBig(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// offsetOf returns where b, a slice of the document, starts in it.
func (d *doc) offsetOf(b []byte) int {
	off := cap(d.data) - cap(b)
	if off < 0 || off > len(d.data) {
		return 0
	}
	return off
}

// offsetPos turns a byte offset into a line and a column in characters.
func (d *doc) offsetPos(off int) pos {
	off = min(max(off, 0), len(d.data))
	i := sort.Search(len(d.lines), func(i int) bool { return d.lines[i] > off }) - 1
	start := d.lines[i]
	if d.ascii[i] {
		return pos{line: i + 1, col: off - start + 1}
	}
	return pos{line: i + 1, col: utf8.RuneCount(d.data[start:off]) + 1}
}

// lineColOffset turns a line and a byte column (as the decoder reports
// them) into a byte offset; noOffset when the line is not in the file.
func (d *doc) lineColOffset(line, col int) int {
	if line < 1 || line > len(d.lines) {
		return noOffset
	}
	start := d.lines[line-1]
	end := len(d.data)
	if line < len(d.lines) {
		end = d.lines[line]
	}
	return min(start+max(col-1, 0), end)
}

func (d *doc) rangePos(r unstable.Range) int { return int(r.Offset) }

// headerPos is where a [table] or [[table]] header starts: its first
// non-blank character.
func (d *doc) headerPos(e *unstable.Node) int {
	k := e.Key()
	k.Next()
	off := int(k.Node().Raw.Offset)
	for off > 0 && d.data[off-1] != '\n' {
		off--
	}
	for off < len(d.data) && (d.data[off] == ' ' || d.data[off] == '\t') {
		off++
	}
	return off
}

// keyParts returns the parts of a (possibly dotted) key and where each is.
func (d *doc) keyParts(e *unstable.Node) ([]string, []*unstable.Node) {
	var names []string
	var nodes []*unstable.Node
	it := e.Key()
	for it.Next() {
		names = append(names, string(it.Node().Data))
		nodes = append(nodes, it.Node())
	}
	return names, nodes
}

// walk descends from t along names, creating implicit tables and entering
// the last element of arrays of tables, as TOML does.
func (d *doc) walk(t *node, names []string, keys []*unstable.Node) *node {
	for i, name := range names {
		child := t.fields[name]
		switch {
		case child == nil:
			child = newTable(d.rangePos(keys[i].Raw))
			t.set(name, child)
		case child.kind == arrayNode && len(child.elems) > 0 && child.elems[len(child.elems)-1].kind == tableNode:
			child = child.elems[len(child.elems)-1]
		case child.kind != tableNode:
			d.odd = true
			child = newTable(d.rangePos(keys[i].Raw)) // detached: the decoder will complain
		}
		t = child
	}
	return t
}

func (d *doc) table(e *unstable.Node) *node {
	names, keys := d.keyParts(e)
	if len(names) == 0 {
		return d.root
	}
	parent := d.walk(d.root, names[:len(names)-1], keys[:len(keys)-1])
	last := names[len(names)-1]
	at := d.headerPos(e)
	t := parent.fields[last]
	switch {
	case t == nil:
		t = newTable(at)
		parent.set(last, t)
	case t.kind == tableNode:
		t.at, t.key = at, at // was implicit until now
	default:
		d.odd = true
		t = newTable(at)
	}
	return t
}

func (d *doc) arrayTable(e *unstable.Node) *node {
	names, keys := d.keyParts(e)
	if len(names) == 0 {
		return d.root
	}
	parent := d.walk(d.root, names[:len(names)-1], keys[:len(keys)-1])
	last := names[len(names)-1]
	at := d.headerPos(e)
	arr := parent.fields[last]
	switch {
	case arr == nil:
		arr = &node{kind: arrayNode, at: at, key: at}
		parent.set(last, arr)
	case arr.kind != arrayNode:
		d.odd = true
		arr = &node{kind: arrayNode, at: at, key: at}
	}
	t := newTable(at)
	arr.elems = append(arr.elems, t)
	return t
}

func (d *doc) keyValue(t *node, e *unstable.Node) {
	names, keys := d.keyParts(e)
	if len(names) == 0 {
		return
	}
	parent := d.walk(t, names[:len(names)-1], keys[:len(keys)-1])
	last := keys[len(keys)-1]
	// Arrays carry no position of their own: their value starts after the
	// key, the '=' and blanks.
	off := int(last.Raw.Offset + last.Raw.Length)
	for off < len(d.data) && (d.data[off] == ' ' || d.data[off] == '\t' || d.data[off] == '=') {
		off++
	}
	v := d.value(e.Value(), off)
	v.key = d.rangePos(keys[0].Raw)
	name := names[len(names)-1]
	if _, dup := parent.fields[name]; dup {
		d.odd = true
		d.dups = append(d.dups, dupKey{parent, name, v.key})
		return
	}
	parent.set(name, v)
}

// value converts a value node; at is used when the node has no position.
func (d *doc) value(v *unstable.Node, at int) *node {
	switch v.Kind {
	case unstable.Array:
		n := &node{kind: arrayNode, at: at, key: at}
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			cat := at
			if c.Kind != unstable.Array {
				cat = d.rangePos(c.Raw)
			}
			n.elems = append(n.elems, d.value(c, cat))
		}
		return n
	case unstable.InlineTable:
		n := newTable(d.rangePos(v.Raw))
		it := v.Children()
		for it.Next() {
			if c := it.Node(); c.Kind == unstable.KeyValue {
				d.keyValue(n, c)
			}
		}
		return n
	default:
		return &node{kind: valueNode, value: v.Kind, at: d.rangePos(v.Raw), text: string(v.Data)}
	}
}

// A path names a key the way messages show it: "site.stops[1].place".

type step struct {
	name  string
	index int // -1 for a key
}

func splitPath(path string) []step {
	var steps []step
	for part := range strings.SplitSeq(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			steps = append(steps, step{name: name, index: -1})
		}
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(num)
			if err != nil {
				break
			}
			steps = append(steps, step{index: i})
			_, rest, _ = strings.Cut(after, "[")
		}
	}
	return steps
}

// find returns the node at path and the deepest node found on the way.
func (d *doc) find(path string) (found, deepest *node) {
	n := d.root
	for _, s := range splitPath(path) {
		var next *node
		switch {
		case s.index < 0 && n.kind == tableNode:
			next = n.fields[s.name]
		case s.index >= 0 && n.kind == arrayNode && s.index < len(n.elems):
			next = n.elems[s.index]
		}
		if next == nil {
			return nil, n
		}
		n = next
	}
	return n, n
}

// has says whether path is written in the document.
func (d *doc) has(path string) bool {
	n, _ := d.find(path)
	return n != nil
}

// posOf is where a message about path should point: its value when it is
// written, else the table that should hold it, else the top of the file.
func (d *doc) posOf(path string) pos {
	_, n := d.find(path)
	if n == d.root || n.at == noOffset {
		return pos{1, 1}
	}
	return d.offsetPos(n.at)
}

// keyPos is where the key of path is written (its value's position for an
// array element), or what posOf says when it is not written.
func (d *doc) keyPos(path string) pos {
	n, _ := d.find(path)
	if n == nil || n.key == noOffset {
		return d.posOf(path)
	}
	return d.offsetPos(n.key)
}

// pathAt returns the path of the deepest key whose value starts at byte
// offset p, or "".
func (d *doc) pathAt(p int) string {
	if p == noOffset {
		return ""
	}
	var best string
	var visit func(n *node, path string)
	visit = func(n *node, path string) {
		if path != "" && (n.at == p || n.key == p) {
			best = path
		}
		for _, dk := range d.dups {
			if dk.parent == n && dk.at == p {
				best = joinPath(path, dk.name)
			}
		}
		switch n.kind {
		case tableNode:
			for _, k := range n.order {
				visit(n.fields[k], joinPath(path, k))
			}
		case arrayNode:
			for i, e := range n.elems {
				visit(e, path+"["+strconv.Itoa(i)+"]")
			}
		}
	}
	visit(d.root, "")
	return best
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
