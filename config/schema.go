package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// The schema check compares the position tree with the Go types of Config
// before anything is decoded, so that every unknown key and every value of
// the wrong type is reported at once, each with its own position. (The
// decoder would stop at the first.)

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

type schemaCheck struct {
	d       *doc
	unknown []problem // keys Config has no field for
	wrong   []problem // values of the wrong type
}

type problem struct {
	at  pos
	msg string
}

func (c *schemaCheck) check(n *node, t reflect.Type, path string) {
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if n.kind != valueNode || n.value != unstable.String {
			c.mismatch(n, path, expectedText(t))
			return
		}
		v := reflect.New(t).Interface().(encoding.TextUnmarshaler)
		if err := v.UnmarshalText([]byte(n.text)); err != nil {
			c.wrong = append(c.wrong, problem{c.d.offsetPos(n.at), path + ": " + err.Error()})
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.kind != tableNode {
			c.mismatch(n, path, "a table")
			return
		}
		fields := tomlFields(t)
		for _, k := range n.order {
			child := n.fields[k]
			f, ok := fields[k]
			if !ok {
				c.unknown = append(c.unknown, problem{c.d.offsetPos(child.key), unknownKey(joinPath(path, k), k, fields)})
				continue
			}
			c.check(child, f.Type, joinPath(path, k))
		}
	case reflect.Map:
		if n.kind != tableNode {
			c.mismatch(n, path, "a table")
			return
		}
		for _, k := range n.order {
			c.check(n.fields[k], t.Elem(), joinPath(path, k))
		}
	case reflect.Slice:
		if n.kind != arrayNode {
			c.mismatch(n, path, expectedText(t))
			return
		}
		for i, e := range n.elems {
			c.check(e, t.Elem(), path+"["+strconv.Itoa(i)+"]")
		}
	case reflect.String:
		if n.kind != valueNode || n.value != unstable.String {
			c.mismatch(n, path, expectedText(t))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.kind != valueNode || n.value != unstable.Integer {
			c.mismatch(n, path, expectedText(t))
		}
	case reflect.Bool:
		if n.kind != valueNode || n.value != unstable.Bool {
			c.mismatch(n, path, expectedText(t))
		}
	case reflect.Float32, reflect.Float64:
		if n.kind != valueNode || (n.value != unstable.Float && n.value != unstable.Integer) {
			c.mismatch(n, path, expectedText(t))
		}
	}
}

func (c *schemaCheck) mismatch(n *node, path, want string) {
	c.wrong = append(c.wrong, problem{c.d.offsetPos(n.at), fmt.Sprintf("%s: must be %s, not %s", path, want, describe(n))})
}

// expectedText says in plain words what a value of type t looks like.
func expectedText(t reflect.Type) string {
	if t == reflect.TypeFor[Duration]() {
		return `a duration in quotes, like "90s"`
	}
	switch t.Kind() {
	case reflect.String:
		return "text in quotes"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number without quotes"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "a list of tables"
		}
		if t.Elem().Kind() == reflect.String {
			return `a list of texts in quotes, like ["a", "b"]`
		}
		return "a list"
	}
	return "a " + t.Kind().String()
}

// describe says in plain words what was written.
func describe(n *node) string {
	switch n.kind {
	case tableNode:
		return "a table"
	case arrayNode:
		return "a list"
	}
	switch n.value {
	case unstable.String:
		return "text (" + strconv.Quote(clip(n.text, 40)) + ")"
	case unstable.Integer:
		return "a whole number (" + n.text + ")"
	case unstable.Float:
		return "a number (" + n.text + ")"
	case unstable.Bool:
		return n.text
	default:
		return "a date or time (" + n.text + ")"
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// tomlFields maps the toml names of t's fields to the fields.
func tomlFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f
	}
	return fields
}

func unknownKey(path, key string, fields map[string]reflect.StructField) string {
	msg := path + ": unknown key"
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	if s := closest(key, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// closest returns the candidate that looks most like s, if one does.
func closest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		dist := editDistance(strings.ToLower(s), c)
		limit := max(1, len(c)/3)
		if dist > limit && !(len(s) >= 3 && (strings.HasPrefix(c, s) || strings.HasPrefix(s, c))) {
			continue
		}
		if bestDist < 0 || dist < bestDist || dist == bestDist && c < best {
			best, bestDist = c, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	// Edits are insertions, deletions, substitutions and swaps of two
	// neighbours ("cfa" for "caf").
	var dist [65][65]int
	for i := range len(a) + 1 {
		dist[i][0] = i
	}
	for j := range len(b) + 1 {
		dist[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			dist[i][j] = min(dist[i-1][j]+1, dist[i][j-1]+1, dist[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				dist[i][j] = min(dist[i][j], dist[i-2][j-2]+1)
			}
		}
	}
	return dist[len(a)][len(b)]
}
