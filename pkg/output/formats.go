package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// writeJSONOut prints {"<minion>": data} indented four spaces, as Salt's
// json outputter: a Highstate keyed by result key in run order, compile
// errors as a list of strings. JSON is never coloured.
func writeJSONOut(b *bytes.Buffer, r Return, _ palette, _ Options) error {
	t, err := toTree(r.Data)
	if err != nil {
		return err
	}
	if err := writeJSON(b, object{{Key: r.Minion, Value: t}}, 0); err != nil {
		return err
	}
	b.WriteByte('\n')
	return nil
}

// writeYAMLOut prints "<minion>:" and the data as block YAML below it,
// indented two spaces, keys in the order of the tree (sorted for plain
// maps, run order for a Highstate).
func writeYAMLOut(b *bytes.Buffer, r Return, _ palette, _ Options) error {
	t, err := toTree(r.Data)
	if err != nil {
		return err
	}
	doc := yamlNode(object{{Key: r.Minion, Value: t}})
	enc := yaml.NewEncoder(b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	return nil
}

// sexagesimal matches the base-60 numbers of YAML 1.1 ("10:21:33.123456"),
// which yaml.v3 leaves unquoted but PyYAML and other YAML 1.1 readers would
// take for a number.
var sexagesimal = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$`) })

// yamlNode converts a tree value to a YAML node; strings that would read
// back as another type get quoted by the encoder.
func yamlNode(t any) *yaml.Node {
	switch v := t.(type) {
	case object:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, m := range v {
			n.Content = append(n.Content, yamlNode(m.Key), yamlNode(m.Value))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range v {
			n.Content = append(n.Content, yamlNode(e))
		}
		return n
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
		if sexagesimal().MatchString(v) {
			n.Style = yaml.SingleQuotedStyle
		}
		return n
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(v.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v.String()}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(v)}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}

// writeTxtOut prints as Salt's txt outputter: "<minion>: <line>" for each
// line of a string, otherwise "<minion>: <value>" on one line with the
// value as Python prints it.
func writeTxtOut(b *bytes.Buffer, r Return, _ palette, _ Options) error {
	t, err := toTree(r.Data)
	if err != nil {
		return err
	}
	if s, ok := t.(string); ok {
		for _, line := range splitLines(s) {
			b.WriteString(r.Minion + ": " + line + "\n")
		}
		return nil
	}
	var v strings.Builder
	pyRepr(&v, t)
	b.WriteString(r.Minion + ": " + v.String() + "\n")
	return nil
}
