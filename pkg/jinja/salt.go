package jinja

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"

	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/pkg/saltdata"
)

// saltFilters returns the filters Salt adds to Jinja's.
func saltFilters() map[string]filterFunc {
	return map[string]filterFunc{
		"json":          fJSON,
		"yaml":          fYAML,
		"yaml_encode":   fYAMLEncode,
		"yaml_dquote":   quoteFilter(yaml.DoubleQuotedStyle),
		"yaml_squote":   quoteFilter(yaml.SingleQuotedStyle),
		"load_yaml":     func(_ *renderer, v any, _ []any, _ *Dict) (any, error) { return parseData("yaml", str(v)) },
		"load_json":     func(_ *renderer, v any, _ []any, _ *Dict) (any, error) { return parseData("json", str(v)) },
		"regex_match":   regexFilter(true),
		"regex_search":  regexFilter(false),
		"regex_replace": fRegexReplace,
		"sequence":      fSequence,
		"to_bool":       fToBool,
		"traverse":      fTraverse,
		"str_to_num":    fStrToNum,
		"to_num":        fStrToNum,
	}
}

// saltTests returns the tests Salt adds to Jinja's.
func saltTests() map[string]testFunc {
	return map[string]testFunc{
		"match": testMatch,
	}
}

// testMatch is Salt's `is match(regex, ignorecase=False, multiline=False)`:
// re.match, anchored at the start of the value.
func testMatch(_ *renderer, v any, args []any, kw *Dict) (bool, error) {
	if len(args) < 1 {
		return false, errors.New("match needs a regular expression")
	}
	ignore, _ := truth(arg(args, kw, 1, "ignorecase", false))
	multi, _ := truth(arg(args, kw, 2, "multiline", false))
	re, err := compileRegex(`\A(?:`+str(args[0])+`)`, ignore, multi)
	if err != nil {
		return false, err
	}
	return re.MatchString(str(v)), nil
}

// fJSON is Salt's json filter: json.dumps with sorted keys.
func fJSON(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	indent, err := intArg(arg(args, kw, 1, "indent", 0), "indent")
	if err != nil {
		return nil, err
	}
	sortKeys, _ := truth(arg(args, kw, 0, "sort_keys", true))
	var b strings.Builder
	if err := writeJSON(&b, v, jsonOpts{sortKeys: sortKeys, indent: indent}, 0); err != nil {
		return nil, err
	}
	return b.String(), nil
}

// fToJSON is Jinja's tojson: insertion order, ASCII only, HTML-safe.
func fToJSON(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	indent, err := intArg(arg(args, kw, 0, "indent", 0), "indent")
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := writeJSON(&b, v, jsonOpts{ascii: true, htmlSafe: true, indent: indent}, 0); err != nil {
		return nil, err
	}
	return b.String(), nil
}

// jsonOpts are Python json.dumps options.
type jsonOpts struct {
	sortKeys, ascii, htmlSafe bool
	indent                    int
}

// writeJSON writes v as Python's json.dumps does.
func writeJSON(b *strings.Builder, v any, o jsonOpts, depth int) error {
	if depth > 100 {
		return errors.New("value nested too deeply for JSON")
	}
	nl := func(d int) {
		if o.indent > 0 {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(" ", o.indent*d))
		}
	}
	sep := ", "
	if o.indent > 0 {
		sep = ","
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		s := saltdata.PyFloat(x)
		switch s {
		case "inf":
			s = "Infinity"
		case "-inf":
			s = "-Infinity"
		case "nan":
			s = "NaN"
		}
		b.WriteString(s)
	case string:
		writeJSONString(b, x, o)
	case *List, Tuple:
		its, _ := items(x)
		if len(its) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, e := range its {
			if i > 0 {
				b.WriteString(sep)
			}
			nl(depth + 1)
			if err := writeJSON(b, e, o, depth+1); err != nil {
				return err
			}
		}
		nl(depth)
		b.WriteByte(']')
	case *Dict:
		if x.Len() == 0 {
			b.WriteString("{}")
			return nil
		}
		idx := make([]int, x.Len())
		for i := range idx {
			idx[i] = i
		}
		if o.sortKeys {
			sort.SliceStable(idx, func(a, c int) bool { return str(x.keys[idx[a]]) < str(x.keys[idx[c]]) })
		}
		b.WriteByte('{')
		for n, i := range idx {
			if n > 0 {
				b.WriteString(sep)
			}
			nl(depth + 1)
			k := x.keys[i]
			switch k.(type) {
			case string:
			case nil:
				k = "null"
			case bool:
				k = strings.ToLower(str(k))
			default:
				k = str(k)
			}
			writeJSONString(b, k.(string), o)
			b.WriteString(": ")
			if err := writeJSON(b, x.vals[i], o, depth+1); err != nil {
				return err
			}
		}
		nl(depth)
		b.WriteByte('}')
	case *Undefined:
		return x.err()
	default:
		return fmt.Errorf("object of type %s is not JSON serializable", typeName(v))
	}
	return nil
}

func writeJSONString(b *strings.Builder, s string, o jsonOpts) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20, o.htmlSafe && strings.ContainsRune("<>&'", r):
			fmt.Fprintf(b, `\u%04x`, r)
		case o.ascii && r > 0x7e:
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// yamlNode converts a template value to a YAML node with sorted mapping
// keys, as PyYAML's dump writes a dict.
func yamlNode(v any, depth int) (*yaml.Node, error) {
	if depth > 100 {
		return nil, errors.New("value nested too deeply for YAML")
	}
	switch x := v.(type) {
	case *Dict:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		idx := make([]int, x.Len())
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool {
			c, err := compare(x.keys[idx[a]], x.keys[idx[b]])
			if err != nil {
				return str(x.keys[idx[a]]) < str(x.keys[idx[b]])
			}
			return c < 0
		})
		for _, i := range idx {
			k := x.keys[i]
			kn, err := yamlNode(k, depth+1)
			if err != nil {
				return nil, err
			}
			vn, err := yamlNode(x.vals[i], depth+1)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, kn, vn)
		}
		return n, nil
	case *List, Tuple:
		its, _ := items(x)
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range its {
			en, err := yamlNode(e, depth+1)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, en)
		}
		return n, nil
	case *Undefined:
		return nil, x.err()
	case nil, bool, int, float64, string:
		var n yaml.Node
		if err := n.Encode(x); err != nil {
			return nil, err
		}
		return &n, nil
	}
	return nil, fmt.Errorf("cannot represent a %s in YAML", typeName(v))
}

// marshalYAML encodes v as YAML without the trailing newline, in flow
// style when flow is set.
func marshalYAML(v any, flow bool) (string, error) {
	n, err := yamlNode(v, 0)
	if err != nil {
		return "", err
	}
	if flow {
		n.Style |= yaml.FlowStyle
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// fYAML is Salt's yaml filter: flow style unless yaml(False).
func fYAML(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	flow, _ := truth(arg(args, kw, 0, "flow_style", true))
	return marshalYAML(v, flow)
}

// fYAMLEncode writes one value as an inline YAML scalar.
func fYAMLEncode(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	return marshalYAML(v, true)
}

// quoteFilter writes a string as a YAML scalar in the given quoting style.
func quoteFilter(style yaml.Style) filterFunc {
	return func(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
		out, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: style, Value: str(v)})
		if err != nil {
			return nil, err
		}
		return strings.TrimSuffix(string(out), "\n"), nil
	}
}

// parseData parses YAML, JSON or text (as is) into template values.
func parseData(format, src string) (any, error) {
	switch format {
	case "yaml":
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(src), &n); err != nil {
			return nil, fmt.Errorf("invalid YAML: %w", err)
		}
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromYAML(n.Content[0], 0)
	case "json":
		dec := json.NewDecoder(strings.NewReader(src))
		dec.UseNumber()
		v, err := decodeJSON(dec, 0)
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, errors.New("invalid JSON: unexpected data after the value")
		}
		return v, nil
	}
	return src, nil
}

// fromYAML converts a YAML node to template values, keeping mapping order.
func fromYAML(n *yaml.Node, depth int) (any, error) {
	if depth > 200 {
		return nil, errors.New("YAML nested too deeply")
	}
	switch n.Kind {
	case yaml.AliasNode:
		return fromYAML(n.Alias, depth+1)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromYAML(n.Content[0], depth+1)
	case yaml.SequenceNode:
		l := &List{items: make([]any, 0, len(n.Content))}
		for _, c := range n.Content {
			v, err := fromYAML(c, depth+1)
			if err != nil {
				return nil, err
			}
			l.items = append(l.items, v)
		}
		return l, nil
	case yaml.MappingNode:
		d := newDict(len(n.Content) / 2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			v, err := fromYAML(vn, depth+1)
			if err != nil {
				return nil, err
			}
			if kn.Tag == "!!merge" {
				var srcs []any
				if m, ok := v.(*Dict); ok {
					srcs = []any{m}
				} else if l, ok := v.(*List); ok {
					srcs = l.items
				}
				for _, s := range srcs {
					if m, ok := s.(*Dict); ok {
						for j, k := range m.keys {
							if _, exists := d.Get(k); !exists {
								_ = d.Set(k, m.vals[j])
							}
						}
					}
				}
				continue
			}
			k, err := fromYAML(kn, depth+1)
			if err != nil {
				return nil, err
			}
			if err := d.Set(k, v); err != nil {
				if err := d.Set(str(k), v); err != nil {
					return nil, err
				}
			}
		}
		return d, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return fromGo(v), nil
}

// decodeJSON decodes one JSON value, keeping object order.
func decodeJSON(dec *json.Decoder, depth int) (any, error) {
	if depth > 200 {
		return nil, errors.New("JSON nested too deeply")
	}
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '[':
			l := &List{}
			for dec.More() {
				v, err := decodeJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				l.items = append(l.items, v)
			}
			_, err := dec.Token()
			return l, err
		case '{':
			d := newDict(0)
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				_ = d.Set(kt.(string), v)
			}
			_, err := dec.Token()
			return d, err
		}
		return nil, fmt.Errorf("unexpected %v", x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i), nil
		}
		f, err := x.Float64()
		return f, err
	}
	return t, nil
}

// compileRegex compiles a Python regular expression with Salt's flags.
func compileRegex(pattern string, ignore, multi bool) (*regexp.Regexp, error) {
	flags := ""
	if ignore {
		flags += "i"
	}
	if multi {
		flags += "m"
	}
	if flags != "" {
		pattern = "(?" + flags + ")" + pattern
	}
	return regexp.Compile(pattern)
}

// regexFilter is Salt's regex_match (anchored, as re.match) or
// regex_search: the match's groups as a tuple, or None.
func regexFilter(anchored bool) filterFunc {
	return func(_ *renderer, v any, args []any, kw *Dict) (any, error) {
		if len(args) < 1 {
			return nil, errors.New("needs a regular expression")
		}
		ignore, _ := truth(arg(args, kw, 1, "ignorecase", false))
		multi, _ := truth(arg(args, kw, 2, "multiline", false))
		pattern := "(?:" + str(args[0]) + ")"
		if anchored {
			pattern = `\A` + pattern
		}
		re, err := compileRegex(pattern, ignore, multi)
		if err != nil {
			return nil, err
		}
		s := str(v)
		loc := re.FindStringSubmatchIndex(s)
		if loc == nil {
			return nil, nil
		}
		if len(loc) == 2 {
			return Tuple{s[loc[0]:loc[1]]}, nil
		}
		groups := make(Tuple, 0, len(loc)/2-1)
		for i := 2; i < len(loc); i += 2 {
			if loc[i] < 0 {
				groups = append(groups, nil)
				continue
			}
			groups = append(groups, s[loc[i]:loc[i+1]])
		}
		return groups, nil
	}
}

// pyGroupRe finds Python replacement group references: \1 and \g<name>.
var pyGroupRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\\(\d+)|\\g<(\w+)>`) })

// fRegexReplace is Salt's regex_replace, Python's re.sub.
func fRegexReplace(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	if len(args) < 2 {
		return nil, errors.New("needs a regular expression and a replacement")
	}
	ignore, _ := truth(arg(args, kw, 2, "ignorecase", false))
	multi, _ := truth(arg(args, kw, 3, "multiline", false))
	re, err := compileRegex(str(args[0]), ignore, multi)
	if err != nil {
		return nil, err
	}
	repl := strings.ReplaceAll(str(args[1]), "$", "$$")
	repl = pyGroupRe().ReplaceAllStringFunc(repl, func(m string) string {
		g := pyGroupRe().FindStringSubmatch(m)
		return "${" + g[1] + g[2] + "}"
	})
	return re.ReplaceAllString(str(v), repl), nil
}

// fSequence makes a list of a single value; lists pass through.
func fSequence(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	switch v.(type) {
	case *List, Tuple:
		return v, nil
	}
	return &List{items: []any{v}}, nil
}

// fToBool is Salt's to_bool: None is False; strings are True only for
// yes, true and 1 (any case); integers when above zero; lists and dicts
// when not empty; anything else (floats, tuples) is False.
func fToBool(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "yes", "true", "1":
			return true, nil
		}
		return false, nil
	case int:
		return x > 0, nil
	case *List:
		return len(x.items) > 0, nil
	case *Dict:
		return x.Len() > 0, nil
	}
	return false, nil
}

// fTraverse is Salt's traverse(path, default=None, delimiter=':').
func fTraverse(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("needs a key path")
	}
	def := arg(args, kw, 1, "default", nil)
	delim := str(arg(args, kw, 2, "delimiter", ":"))
	if x, ok := traverse(v, str(args[0]), delim); ok {
		return x, nil
	}
	return def, nil
}

// fStrToNum is Salt's str_to_num: an int or float from a string, or the
// string itself.
func fStrToNum(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	s, ok := v.(string)
	if !ok {
		return v, nil
	}
	if i, err := strconv.Atoi(s); err == nil {
		return i, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, nil
	}
	return s, nil
}
