package file

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/brinecm/brine/pkg/saltdata"
)

// Apple property lists, as Python's plistlib writes and reads them
// (Salt's plist serializer): XML by default, binary (bplist00) with the
// option fmt: FMT_BINARY. Mappings, lists, strings, integers, floats and
// booleans; plistlib refuses None, and so does brine.

const plistHeader = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
`

// plistBinary reads the plist serializer's fmt option.
func plistBinary(opts map[string]any) (bool, error) {
	if err := onlyOpts("plist", opts, "fmt"); err != nil {
		return false, err
	}
	switch v := opts["fmt"]; v {
	case nil, "FMT_XML":
		return false, nil
	case "FMT_BINARY":
		return true, nil
	default:
		return false, fmt.Errorf("the plist serializer's fmt is FMT_XML or FMT_BINARY, not %v", v)
	}
}

func writePlist(data any, opts map[string]any) ([]byte, error) {
	bin, err := plistBinary(opts)
	if err != nil {
		return nil, err
	}
	if bin {
		return writeBplist(data)
	}
	var buf bytes.Buffer
	buf.WriteString(plistHeader)
	if err := writePlistXML(&buf, data, 0); err != nil {
		return nil, err
	}
	buf.WriteString("</plist>\n")
	return buf.Bytes(), nil
}

// writePlistXML writes one value indented by depth tabs, keys sorted.
func writePlistXML(buf *bytes.Buffer, v any, depth int) error {
	ind := strings.Repeat("\t", depth)
	text := func(tag, s string) {
		buf.WriteString(ind + "<" + tag + ">")
		xml.EscapeText(buf, []byte(s))
		buf.WriteString("</" + tag + ">\n")
	}
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			buf.WriteString(ind + "<dict/>\n")
			return nil
		}
		buf.WriteString(ind + "<dict>\n")
		for _, k := range slices.Sorted(maps.Keys(x)) {
			buf.WriteString(ind + "\t<key>")
			xml.EscapeText(buf, []byte(k))
			buf.WriteString("</key>\n")
			if err := writePlistXML(buf, x[k], depth+1); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		buf.WriteString(ind + "</dict>\n")
	case []any:
		if len(x) == 0 {
			buf.WriteString(ind + "<array/>\n")
			return nil
		}
		buf.WriteString(ind + "<array>\n")
		for i, it := range x {
			if err := writePlistXML(buf, it, depth+1); err != nil {
				return fmt.Errorf("item %d: %w", i+1, err)
			}
		}
		buf.WriteString(ind + "</array>\n")
	case string:
		text("string", x)
	case bool:
		if x {
			buf.WriteString(ind + "<true/>\n")
		} else {
			buf.WriteString(ind + "<false/>\n")
		}
	case int:
		text("integer", strconv.Itoa(x))
	case int64:
		text("integer", strconv.FormatInt(x, 10))
	case float64:
		text("real", saltdata.PyFloat(x))
	case []byte:
		text("data", base64.StdEncoding.EncodeToString(x))
	default:
		return fmt.Errorf("a plist cannot hold %s", pyType(v))
	}
	return nil
}

func readPlist(b []byte, opts map[string]any) (any, error) {
	if _, err := plistBinary(opts); err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, []byte("bplist00")) {
		return readBplist(b)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("not a property list: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				return nil, fmt.Errorf("not a property list: <%s> where <plist> should be", se.Name.Local)
			}
			v, end, err := readPlistXML(d)
			if err != nil {
				return nil, err
			}
			if end {
				return nil, errors.New("an empty <plist>")
			}
			return v, nil
		}
	}
}

// readPlistXML reads the next value; end reports the end of the
// enclosing element instead.
func readPlistXML(d *xml.Decoder) (v any, end bool, err error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, false, fmt.Errorf("reading the property list: %w", err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil, true, nil
		case xml.StartElement:
			v, err := readPlistElement(d, t)
			return v, false, err
		}
	}
}

func readPlistElement(d *xml.Decoder, se xml.StartElement) (any, error) {
	line, _ := d.InputPos()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("line %d: <%s>: %s", line, se.Name.Local, fmt.Sprintf(format, a...))
	}
	chars := func() (string, error) {
		var s string
		if err := d.DecodeElement(&s, &se); err != nil {
			return "", bad("%v", err)
		}
		return s, nil
	}
	switch se.Name.Local {
	case "dict":
		m := map[string]any{}
		for {
			k, end, err := readPlistXML(d)
			if err != nil {
				return nil, err
			}
			if end {
				return m, nil
			}
			key, ok := k.(plistKey)
			if !ok {
				return nil, bad("a value where a <key> should be")
			}
			v, end, err := readPlistXML(d)
			if err != nil {
				return nil, err
			}
			if end {
				return nil, bad("key %q has no value", string(key))
			}
			m[string(key)] = v
		}
	case "array":
		l := []any{}
		for {
			v, end, err := readPlistXML(d)
			if err != nil {
				return nil, err
			}
			if end {
				return l, nil
			}
			l = append(l, v)
		}
	case "key":
		s, err := chars()
		return plistKey(s), err
	case "string", "date":
		return chars()
	case "integer":
		s, err := chars()
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
		if err != nil {
			return nil, bad("%v", err)
		}
		return int(n), nil
	case "real":
		s, err := chars()
		if err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, bad("%v", err)
		}
		return f, nil
	case "true", "false":
		if err := d.Skip(); err != nil {
			return nil, bad("%v", err)
		}
		return se.Name.Local == "true", nil
	case "data":
		s, err := chars()
		if err != nil {
			return nil, err
		}
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, bad("%v", err)
		}
		return b, nil
	}
	return nil, bad("not a property list element")
}

// plistKey is a <key> read where a dict's key belongs.
type plistKey string

// writeBplist writes a binary property list (bplist00): the objects,
// their offset table and the trailer.
func writeBplist(data any) ([]byte, error) {
	var objs [][]byte
	var add func(v any) (int, error)
	add = func(v any) (int, error) {
		idx := len(objs)
		objs = append(objs, nil)
		var b []byte
		switch x := v.(type) {
		case map[string]any:
			keys := slices.Sorted(maps.Keys(x))
			refs := make([]int, 0, 2*len(keys))
			for _, k := range keys {
				r, _ := add(k)
				refs = append(refs, r)
			}
			for _, k := range keys {
				r, err := add(x[k])
				if err != nil {
					return 0, fmt.Errorf("%s: %w", k, err)
				}
				refs = append(refs, r)
			}
			b = append(bplistMarker(0xD, len(keys)), bplistRefs(refs)...)
		case []any:
			refs := make([]int, len(x))
			for i, it := range x {
				r, err := add(it)
				if err != nil {
					return 0, fmt.Errorf("item %d: %w", i+1, err)
				}
				refs[i] = r
			}
			b = append(bplistMarker(0xA, len(x)), bplistRefs(refs)...)
		case string:
			ascii := true
			for i := 0; i < len(x); i++ {
				if x[i] >= 0x80 {
					ascii = false
					break
				}
			}
			if ascii {
				b = append(bplistMarker(0x5, len(x)), x...)
			} else {
				u := utf16.Encode([]rune(x))
				b = bplistMarker(0x6, len(u))
				for _, c := range u {
					b = binary.BigEndian.AppendUint16(b, c)
				}
			}
		case bool:
			b = []byte{0x08}
			if x {
				b = []byte{0x09}
			}
		case int:
			b = bplistInt(int64(x))
		case int64:
			b = bplistInt(x)
		case float64:
			b = binary.BigEndian.AppendUint64([]byte{0x23}, math.Float64bits(x))
		case []byte:
			b = append(bplistMarker(0x4, len(x)), x...)
		default:
			return 0, fmt.Errorf("a plist cannot hold %s", pyType(v))
		}
		objs[idx] = b
		return idx, nil
	}
	if _, err := add(data); err != nil {
		return nil, err
	}
	if len(objs) > 0xFFFF {
		return nil, fmt.Errorf("%d objects are more than a binary plist written by brine holds (65535)", len(objs))
	}
	out := []byte("bplist00")
	offsets := make([]int, len(objs))
	for i, b := range objs {
		offsets[i] = len(out)
		out = append(out, b...)
	}
	tableAt := len(out)
	offSize := 8
	switch {
	case tableAt <= 0xFF:
		offSize = 1
	case tableAt <= 0xFFFF:
		offSize = 2
	case tableAt <= 0xFFFFFFFF:
		offSize = 4
	}
	for _, o := range offsets {
		out = bplistUint(out, uint64(o), offSize)
	}
	trailer := make([]byte, 32)
	trailer[6] = byte(offSize)
	trailer[7] = 2 // object references: two bytes each
	binary.BigEndian.PutUint64(trailer[8:], uint64(len(objs)))
	binary.BigEndian.PutUint64(trailer[24:], uint64(tableAt))
	return append(out, trailer...), nil
}

// bplistRefs writes object references, two bytes each (so a plist that
// brine writes holds at most 65535 objects).
func bplistRefs(refs []int) []byte {
	b := make([]byte, 0, 2*len(refs))
	for _, r := range refs {
		b = binary.BigEndian.AppendUint16(b, uint16(r))
	}
	return b
}

func bplistMarker(kind byte, n int) []byte {
	if n < 15 {
		return []byte{kind<<4 | byte(n)}
	}
	return append([]byte{kind<<4 | 0xF}, bplistInt(int64(n))...)
}

func bplistInt(n int64) []byte {
	switch {
	case n >= 0 && n <= 0xFF:
		return []byte{0x10, byte(n)}
	case n >= 0 && n <= 0xFFFF:
		return binary.BigEndian.AppendUint16([]byte{0x11}, uint16(n))
	case n >= 0 && n <= 0xFFFFFFFF:
		return binary.BigEndian.AppendUint32([]byte{0x12}, uint32(n))
	}
	return binary.BigEndian.AppendUint64([]byte{0x13}, uint64(n))
}

func bplistUint(b []byte, v uint64, size int) []byte {
	for i := size - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// readBplist reads a binary property list.
func readBplist(b []byte) (any, error) {
	if len(b) < 8+32 {
		return nil, errors.New("a binary plist too short for its trailer")
	}
	tr := b[len(b)-32:]
	offSize, refSize := int(tr[6]), int(tr[7])
	n := binary.BigEndian.Uint64(tr[8:])
	top := binary.BigEndian.Uint64(tr[16:])
	tableAt := binary.BigEndian.Uint64(tr[24:])
	if offSize < 1 || offSize > 8 || refSize < 1 || refSize > 8 || n == 0 || top >= n ||
		tableAt > uint64(len(b)-32) || n > (uint64(len(b)-32)-tableAt)/uint64(offSize) {
		return nil, errors.New("a binary plist with a broken trailer")
	}
	r := bplistReader{b: b, offSize: offSize, refSize: refSize, n: int(n), table: int(tableAt)}
	return r.object(int(top), 0)
}

type bplistReader struct {
	b                   []byte
	offSize, refSize, n int
	table               int
}

func (r *bplistReader) uint(at, size int) (uint64, error) {
	if at < 0 || at+size > len(r.b) {
		return 0, io.ErrUnexpectedEOF
	}
	var v uint64
	for _, c := range r.b[at : at+size] {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (r *bplistReader) object(idx, depth int) (any, error) {
	if idx < 0 || idx >= r.n || depth > 512 {
		return nil, fmt.Errorf("a binary plist refers to object %d of %d", idx, r.n)
	}
	off, err := r.uint(r.table+idx*r.offSize, r.offSize)
	if err != nil || off >= uint64(r.table) {
		return nil, fmt.Errorf("a binary plist's object %d is out of place", idx)
	}
	at := int(off)
	marker := r.b[at]
	kind, low := marker>>4, int(marker&0xF)
	count := func() (int, int, error) { // the length and where the content starts
		if low != 0xF {
			return low, at + 1, nil
		}
		if at+1 >= len(r.b) || r.b[at+1]>>4 != 0x1 {
			return 0, 0, errors.New("a binary plist length that is not an integer")
		}
		size := 1 << (r.b[at+1] & 0xF)
		v, err := r.uint(at+2, size)
		if err != nil || v > uint64(len(r.b)) {
			return 0, 0, errors.New("a binary plist length past its end")
		}
		return int(v), at + 2 + size, nil
	}
	switch kind {
	case 0x0:
		switch marker {
		case 0x08:
			return false, nil
		case 0x09:
			return true, nil
		}
	case 0x1:
		size := 1 << low
		v, err := r.uint(at+1, size)
		if err != nil {
			return nil, err
		}
		if size == 8 {
			return int(int64(v)), nil
		}
		return int(v), nil
	case 0x2:
		size := 1 << low
		v, err := r.uint(at+1, size)
		if err != nil {
			return nil, err
		}
		if size == 4 {
			return float64(math.Float32frombits(uint32(v))), nil
		}
		return math.Float64frombits(v), nil
	case 0x4, 0x5, 0x6:
		n, start, err := count()
		if err != nil {
			return nil, err
		}
		size := n
		if kind == 0x6 {
			size = 2 * n
		}
		if start+size > len(r.b) {
			return nil, io.ErrUnexpectedEOF
		}
		raw := r.b[start : start+size]
		switch kind {
		case 0x4:
			return slices.Clone(raw), nil
		case 0x5:
			return string(raw), nil
		}
		u := make([]uint16, n)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(raw[2*i:])
		}
		return string(utf16.Decode(u)), nil
	case 0xA, 0xD:
		n, start, err := count()
		if err != nil {
			return nil, err
		}
		refs := n
		if kind == 0xD {
			refs = 2 * n
		}
		ref := func(i int) (any, error) {
			v, err := r.uint(start+i*r.refSize, r.refSize)
			if err != nil {
				return nil, err
			}
			return r.object(int(v), depth+1)
		}
		if start+refs*r.refSize > len(r.b) {
			return nil, io.ErrUnexpectedEOF
		}
		if kind == 0xA {
			l := make([]any, n)
			for i := range l {
				if l[i], err = ref(i); err != nil {
					return nil, err
				}
			}
			return l, nil
		}
		m := make(map[string]any, n)
		for i := range n {
			k, err := ref(i)
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("a binary plist dict key that is %s", pyType(k))
			}
			if m[key], err = ref(n + i); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("a binary plist object of type 0x%02x, which brine does not read", marker)
}
