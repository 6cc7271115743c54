package jinja

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/nikolalohinski/gonja/v2/exec"
	"gopkg.in/yaml.v3"
)

// saltFilters returns the Salt filters brine adds to gonja's own.
func saltFilters() map[string]exec.FilterFunction {
	return map[string]exec.FilterFunction{
		"json":          filterJSON,
		"yaml":          filterYAML,
		"yaml_encode":   filterYAMLEncode,
		"yaml_dquote":   quoteFilter("yaml_dquote", yaml.DoubleQuotedStyle),
		"yaml_squote":   quoteFilter("yaml_squote", yaml.SingleQuotedStyle),
		"load_yaml":     filterLoadYAML,
		"load_json":     filterLoadJSON,
		"regex_match":   regexFilter("regex_match", true),
		"regex_search":  regexFilter("regex_search", false),
		"regex_replace": filterRegexReplace,
		"sequence":      filterSequence,
		"to_bool":       filterToBool,
	}
}

// filterErr reports a filter failure as a template error value.
func filterErr(name string, err error) *exec.Value {
	return exec.AsValue(fmt.Errorf("filter %s: %w", name, err))
}

// filterJSON serialises like Salt's json filter (Python's json.dumps with
// sorted keys): `{"a": 1, "b": [1, 2]}`, or indented with indent=N.
func filterJSON(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	indent := 0
	if err := params.Take(exec.KeywordArgument("indent", exec.AsValue(0), exec.IntArgument(&indent))); err != nil {
		return filterErr("json", err)
	}
	v := plain(in)
	if indent > 0 {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", strings.Repeat(" ", indent))
		if err := enc.Encode(v); err != nil {
			return filterErr("json", err)
		}
		return exec.AsSafeValue(strings.TrimSuffix(buf.String(), "\n"))
	}
	var b strings.Builder
	if err := writePyJSON(&b, v); err != nil {
		return filterErr("json", err)
	}
	return exec.AsSafeValue(b.String())
}

// writePyJSON writes v as JSON with Python's default separators (", " and
// ": ") and sorted keys.
func writePyJSON(b *strings.Builder, v any) error {
	switch x := v.(type) {
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writePyJSON(b, k); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := writePyJSON(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writePyJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return nil
}

// filterYAML serialises like Salt's yaml filter: flow style by default
// (`{a: 1, b: [1, 2]}`), block style with yaml(False).
func filterYAML(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	flow := true
	if err := params.Take(exec.KeywordArgument("flow_style", exec.AsValue(true), exec.BoolArgument(&flow))); err != nil {
		return filterErr("yaml", err)
	}
	out, err := marshalYAML(plain(in), flow)
	if err != nil {
		return filterErr("yaml", err)
	}
	return exec.AsSafeValue(out)
}

// filterYAMLEncode serialises one value as an inline YAML scalar (quoted
// when needed), for `key: {{ value|yaml_encode }}`.
func filterYAMLEncode(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if err := params.Take(); err != nil {
		return filterErr("yaml_encode", err)
	}
	out, err := marshalYAML(plain(in), true)
	if err != nil {
		return filterErr("yaml_encode", err)
	}
	return exec.AsSafeValue(out)
}

// marshalYAML encodes v as YAML without the trailing newline, in flow
// style when flow is set.
func marshalYAML(v any, flow bool) (string, error) {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return "", err
	}
	if flow {
		n.Style |= yaml.FlowStyle
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// quoteFilter returns a filter that writes a string as a YAML scalar in the
// given quoting style.
func quoteFilter(name string, style yaml.Style) exec.FilterFunction {
	return func(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		if err := params.Take(); err != nil {
			return filterErr(name, err)
		}
		out, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: style, Value: in.String()})
		if err != nil {
			return filterErr(name, err)
		}
		return exec.AsSafeValue(strings.TrimSuffix(string(out), "\n"))
	}
}

// filterLoadYAML parses a YAML string into data.
func filterLoadYAML(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if err := params.Take(); err != nil {
		return filterErr("load_yaml", err)
	}
	var v any
	if err := yaml.Unmarshal([]byte(in.String()), &v); err != nil {
		return filterErr("load_yaml", err)
	}
	return exec.AsValue(normalize(v))
}

// filterLoadJSON parses a JSON string into data.
func filterLoadJSON(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if err := params.Take(); err != nil {
		return filterErr("load_json", err)
	}
	v, err := loadJSON([]byte(in.String()))
	if err != nil {
		return filterErr("load_json", err)
	}
	return exec.AsValue(v)
}

// regexFilter returns Salt's regex_match (anchored at the start, as
// Python's re.match) or regex_search: the match's groups as a list, or none
// without a match.
func regexFilter(name string, anchored bool) exec.FilterFunction {
	return func(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		var (
			pattern       string
			ignore, multi bool
		)
		err := params.Take(
			exec.PositionalArgument("regex", nil, exec.StringArgument(&pattern)),
			exec.KeywordArgument("ignorecase", exec.AsValue(false), exec.BoolArgument(&ignore)),
			exec.KeywordArgument("multiline", exec.AsValue(false), exec.BoolArgument(&multi)),
		)
		if err != nil {
			return filterErr(name, err)
		}
		pattern = regexFlags(ignore, multi) + "(?:" + pattern + ")"
		if anchored {
			pattern = `\A` + pattern
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return filterErr(name, err)
		}
		s := in.String()
		loc := re.FindStringSubmatchIndex(s)
		if loc == nil {
			return exec.AsValue(nil)
		}
		groups := make([]any, 0, len(loc)/2-1)
		for i := 2; i < len(loc); i += 2 {
			if loc[i] < 0 {
				groups = append(groups, nil)
				continue
			}
			groups = append(groups, s[loc[i]:loc[i+1]])
		}
		return exec.AsValue(groups)
	}
}

// pyGroupRe finds Python replacement group references: \1 and \g<name>.
var pyGroupRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\\(\d+)|\\g<(\w+)>`) })

// filterRegexReplace is Salt's regex_replace(regex, replacement,
// ignorecase=False, multiline=False), Python's re.sub.
func filterRegexReplace(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	var (
		pattern, repl string
		ignore, multi bool
	)
	err := params.Take(
		exec.PositionalArgument("regex", nil, exec.StringArgument(&pattern)),
		exec.PositionalArgument("replacement", nil, exec.StringArgument(&repl)),
		exec.KeywordArgument("ignorecase", exec.AsValue(false), exec.BoolArgument(&ignore)),
		exec.KeywordArgument("multiline", exec.AsValue(false), exec.BoolArgument(&multi)),
	)
	if err != nil {
		return filterErr("regex_replace", err)
	}
	re, err := regexp.Compile(regexFlags(ignore, multi) + pattern)
	if err != nil {
		return filterErr("regex_replace", err)
	}
	repl = strings.ReplaceAll(repl, "$", "$$")
	repl = pyGroupRe().ReplaceAllStringFunc(repl, func(m string) string {
		g := pyGroupRe().FindStringSubmatch(m)
		return "${" + g[1] + g[2] + "}"
	})
	return exec.AsValue(re.ReplaceAllString(in.String(), repl))
}

// regexFlags is the inline flag group for Salt's regex options.
func regexFlags(ignore, multi bool) string {
	flags := ""
	if ignore {
		flags += "i"
	}
	if multi {
		flags += "m"
	}
	if flags == "" {
		return ""
	}
	return "(?" + flags + ")"
}

// filterSequence makes a list of a single value; lists pass through.
func filterSequence(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if err := params.Take(); err != nil {
		return filterErr("sequence", err)
	}
	if in.IsList() {
		return in
	}
	return exec.AsValue([]any{plain(in)})
}

// filterToBool is Salt's to_bool: "yes"/"true"/"1"/"on" strings, positive
// numbers and non-empty collections are true.
func filterToBool(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if err := params.Take(); err != nil {
		return filterErr("to_bool", err)
	}
	switch {
	case in.IsNil():
		return exec.AsValue(false)
	case in.IsString():
		switch strings.ToLower(strings.TrimSpace(in.String())) {
		case "yes", "true", "1", "on":
			return exec.AsValue(true)
		}
		return exec.AsValue(false)
	case in.IsNumber():
		return exec.AsValue(in.Float() > 0)
	}
	return exec.AsValue(in.IsTrue())
}

// loadJSON parses JSON, keeping integral numbers integers.
func loadJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return jsonNumbers(v), nil
}

// jsonNumbers replaces json.Number values by int or float64.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = jsonNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonNumbers(e)
		}
	}
	return v
}
