package ipp

import (
	"encoding/binary"
	"fmt"
	"math"
)

// maxShort is the largest name or value length the encoding can carry:
// lengths are SIGNED-SHORT (RFC 8010 3.1.3).
const maxShort = math.MaxInt16

// MarshalBinary encodes the message up to and including the
// end-of-attributes tag; a document, if any, follows it on the wire.
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, 256))
}

// AppendBinary appends the encoded message to b.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, m.Major, m.Minor)
	b = binary.BigEndian.AppendUint16(b, m.Code)
	b = binary.BigEndian.AppendUint32(b, m.RequestID)
	for _, g := range m.Groups {
		if !g.Tag.IsDelimiter() || g.Tag == TagEnd || g.Tag == 0 {
			return nil, fmt.Errorf("ipp: 0x%02x is not a group tag", byte(g.Tag))
		}
		b = append(b, byte(g.Tag))
		for _, a := range g.Attrs {
			var err error
			if b, err = appendAttr(b, a); err != nil {
				return nil, err
			}
		}
	}
	return append(b, byte(TagEnd)), nil
}

func appendAttr(b []byte, a Attribute) ([]byte, error) {
	if a.Name == "" {
		return nil, fmt.Errorf("ipp: an attribute has no name")
	}
	if len(a.Values) == 0 {
		return nil, fmt.Errorf("ipp: attribute %q has no value", a.Name)
	}
	for i, v := range a.Values {
		name := a.Name
		if i > 0 {
			name = "" // an additional value of the same attribute
		}
		var err error
		if b, err = appendValue(b, name, v); err != nil {
			return nil, fmt.Errorf("ipp: attribute %q: %w", a.Name, err)
		}
	}
	return b, nil
}

func appendValue(b []byte, name string, v Value) ([]byte, error) {
	if v.Tag.IsDelimiter() || v.Tag == TagEndCollection || v.Tag == TagMemberName {
		return nil, fmt.Errorf("0x%02x is not a value tag", byte(v.Tag))
	}
	var err error
	if b, err = appendShortString(append(b, byte(v.Tag)), name); err != nil {
		return nil, err
	}
	switch {
	case v.Tag.IsOutOfBand():
		return append(b, 0, 0), nil
	case v.Tag == TagInteger || v.Tag == TagEnum:
		b = append(b, 0, 4)
		return binary.BigEndian.AppendUint32(b, uint32(v.Int)), nil
	case v.Tag == TagBoolean:
		if v.Int != 0 {
			return append(b, 0, 1, 1), nil
		}
		return append(b, 0, 1, 0), nil
	case v.Tag == TagRange:
		b = append(b, 0, 8)
		b = binary.BigEndian.AppendUint32(b, uint32(v.Int))
		return binary.BigEndian.AppendUint32(b, uint32(v.Upper)), nil
	case v.Tag == TagResolution:
		b = append(b, 0, 9)
		b = binary.BigEndian.AppendUint32(b, uint32(v.Res[0]))
		b = binary.BigEndian.AppendUint32(b, uint32(v.Res[1]))
		return append(b, byte(v.Res[2])), nil
	case v.Tag == TagTextLang || v.Tag == TagNameLang:
		n := 4 + len(v.Lang) + len(v.Text)
		if n > maxShort {
			return nil, fmt.Errorf("value of %d bytes is too long", n)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(n))
		b, _ = appendShortString(b, v.Lang)
		return appendShortString(b, v.Text)
	case v.Tag == TagBeginCollection:
		return appendMembers(append(b, 0, 0), v.Members)
	case v.Tag.isString():
		return appendShortString(b, v.Text)
	}
	return appendShortString(b, string(v.Raw))
}

// appendMembers writes a collection's members after its begCollection
// value: each member is a memberAttrName value carrying the name, then the
// member's values with empty names (RFC 8010 3.1.6).
func appendMembers(b []byte, members []Attribute) ([]byte, error) {
	for _, m := range members {
		if m.Name == "" || len(m.Values) == 0 {
			return nil, fmt.Errorf("collection member %q has no name or no value", m.Name)
		}
		b = append(b, byte(TagMemberName), 0, 0)
		var err error
		if b, err = appendShortString(b, m.Name); err != nil {
			return nil, err
		}
		for _, v := range m.Values {
			if b, err = appendValue(b, "", v); err != nil {
				return nil, fmt.Errorf("member %q: %w", m.Name, err)
			}
		}
	}
	return append(b, byte(TagEndCollection), 0, 0, 0, 0), nil
}

func appendShortString(b []byte, s string) ([]byte, error) {
	if len(s) > maxShort {
		return nil, fmt.Errorf("value of %d bytes is too long", len(s))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...), nil
}
