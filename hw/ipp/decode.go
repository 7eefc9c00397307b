package ipp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// maxDepth bounds collections within collections: real printers nest
// three deep (media-col, media-size), a hostile answer could nest until
// the stack ran out.
const maxDepth = 16

// ErrTruncated is returned when a message ends before its
// end-of-attributes tag.
var ErrTruncated = errors.New("ipp: message truncated")

// UnmarshalBinary decodes a message, ignoring any document data after it.
func (m *Message) UnmarshalBinary(b []byte) error {
	d, _, err := Decode(b)
	if err != nil {
		return err
	}
	*m = *d
	return nil
}

// Decode decodes the message at the start of b and returns it with the
// bytes that follow its end-of-attributes tag (a document, if any).
func Decode(b []byte) (*Message, []byte, error) {
	d := decoder{b: b}
	if len(b) < 8 {
		return nil, nil, ErrTruncated
	}
	m := &Message{
		Major:     b[0],
		Minor:     b[1],
		Code:      binary.BigEndian.Uint16(b[2:]),
		RequestID: binary.BigEndian.Uint32(b[4:]),
	}
	d.off = 8
	for {
		tag, err := d.byte()
		if err != nil {
			return nil, nil, err
		}
		t := Tag(tag)
		if t == TagEnd {
			return m, b[d.off:], nil
		}
		if t.IsDelimiter() {
			if t == 0 {
				return nil, nil, d.errorf(-1, "0x00 is not a group tag")
			}
			m.Groups = append(m.Groups, Group{Tag: t})
			continue
		}
		if len(m.Groups) == 0 {
			return nil, nil, d.errorf(-1, "a value before any attribute group")
		}
		g := &m.Groups[len(m.Groups)-1]
		name, err := d.short()
		if err != nil {
			return nil, nil, err
		}
		if t == TagMemberName || t == TagEndCollection {
			return nil, nil, d.errorf(-1, "tag 0x%02x outside a collection", tag)
		}
		v, err := d.value(t, 0)
		if err != nil {
			return nil, nil, err
		}
		if name == "" {
			if len(g.Attrs) == 0 {
				return nil, nil, d.errorf(-1, "an additional value with no attribute before it")
			}
			last := &g.Attrs[len(g.Attrs)-1]
			last.Values = append(last.Values, v)
			continue
		}
		g.Attrs = append(g.Attrs, Attribute{Name: name, Values: []Value{v}})
	}
}

type decoder struct {
	b   []byte
	off int
}

func (d *decoder) errorf(at int, format string, args ...any) error {
	if at < 0 {
		at = d.off
	}
	return fmt.Errorf("ipp: at byte %d: %s", at, fmt.Sprintf(format, args...))
}

func (d *decoder) byte() (byte, error) {
	if d.off >= len(d.b) {
		return 0, ErrTruncated
	}
	c := d.b[d.off]
	d.off++
	return c, nil
}

// bytes reads a length-prefixed field.
func (d *decoder) bytes() ([]byte, error) {
	if d.off+2 > len(d.b) {
		return nil, ErrTruncated
	}
	n := int(binary.BigEndian.Uint16(d.b[d.off:]))
	d.off += 2
	if d.off+n > len(d.b) {
		return nil, ErrTruncated
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s, nil
}

func (d *decoder) short() (string, error) {
	s, err := d.bytes()
	return string(s), err
}

// value decodes the value-length and value that follow a tag and its name;
// for a begCollection it also reads the members up to endCollection.
func (d *decoder) value(t Tag, depth int) (Value, error) {
	at := d.off
	raw, err := d.bytes()
	if err != nil {
		return Value{}, err
	}
	v := Value{Tag: t}
	fixed := func(n int) error {
		if len(raw) != n {
			return d.errorf(at, "a value of tag 0x%02x has %d bytes, not %d", byte(t), len(raw), n)
		}
		return nil
	}
	switch {
	case t.IsOutOfBand():
		// Out-of-band values carry no bytes; tolerate some anyway.
	case t == TagInteger || t == TagEnum:
		if err := fixed(4); err != nil {
			return v, err
		}
		v.Int = int32(binary.BigEndian.Uint32(raw))
	case t == TagBoolean:
		if err := fixed(1); err != nil {
			return v, err
		}
		if raw[0] != 0 {
			v.Int = 1
		}
	case t == TagRange:
		if err := fixed(8); err != nil {
			return v, err
		}
		v.Int = int32(binary.BigEndian.Uint32(raw))
		v.Upper = int32(binary.BigEndian.Uint32(raw[4:]))
	case t == TagResolution:
		if err := fixed(9); err != nil {
			return v, err
		}
		v.Res = [3]int32{int32(binary.BigEndian.Uint32(raw)), int32(binary.BigEndian.Uint32(raw[4:])), int32(raw[8])}
	case t == TagTextLang || t == TagNameLang:
		sub := decoder{b: raw}
		lang, err1 := sub.short()
		text, err2 := sub.short()
		if err1 != nil || err2 != nil || sub.off != len(raw) {
			return v, d.errorf(at, "a malformed string with language")
		}
		v.Lang, v.Text = lang, text
	case t == TagBeginCollection:
		if depth >= maxDepth {
			return v, d.errorf(at, "collections nested more than %d deep", maxDepth)
		}
		members, err := d.members(depth + 1)
		if err != nil {
			return v, err
		}
		v.Members = members
	case t.isString():
		v.Text = string(raw)
	default:
		v.Raw = append([]byte{}, raw...)
	}
	return v, nil
}

// members reads a collection's members up to its endCollection.
func (d *decoder) members(depth int) ([]Attribute, error) {
	members := []Attribute{}
	for {
		tag, err := d.byte()
		if err != nil {
			return nil, err
		}
		t := Tag(tag)
		if t.IsDelimiter() {
			return nil, d.errorf(d.off-1, "collection not ended before tag 0x%02x", tag)
		}
		if _, err := d.short(); err != nil { // always empty inside a collection
			return nil, err
		}
		switch t {
		case TagEndCollection:
			if _, err := d.bytes(); err != nil {
				return nil, err
			}
			return members, nil
		case TagMemberName:
			name, err := d.short()
			if err != nil {
				return nil, err
			}
			members = append(members, Attribute{Name: name})
		default:
			if len(members) == 0 {
				return nil, d.errorf(d.off, "a collection value with no member name before it")
			}
			v, err := d.value(t, depth)
			if err != nil {
				return nil, err
			}
			last := &members[len(members)-1]
			last.Values = append(last.Values, v)
		}
	}
}
