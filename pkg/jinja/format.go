package jinja

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// percentFormat is Python's "format % values".
func percentFormat(format string, values any) (string, error) {
	var args []any
	var mapping *Dict
	switch v := values.(type) {
	case Tuple:
		args = v
	case *Dict:
		mapping = v
		args = []any{v}
	default:
		args = []any{v}
	}
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return "", errors.New("incomplete format")
		}
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		var val any
		haveVal := false
		if format[i] == '(' {
			end := strings.IndexByte(format[i:], ')')
			if end < 0 {
				return "", errors.New("incomplete format key")
			}
			if mapping == nil {
				return "", errors.New("format requires a mapping")
			}
			key := format[i+1 : i+end]
			v, ok := mapping.Get(key)
			if !ok {
				return "", fmt.Errorf("KeyError: %s", pyQuote(key))
			}
			val, haveVal = v, true
			i += end + 1
		}
		spec := fmtSpec{align: '>', fill: ' '}
		for ; i < len(format) && strings.IndexByte("-+ #0", format[i]) >= 0; i++ {
			switch format[i] {
			case '-':
				spec.align = '<'
			case '+':
				spec.sign = '+'
			case ' ':
				spec.sign = ' '
			case '#':
				spec.alt = true
			case '0':
				spec.zero = true
			}
		}
		w := i
		for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
		}
		if w < i {
			spec.width, _ = strconv.Atoi(format[w:i])
		}
		spec.prec = -1
		if i < len(format) && format[i] == '.' {
			i++
			p := i
			for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
			}
			spec.prec, _ = strconv.Atoi(format[p:i])
		}
		for i < len(format) && strings.IndexByte("hlL", format[i]) >= 0 {
			i++
		}
		if i >= len(format) {
			return "", errors.New("incomplete format")
		}
		spec.typ = format[i]
		if !haveVal {
			if next >= len(args) {
				return "", errors.New("not enough arguments for format string")
			}
			val = args[next]
			next++
		}
		if spec.zero && spec.align != '<' {
			spec.fill, spec.align = '0', '='
		}
		s, err := formatValue(val, spec, true)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	if mapping == nil && next < len(args) {
		return "", errors.New("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

// fmtSpec is a parsed conversion or format spec.
type fmtSpec struct {
	fill, align, sign byte
	alt, zero, comma  bool
	width, prec       int
	typ               byte
}

// formatValue formats v by spec; percent selects %-formatting's rules.
func formatValue(v any, spec fmtSpec, percent bool) (string, error) {
	if u, ok := v.(*Undefined); ok {
		return "", u.err()
	}
	var s string
	numeric := false
	switch spec.typ {
	case 's', 0:
		if spec.typ == 0 {
			if _, ok := number(v); ok {
				if _, isBool := v.(bool); !isBool {
					if f, isF := v.(float64); isF && spec.prec >= 0 {
						s = strconv.FormatFloat(f, 'g', spec.prec, 64)
					} else {
						s = str(v)
					}
					numeric = true
					break
				}
			}
		}
		s = str(v)
		if spec.prec >= 0 && !numeric {
			rs := []rune(s)
			if spec.prec < len(rs) {
				s = string(rs[:spec.prec])
			}
		}
		if !percent && !numeric && spec.align == 0 {
			spec.align = '<'
		}
	case 'r', 'a':
		s = repr(v)
	case 'c':
		switch x := v.(type) {
		case int:
			s = string(rune(x))
		case string:
			s = x
		default:
			return "", errors.New("%c requires int or char")
		}
	case 'd', 'i', 'u', 'x', 'X', 'o', 'b', 'n':
		n, ok := number(v)
		if !ok {
			if st, isStr := v.(string); isStr && percent {
				return "", fmt.Errorf("%%%c format: a number is required, not str (%s)", spec.typ, pyQuote(st))
			}
			return "", fmt.Errorf("%%%c format: a number is required, not %s", spec.typ, typeName(v))
		}
		i, isInt := n.(int)
		if !isInt {
			if !percent {
				return "", fmt.Errorf("unknown format code '%c' for object of type 'float'", spec.typ)
			}
			i = int(math.Trunc(n.(float64)))
		}
		neg := i < 0
		if neg {
			i = -i
		}
		switch spec.typ {
		case 'x':
			s = strconv.FormatInt(int64(i), 16)
		case 'X':
			s = strings.ToUpper(strconv.FormatInt(int64(i), 16))
		case 'o':
			s = strconv.FormatInt(int64(i), 8)
		case 'b':
			s = strconv.FormatInt(int64(i), 2)
		default:
			s = strconv.Itoa(i)
			if spec.comma {
				s = groupThousands(s)
			}
		}
		if spec.alt && strings.IndexByte("xXob", spec.typ) >= 0 {
			s = "0" + string(spec.typ) + s
		}
		s = signed(s, neg, spec.sign)
		numeric = true
	case 'f', 'F', 'e', 'E', 'g', 'G', '%':
		n, ok := number(v)
		if !ok {
			return "", fmt.Errorf("must be real number, not %s", typeName(v))
		}
		f := toFloat(n)
		prec := spec.prec
		if prec < 0 {
			prec = 6
		}
		neg := f < 0 || (f == 0 && math.Signbit(f))
		f = math.Abs(f)
		switch spec.typ {
		case 'f', 'F':
			s = strconv.FormatFloat(f, 'f', prec, 64)
		case 'e', 'E':
			s = strconv.FormatFloat(f, 'e', prec, 64)
		case 'g', 'G':
			s = strconv.FormatFloat(f, 'g', max(prec, 1), 64)
		case '%':
			s = strconv.FormatFloat(f*100, 'f', prec, 64) + "%"
		}
		if spec.typ == 'E' || spec.typ == 'G' {
			s = strings.ToUpper(s)
		}
		if spec.comma {
			intPart, frac, _ := strings.Cut(s, ".")
			s = groupThousands(intPart)
			if frac != "" {
				s += "." + frac
			}
		}
		s = signed(s, neg, spec.sign)
		numeric = true
	default:
		return "", fmt.Errorf("unsupported format character '%c'", spec.typ)
	}
	align := spec.align
	if align == 0 {
		align = '<'
		if numeric {
			align = '>'
		}
	}
	fill := spec.fill
	if fill == 0 {
		fill = ' '
	}
	n := utf8.RuneCountInString(s)
	if spec.width <= n {
		return s, nil
	}
	padding := spec.width - n
	switch align {
	case '<':
		return s + strings.Repeat(string(fill), padding), nil
	case '^':
		return strings.Repeat(string(fill), padding/2) + s + strings.Repeat(string(fill), padding-padding/2), nil
	case '=':
		sign := ""
		if s != "" && (s[0] == '-' || s[0] == '+' || s[0] == ' ') {
			sign, s = s[:1], s[1:]
		}
		return sign + strings.Repeat(string(fill), padding) + s, nil
	}
	return strings.Repeat(string(fill), padding) + s, nil
}

func signed(s string, neg bool, sign byte) string {
	switch {
	case neg:
		return "-" + s
	case sign == '+' || sign == ' ':
		return string(sign) + s
	}
	return s
}

func groupThousands(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// strFormat is Python's str.format.
func strFormat(format string, args []any, kw *Dict) (string, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '}' {
			if i+1 < len(format) && format[i+1] == '}' {
				i++
			}
			b.WriteByte('}')
			continue
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(format) && format[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		end := strings.IndexByte(format[i:], '}')
		if end < 0 {
			return "", errors.New("single '{' encountered in format string")
		}
		field := format[i+1 : i+end]
		i += end
		field, specText, _ := strings.Cut(field, ":")
		field, conv, _ := strings.Cut(field, "!")
		name := field
		rest := ""
		if j := strings.IndexAny(field, ".["); j >= 0 {
			name, rest = field[:j], field[j:]
		}
		var v any
		switch {
		case name == "":
			if auto >= len(args) {
				return "", fmt.Errorf("replacement index %d out of range for positional args tuple", auto)
			}
			v = args[auto]
			auto++
		case name[0] >= '0' && name[0] <= '9':
			n, err := strconv.Atoi(name)
			if err != nil || n >= len(args) {
				return "", fmt.Errorf("replacement index %s out of range for positional args tuple", name)
			}
			v = args[n]
		default:
			x, ok := kw.Get(name)
			if !ok {
				return "", fmt.Errorf("KeyError: %s", pyQuote(name))
			}
			v = x
		}
		for rest != "" {
			var err error
			if rest[0] == '.' {
				j := strings.IndexAny(rest[1:], ".[")
				attr := rest[1:]
				if j >= 0 {
					attr, rest = rest[1:j+1], rest[j+1:]
				} else {
					rest = ""
				}
				v, err = getattr(v, attr)
			} else {
				j := strings.IndexByte(rest, ']')
				if j < 0 {
					return "", errors.New("missing ']' in format string")
				}
				var key any = rest[1:j]
				if n, err := strconv.Atoi(rest[1:j]); err == nil {
					key = n
				}
				rest = rest[j+1:]
				v, err = getitem(v, key)
			}
			if err != nil {
				return "", err
			}
		}
		switch conv {
		case "r", "a":
			v = repr(v)
		case "s":
			v = str(v)
		}
		spec, err := parseFormatSpec(specText)
		if err != nil {
			return "", err
		}
		s, err := formatValue(v, spec, false)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// parseFormatSpec parses [[fill]align][sign][#][0][width][,][.prec][type].
func parseFormatSpec(s string) (fmtSpec, error) {
	spec := fmtSpec{prec: -1}
	i := 0
	if len(s) >= 2 && strings.IndexByte("<>=^", s[1]) >= 0 {
		spec.fill, spec.align = s[0], s[1]
		i = 2
	} else if len(s) >= 1 && strings.IndexByte("<>=^", s[0]) >= 0 {
		spec.align = s[0]
		i = 1
	}
	if i < len(s) && strings.IndexByte("+- ", s[i]) >= 0 {
		if s[i] != '-' {
			spec.sign = s[i]
		}
		i++
	}
	if i < len(s) && s[i] == '#' {
		spec.alt = true
		i++
	}
	if i < len(s) && s[i] == '0' {
		if spec.align == 0 {
			spec.fill, spec.align = '0', '='
		}
		i++
	}
	w := i
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
	}
	if w < i {
		spec.width, _ = strconv.Atoi(s[w:i])
	}
	if i < len(s) && (s[i] == ',' || s[i] == '_') {
		spec.comma = true
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		p := i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		}
		spec.prec, _ = strconv.Atoi(s[p:i])
	}
	if i < len(s) {
		spec.typ = s[i]
		i++
	}
	if i != len(s) {
		return spec, fmt.Errorf("invalid format specifier %q", s)
	}
	return spec, nil
}
