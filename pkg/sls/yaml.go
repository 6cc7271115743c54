package sls

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/brinecm/brine/pkg/dict"
	"gopkg.in/yaml.v3"
)

// maxNodes bounds how many YAML nodes one file may expand to through
// aliases, so that a "billion laughs" document fails instead of eating
// the machine.
const maxNodes = 1 << 20

// yamlLine pulls the line number and the message out of a yaml.v3 syntax
// error message ("yaml: line 3: did not find expected key").
func yamlLine(e string) (line int, msg string, ok bool) {
	rest, found := strings.CutPrefix(e, "yaml: line ")
	if !found {
		return 0, "", false
	}
	num, msg, found := strings.Cut(rest, ": ")
	if !found || strings.Contains(msg, "\n") {
		return 0, "", false
	}
	line, err := strconv.Atoi(num)
	if err != nil || line < 0 || num[0] == '+' {
		return 0, "", false
	}
	return line, msg, true
}

// parseYAML parses src into a node tree. It returns nil for a document
// with no content (empty, only comments, or only null).
func parseYAML(file string, src []byte) (root *yaml.Node, err *Error) {
	defer func() {
		if p := recover(); p != nil {
			root, err = nil, &Error{Pos: Pos{File: file}, Msg: fmt.Sprintf("YAML parser failure: %v", p)}
		}
	}()
	doc, ok := parseFast(src)
	if !ok {
		doc = new(yaml.Node)
		if e := yaml.Unmarshal(src, doc); e != nil {
			msg := strings.TrimPrefix(e.Error(), "yaml: ")
			line := 0
			if l, m, ok := yamlLine(e.Error()); ok {
				line, msg = l, m
			}
			return nil, &Error{Pos: Pos{File: file, Line: line}, Msg: "invalid YAML: " + msg}
		}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	n := resolve(doc.Content[0])
	if isNull(n) {
		return nil, nil
	}
	return n, nil
}

// parser converts the nodes of one file into Go values, recording errors
// with the file's positions.
type parser struct {
	file   string
	errs   *Errors
	budget int // nodes left before the file counts as too large
}

// newParser returns a parser for file that records errors in errs.
func newParser(file string, errs *Errors) *parser {
	return &parser{file: file, errs: errs, budget: maxNodes}
}

// pos is the position of n in the file.
func (p *parser) pos(n *yaml.Node) Pos { return Pos{File: p.file, Line: n.Line} }

// errorf records an error at n about the state ID id ("" for none).
func (p *parser) errorf(n *yaml.Node, id, format string, args ...any) {
	p.errs.add(p.pos(n), id, format, args...)
}

// spend counts one node against the budget; it reports false (once with
// an error) when the budget is exhausted.
func (p *parser) spend(n *yaml.Node) bool {
	p.budget--
	if p.budget == 0 {
		p.errorf(n, "", "document too large: more than %d nodes after alias expansion", maxNodes)
	}
	return p.budget > 0
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// pair is one key and value of a mapping.
type pair struct {
	key     string
	keyNode *yaml.Node
	val     *yaml.Node
}

// pairs lists a mapping's entries in order. A key written twice is an error
// at the second one (and the second is dropped). Merge keys (`<<: *base`)
// add the merged mapping's entries that are not written explicitly.
func (p *parser) pairs(n *yaml.Node) []pair {
	out := make([]pair, 0, len(n.Content)/2)
	var index map[string]int // key -> index in out, for large mappings
	find := func(key string) int {
		if index != nil {
			if i, ok := index[key]; ok {
				return i
			}
			return -1
		}
		for i := range out {
			if out[i].key == key {
				return i
			}
		}
		return -1
	}
	insert := func(pr pair) {
		out = append(out, pr)
		if index == nil && len(out) > 16 {
			index = make(map[string]int, len(n.Content)/2)
			for i := range out {
				index[out[i].key] = i
			}
		} else if index != nil {
			index[pr.key] = len(out) - 1
		}
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if !p.spend(k) {
			return out
		}
		if k.Kind == yaml.ScalarNode && nodeTag(k) == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "", "mapping key must be a scalar, not a %s", kindName(k))
			continue
		}
		if j := find(k.Value); j >= 0 {
			p.errorf(k, "", "duplicate key %q (first defined at line %d)", k.Value, out[j].keyNode.Line)
			continue
		}
		insert(pair{key: k.Value, keyNode: k, val: v})
	}
	for _, m := range merges {
		m = resolve(m)
		var sources []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{m}
		case yaml.SequenceNode:
			for _, s := range m.Content {
				sources = append(sources, resolve(s))
			}
		}
		for _, s := range sources {
			if s.Kind != yaml.MappingNode {
				p.errorf(s, "", "merge key value must be a mapping or a list of mappings")
				continue
			}
			for _, pr := range p.pairs(s) {
				if find(pr.key) < 0 {
					insert(pr)
				}
			}
		}
	}
	return out
}

// value converts n to plain Go values: map[string]any, []any, int,
// float64, bool, nil and string.
func (p *parser) value(n *yaml.Node) any {
	v, _ := p.data(n, false)
	return v
}

// orderedValue is value with the key order of its mappings, as the YAML
// wrote them (Salt's loader keeps it: Python dicts are ordered).
func (p *parser) orderedValue(n *yaml.Node) (any, *dict.Order) {
	return p.data(n, true)
}

// data converts n; with order it also returns the mappings' key order
// (nil where there are none).
func (p *parser) data(n *yaml.Node, order bool) (any, *dict.Order) {
	n = resolve(n)
	if !p.spend(n) {
		return nil, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return scalar(n), nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		var o *dict.Order
		for i, c := range n.Content {
			v, co := p.data(c, order)
			out[i] = v
			if co != nil {
				if o == nil {
					o = &dict.Order{Items: make([]*dict.Order, len(n.Content))}
				}
				o.Items[i] = co
			}
		}
		return out, o
	case yaml.MappingNode:
		prs := p.pairs(n)
		out := make(map[string]any, len(prs))
		var o *dict.Order
		if order {
			o = &dict.Order{Keys: make([]string, 0, len(prs))}
		}
		for _, pr := range prs {
			v, co := p.data(pr.val, order)
			out[pr.key] = v
			if o != nil {
				o.Keys = append(o.Keys, pr.key)
				if co != nil {
					if o.Sub == nil {
						o.Sub = map[string]*dict.Order{}
					}
					o.Sub[pr.key] = co
				}
			}
		}
		return out, o
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return p.data(n.Content[0], order)
		}
	}
	return nil, nil
}

// scalar converts a scalar node with YAML 1.1 flavour, as Salt's loader
// does: unquoted yes/no/on/off are booleans and a leading-zero integer
// keeps its digits (0644 is 644, so file modes read right).
func scalar(n *yaml.Node) any {
	switch tag := nodeTag(n); tag {
	case "!!null":
		return nil
	case "!!bool":
		if b, ok := yaml11Bool(n.Value); ok {
			return b
		}
	case "!!int", "!!float":
		return number(n.Value, tag)
	case "!!str":
		if n.Style == 0 {
			if b, ok := yaml11Bool(n.Value); ok {
				return b
			}
		}
	}
	return n.Value
}

// yaml11Bool recognises YAML 1.1 booleans.
func yaml11Bool(s string) (bool, bool) {
	switch s {
	case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

// number converts a numeric scalar; one that does not fit is kept as text.
func number(s, tag string) any {
	if leadingZero(s) {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return int(v)
		}
		return s
	}
	if tag == "!!int" {
		if strings.HasPrefix(s, "0o") || strings.HasPrefix(s, "0O") {
			// YAML 1.1, which Salt reads, has no 0o form: the text stays
			// text, and a file mode written 0o645 reads as 0645.
			return s
		}
		if v, err := strconv.ParseInt(s, 0, 64); err == nil {
			return int(v)
		}
		return s
	}
	switch strings.ToLower(s) {
	case ".inf", "+.inf":
		return math.Inf(1)
	case "-.inf":
		return math.Inf(-1)
	case ".nan":
		return math.NaN()
	}
	if f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64); err == nil {
		return f
	}
	return s
}

// leadingZero reports whether s is an optionally signed run of decimal
// digits starting with 0 and at least two digits long ("0644").
func leadingZero(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if len(s) < 2 || s[0] != '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// kindName names a node's kind for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if nodeTag(n) == "!!null" {
			return "null"
		}
		return "scalar"
	}
	return "node"
}

// isNull reports whether n is an explicit or empty null.
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && nodeTag(n) == "!!null" }
