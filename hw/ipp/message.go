package ipp

import (
	"fmt"
	"strings"
)

// Message is an IPP request or response.
type Message struct {
	// Major and Minor are the protocol version; requests are sent as 1.1,
	// the version every CUPS since 1.0 understands.
	Major, Minor byte
	// Code is the operation of a request or the status of a response.
	Code      uint16
	RequestID uint32
	Groups    []Group
}

// Group is an attribute group: operation, job, printer, subscription…
type Group struct {
	Tag   Tag
	Attrs []Attribute
}

// Attribute is a named attribute and its values (more than one for a
// 1setOf).
type Attribute struct {
	Name   string
	Values []Value
}

// Value is one attribute value. Tag says which of the fields holds it.
type Value struct {
	Tag Tag
	// Int holds integer, enum and boolean (0 or 1) values, and the lower
	// bound of a range.
	Int int32
	// Upper is the upper bound of a rangeOfInteger.
	Upper int32
	// Text holds every string syntax: text, name, keyword, uri, charset,
	// naturalLanguage, mimeMediaType, memberAttrName, octetString.
	Text string
	// Lang is the language of a textWithLanguage or nameWithLanguage.
	Lang string
	// Res is a resolution: cross-feed, feed and units (3 = dots per inch).
	Res [3]int32
	// Members holds a collection.
	Members []Attribute
	// Raw holds a dateTime, and any value whose syntax is not known here,
	// byte for byte so that it survives a decode and encode.
	Raw []byte
}

// NewRequest returns a request for op with the operation attributes every
// request begins with: the charset and the natural language (RFC 8011
// 4.1.4); lang is "fr", "en"…, "en" when empty.
func NewRequest(op Op, lang string) *Message {
	if lang == "" {
		lang = "en"
	}
	m := &Message{Major: 1, Minor: 1, Code: uint16(op)}
	m.Add(TagOperation, "attributes-charset", Charset("utf-8"))
	m.Add(TagOperation, "attributes-natural-language", Language(lang))
	return m
}

// Op is the operation of a request.
func (m *Message) Op() Op { return Op(m.Code) }

// Status is the status of a response.
func (m *Message) Status() Status { return Status(m.Code) }

// Add appends an attribute to the last group with tag g, starting that
// group when the last group has another tag. It returns m.
func (m *Message) Add(g Tag, name string, values ...Value) *Message {
	if n := len(m.Groups); n == 0 || m.Groups[n-1].Tag != g {
		m.Groups = append(m.Groups, Group{Tag: g})
	}
	last := &m.Groups[len(m.Groups)-1]
	last.Attrs = append(last.Attrs, Attribute{Name: name, Values: values})
	return m
}

// Group returns the first group with tag g.
func (m *Message) Group(g Tag) (Group, bool) {
	for _, gr := range m.Groups {
		if gr.Tag == g {
			return gr, true
		}
	}
	return Group{}, false
}

// All returns every group with tag g, in order: one per job in a Get-Jobs
// response.
func (m *Message) All(g Tag) []Group {
	var out []Group
	for _, gr := range m.Groups {
		if gr.Tag == g {
			out = append(out, gr)
		}
	}
	return out
}

// Attr finds an attribute in the first group with tag g.
func (m *Message) Attr(g Tag, name string) (Attribute, bool) {
	gr, ok := m.Group(g)
	if !ok {
		return Attribute{}, false
	}
	return gr.Attr(name)
}

// StatusMessage is the response's status-message, the server's own words
// for what went wrong.
func (m *Message) StatusMessage() string {
	a, _ := m.Attr(TagOperation, "status-message")
	return a.String()
}

// Attr finds an attribute by name.
func (g Group) Attr(name string) (Attribute, bool) {
	for _, a := range g.Attrs {
		if a.Name == name {
			return a, true
		}
	}
	return Attribute{}, false
}

// Int is the attribute's first integer or enum value, and whether there
// is one.
func (g Group) Int(name string) (int, bool) {
	a, ok := g.Attr(name)
	if !ok || len(a.Values) == 0 {
		return 0, false
	}
	switch a.Values[0].Tag {
	case TagInteger, TagEnum, TagBoolean:
		return int(a.Values[0].Int), true
	}
	return 0, false
}

// Text is the attribute's first value as text; empty when absent.
func (g Group) Text(name string) string {
	a, _ := g.Attr(name)
	return a.String()
}

// Strings is every value of a string-valued attribute.
func (g Group) Strings(name string) []string {
	a, _ := g.Attr(name)
	return a.Strings()
}

// Ints is every value of an integer-valued attribute.
func (g Group) Ints(name string) []int {
	a, _ := g.Attr(name)
	var out []int
	for _, v := range a.Values {
		switch v.Tag {
		case TagInteger, TagEnum, TagBoolean:
			out = append(out, int(v.Int))
		}
	}
	return out
}

// Bool is the attribute's first boolean value, and whether there is one.
func (g Group) Bool(name string) (bool, bool) {
	a, ok := g.Attr(name)
	if !ok || len(a.Values) == 0 || a.Values[0].Tag != TagBoolean {
		return false, false
	}
	return a.Values[0].Int != 0, true
}

// String is the first value as text; empty when there is none.
func (a Attribute) String() string {
	if len(a.Values) == 0 {
		return ""
	}
	return a.Values[0].String()
}

// Strings is every value as text.
func (a Attribute) Strings() []string {
	out := make([]string, 0, len(a.Values))
	for _, v := range a.Values {
		out = append(out, v.String())
	}
	return out
}

// String renders the value as a person would read it.
func (v Value) String() string {
	switch {
	case v.Tag == TagInteger || v.Tag == TagEnum:
		return fmt.Sprint(v.Int)
	case v.Tag == TagBoolean:
		return fmt.Sprint(v.Int != 0)
	case v.Tag == TagRange:
		return fmt.Sprintf("%d-%d", v.Int, v.Upper)
	case v.Tag == TagResolution:
		return fmt.Sprintf("%dx%d", v.Res[0], v.Res[1])
	case v.Tag == TagBeginCollection:
		var b strings.Builder
		b.WriteByte('{')
		for i, m := range v.Members {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(m.Name + "=" + strings.Join(m.Strings(), ","))
		}
		b.WriteByte('}')
		return b.String()
	case v.Tag.IsOutOfBand():
		return ""
	case v.Tag == TagDateTime || v.Raw != nil:
		return fmt.Sprintf("%x", v.Raw)
	}
	return v.Text
}

// Integer is an integer value.
func Integer(n int) Value { return Value{Tag: TagInteger, Int: int32(n)} }

// Enum is an enum value.
func Enum(n int) Value { return Value{Tag: TagEnum, Int: int32(n)} }

// Boolean is a boolean value.
func Boolean(b bool) Value {
	v := Value{Tag: TagBoolean}
	if b {
		v.Int = 1
	}
	return v
}

// Keyword is a keyword value.
func Keyword(s string) Value { return Value{Tag: TagKeyword, Text: s} }

// Name is a nameWithoutLanguage value.
func Name(s string) Value { return Value{Tag: TagName, Text: s} }

// Text is a textWithoutLanguage value.
func Text(s string) Value { return Value{Tag: TagText, Text: s} }

// URI is a uri value.
func URI(s string) Value { return Value{Tag: TagURI, Text: s} }

// Charset is a charset value.
func Charset(s string) Value { return Value{Tag: TagCharset, Text: s} }

// Language is a naturalLanguage value.
func Language(s string) Value { return Value{Tag: TagLanguage, Text: s} }

// MimeType is a mimeMediaType value.
func MimeType(s string) Value { return Value{Tag: TagMimeType, Text: s} }

// Keywords is one keyword value per word, for a 1setOf keyword.
func Keywords(words ...string) []Value {
	out := make([]Value, len(words))
	for i, w := range words {
		out[i] = Keyword(w)
	}
	return out
}
