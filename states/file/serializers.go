package file

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/pkg/saltdata"
)

// serializers are file.serialize's formats, as Salt's salt.serializers
// modules of the same names write and read them.
var serializers = map[string]serializer{
	"yaml":         {write: writeYAML, read: readYAML},
	"json":         {write: writeJSON, read: readYAML}, // JSON is YAML
	"configparser": {write: writeINI, read: readINI},
	"plist":        {write: writePlist, read: readPlist},
}

// serializer writes data in one format and reads it back; opts are the
// state's serializer_opts or deserializer_opts merged into one mapping.
type serializer struct {
	write func(data any, opts map[string]any) ([]byte, error)
	read  func(b []byte, opts map[string]any) (any, error)
}

// serializerNames lists the formats, for error messages.
func serializerNames() string {
	return strings.Join(slices.Sorted(maps.Keys(serializers)), ", ")
}

// mergeOpts merges Salt's serializer_opts / deserializer_opts, a list of
// mappings (or one mapping), into one mapping.
func mergeOpts(what string, v any) (map[string]any, error) {
	out := map[string]any{}
	switch x := v.(type) {
	case nil:
	case map[string]any:
		maps.Copy(out, x)
	case []any:
		for i, it := range x {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: item %d is %s, not a mapping (write - {option: value})", what, i+1, pyType(it))
			}
			maps.Copy(out, m)
		}
	default:
		return nil, fmt.Errorf("%s must be a list of mappings (- {option: value}), not %s", what, pyType(v))
	}
	return out, nil
}

// onlyOpts refuses options other than known ones.
func onlyOpts(format string, opts map[string]any, known ...string) error {
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		if !slices.Contains(known, k) {
			if len(known) == 0 {
				return fmt.Errorf("the %s serializer takes no options, got %q", format, k)
			}
			return fmt.Errorf("the %s serializer does not take the option %q (it takes %s)", format, k, strings.Join(known, ", "))
		}
	}
	return nil
}

func pyType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64:
		return "an integer"
	case float64:
		return "a float"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	case nil:
		return "None"
	}
	return fmt.Sprintf("%T", v)
}

// writeYAML writes block style YAML indented by two.
func writeYAML(data any, opts map[string]any) ([]byte, error) {
	if err := onlyOpts("yaml", opts); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(data); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func readYAML(b []byte, opts map[string]any) (any, error) {
	var out any
	if err := yaml.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// writeJSON writes JSON with sorted keys, indented by two (or indent),
// ending with a newline.
func writeJSON(data any, opts map[string]any) ([]byte, error) {
	if err := onlyOpts("json", opts, "indent"); err != nil {
		return nil, err
	}
	indent := 2
	if v, ok := opts["indent"]; ok {
		n, ok := v.(int)
		if !ok || n < 0 {
			return nil, fmt.Errorf("the json serializer's indent must be a number of spaces, got %v", v)
		}
		indent = n
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", strings.Repeat(" ", indent))
	if err := enc.Encode(data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// iniDefaults reads the configparser option defaults: a mapping of keys
// every section falls back on.
func iniDefaults(opts map[string]any) (map[string]string, error) {
	if err := onlyOpts("configparser", opts, "defaults"); err != nil {
		return nil, err
	}
	out := map[string]string{}
	v, ok := opts["defaults"]
	if !ok {
		return out, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the configparser serializer's defaults must be a mapping, not %s", pyType(v))
	}
	for k, val := range m {
		s, err := iniValue(val)
		if err != nil {
			return nil, fmt.Errorf("defaults: %s: %w", k, err)
		}
		out[strings.ToLower(k)] = s
	}
	return out, nil
}

// iniValue is str(value) as Python's configparser stores it.
func iniValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []any, map[string]any, nil:
		return pyRepr(x), nil
	case float64:
		return saltdata.PyFloat(x), nil
	}
	return scalarString(v)
}

// writeINI writes data, a mapping of sections each a mapping of keys, as
// Python's configparser writes it: the defaults option first as
// [DEFAULT], keys lower-cased and sorted, "key = value", a blank line
// after each section, lines of a value after the first indented by a tab.
func writeINI(data any, opts map[string]any) ([]byte, error) {
	defaults, err := iniDefaults(opts)
	if err != nil {
		return nil, err
	}
	sections, ok := data.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("configparser can only serialize a mapping of sections, not %s", pyType(data))
	}
	var buf bytes.Buffer
	writeSection := func(name string, keys map[string]string) {
		fmt.Fprintf(&buf, "[%s]\n", name)
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			fmt.Fprintf(&buf, "%s = %s\n", k, strings.ReplaceAll(keys[k], "\n", "\n\t"))
		}
		buf.WriteString("\n")
	}
	if len(defaults) > 0 {
		writeSection("DEFAULT", defaults)
	}
	for _, name := range slices.Sorted(maps.Keys(sections)) {
		m, ok := sections[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("configparser section %q must be a mapping of keys, not %s", name, pyType(sections[name]))
		}
		keys := make(map[string]string, len(m))
		for k, v := range m {
			s, err := iniValue(v)
			if err != nil {
				return nil, fmt.Errorf("section %q, key %q: %w", name, k, err)
			}
			keys[strings.ToLower(k)] = s
		}
		writeSection(name, keys)
	}
	return buf.Bytes(), nil
}

var (
	iniSection = regexp.MustCompile(`^\[([^\]]+)\]`)
	iniOption  = regexp.MustCompile(`^([^=:\s][^=:]*?)\s*[=:]\s*(.*)$`)
)

// readINI reads a configparser file as Salt's deserializer returns it:
// each section a mapping of its keys and the defaults (the [DEFAULT]
// section and the defaults option), values interpolated as Python's
// BasicInterpolation does (%(key)s, %%).
func readINI(b []byte, opts map[string]any) (any, error) {
	defaults, err := iniDefaults(opts)
	if err != nil {
		return nil, err
	}
	sections := map[string]map[string]string{}
	var cur map[string]string
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, ";"):
			last = ""
		case line[0] == ' ' || line[0] == '\t':
			if cur == nil || last == "" {
				return nil, fmt.Errorf("line %d: an indented line continues no key: %q", n, line)
			}
			cur[last] += "\n" + trimmed
		case iniSection.MatchString(line):
			name := iniSection.FindStringSubmatch(line)[1]
			if name == "DEFAULT" {
				cur = defaults
			} else {
				if _, dup := sections[name]; dup {
					return nil, fmt.Errorf("line %d: section %q is there twice", n, name)
				}
				cur = map[string]string{}
				sections[name] = cur
			}
			last = ""
		default:
			m := iniOption.FindStringSubmatch(line)
			if m == nil || cur == nil {
				return nil, fmt.Errorf("line %d: expected [section] or key = value, got %q", n, line)
			}
			last = strings.ToLower(strings.TrimSpace(m[1]))
			cur[last] = strings.TrimRightFunc(m[2], unicode.IsSpace)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(sections))
	for name, keys := range sections {
		all := maps.Clone(defaults)
		maps.Copy(all, keys)
		sec := make(map[string]any, len(all))
		for k, v := range all {
			s, err := interpolate(v, all, 1)
			if err != nil {
				return nil, fmt.Errorf("section %q, key %q: %w", name, k, err)
			}
			sec[k] = s
		}
		out[name] = sec
	}
	return out, nil
}

var iniRef = regexp.MustCompile(`%\(([^)]+)\)s|%%|%`)

// interpolate replaces %(key)s by key's value (itself interpolated, to
// Python's depth of 10) and %% by %.
func interpolate(v string, keys map[string]string, depth int) (string, error) {
	if depth > 10 {
		return "", fmt.Errorf("interpolation of %q nests too deep (a reference loop?)", v)
	}
	var err error
	out := iniRef.ReplaceAllStringFunc(v, func(m string) string {
		switch m {
		case "%%":
			return "%"
		case "%":
			if err == nil {
				err = fmt.Errorf("'%%' must be followed by '%%' or '(', in %q", v)
			}
			return m
		}
		key := strings.ToLower(m[2 : len(m)-2])
		ref, ok := keys[key]
		if !ok {
			if err == nil {
				err = fmt.Errorf("%q refers to %s, which is not set", v, key)
			}
			return m
		}
		s, rerr := interpolate(ref, keys, depth+1)
		if rerr != nil && err == nil {
			err = rerr
		}
		return s
	})
	return out, err
}
