package output

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Salt's outputters are written in Python and print values with Python's
// str() and repr(); these helpers print tree values the same way.

// pyBool prints a state result as Python does: True, False or None.
func pyBool(b *bool) string {
	switch {
	case b == nil:
		return "None"
	case *b:
		return "True"
	}
	return "False"
}

// pyFloat prints f as Python's repr(float) does: shortest round-trip digits,
// always with a decimal point or an exponent.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// pyScalar prints a tree scalar as Python's str() does.
func pyScalar(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case json.Number:
		return v.String()
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return pyFloat(v)
	}
	return fmt.Sprint(v)
}

// PyStr formats a value (nil, bool, numbers, string, []any, map[string]any)
// as Python's str() does: strings as they are, containers as their repr.
func PyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return PyRepr(v)
}

// PyRepr formats a value as Python's repr() does, dict keys sorted.
func PyRepr(v any) string {
	var b strings.Builder
	pyRepr(&b, v)
	return b.String()
}

// pyRepr prints a tree value as Python's repr() does: dicts and lists in
// their literal form, strings quoted.
func pyRepr(b *strings.Builder, v any) {
	switch v := v.(type) {
	case string:
		pyQuote(b, v)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			pyRepr(b, e)
		}
		b.WriteByte(']')
	case object:
		b.WriteByte('{')
		for i, m := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			pyQuote(b, m.Key)
			b.WriteString(": ")
			pyRepr(b, m.Value)
		}
		b.WriteByte('}')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b.WriteString(", ")
			}
			pyQuote(b, k)
			b.WriteString(": ")
			pyRepr(b, v[k])
		}
		b.WriteByte('}')
	default:
		b.WriteString(pyScalar(v))
	}
}

// pyQuote writes s as Python's repr(str): single quotes unless s holds a
// single quote and no double quote, with non-printable characters escaped.
func pyQuote(b *strings.Builder, s string) {
	q := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	b.WriteRune(q)
	for _, r := range s {
		switch {
		case r == q || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			fmt.Fprintf(b, `\U%08x`, r)
		}
	}
	b.WriteRune(q)
}

// splitLines splits s as Python's str.splitlines does: on every line
// boundary Python knows, without a trailing empty line; "" has no lines.
func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= 0x80 {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		switch r {
		case '\r':
			lines = append(lines, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				size = 2
			}
			start = i + size
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			lines = append(lines, s[start:i])
			start = i + size
		}
		i += size
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

// stripEsc defuses terminal escape sequences in printed data, as Salt's
// strip_colors does.
func stripEsc(s string) string { return strings.ReplaceAll(s, "\x1b", "?") }
