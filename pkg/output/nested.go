package output

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"github.com/fatih/color"
)

// nester renders tree values as Salt's nested outputter does: mappings as
// "----------" then each sorted key with its value indented four spaces
// below, lists as "- item" ("|_" before a nested collection), strings one
// line per line, other scalars as Python prints them.
type nester struct {
	p     palette
	lines []string
}

// add appends one line: indent, then prefix and msg in colour c, then suffix.
func (n *nester) add(indent int, c *color.Color, prefix, msg, suffix string) {
	n.lines = append(n.lines, strings.Repeat(" ", indent)+c.Sprint(prefix+msg)+suffix)
}

// display renders v at indent; prefix goes before its first line.
func (n *nester) display(v any, indent int, prefix string) {
	switch v := v.(type) {
	case string:
		for i, line := range splitLines(v) {
			pre := prefix
			if i > 0 {
				pre = strings.Repeat(" ", len(prefix))
			}
			n.add(indent, n.p.green, pre, stripEsc(line), "")
		}
	case []any:
		for _, e := range v {
			switch e.(type) {
			case object:
				n.add(indent, n.p.green, "", "|_", "")
				n.display(e, indent+2, "")
			case []any:
				n.add(indent, n.p.green, "", "|_", "")
				n.display(e, indent+2, "- ")
			default:
				n.display(e, indent, "- ")
			}
		}
	case object:
		if indent > 0 {
			n.add(indent, n.p.cyan, "", "----------", "")
		}
		sorted := append(object(nil), v...)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
		for _, m := range sorted {
			n.add(indent, n.p.cyan, prefix, stripEsc(m.Key), ":")
			n.display(m.Value, indent+4, "")
		}
	case json.Number, bool, nil:
		n.add(indent, n.p.yellow, prefix, pyScalar(v), "")
	}
}

// writeNestedOut prints "<minion>:" and the data nested four spaces below.
func writeNestedOut(b *bytes.Buffer, r Return, p palette, _ Options) error {
	t, err := toTree(r.Data)
	if err != nil {
		return err
	}
	writeNested(b, r.Minion, t, p)
	return nil
}

// writeNested prints a tree under its minion id.
func writeNested(b *bytes.Buffer, minion string, t any, p palette) {
	n := nester{p: p}
	n.add(0, p.cyan, "", stripEsc(minion), ":")
	n.display(t, 4, "")
	for _, l := range n.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
}
