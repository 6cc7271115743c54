// Package slsutil provides the helpers of Salt's slsutil module that
// formulas call from their map files: slsutil.merge, slsutil.update and
// slsutil.serialize.
package slsutil

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/saltdata"
	"gopkg.in/yaml.v3"
)

type mergeArgs struct {
	ObjA       map[string]any `arg:"obj_a,required"`
	ObjB       map[string]any `arg:"obj_b,required"`
	Strategy   string         `arg:"strategy"`
	Renderer   string         `arg:"renderer"`
	MergeLists bool           `arg:"merge_lists"`
}

type updateArgs struct {
	Dest            any   `arg:"dest,required"` // updated in place: not decoded into a (copied) map
	Upd             any   `arg:"upd,required"`
	RecursiveUpdate *bool `arg:"recursive_update"`
	MergeLists      bool  `arg:"merge_lists"`
}

type serializeArgs struct {
	Serializer string         `arg:"serializer,required"`
	Obj        any            `arg:"obj"`
	Options    map[string]any `arg:"*"`
}

func init() {
	modules.Register("slsutil.merge", modules.Func[mergeArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc: "Merge obj_b over obj_a with a strategy: smart (default), recurse, overwrite, " +
			"aggregate, list or none; merge_lists=True concatenates lists found in both.",
		Params: []string{"obj_a", "obj_b", "strategy", "renderer", "merge_lists"},
		Call: func(_ context.Context, _ *modules.Runtime, a *mergeArgs) (any, error) {
			return saltdata.Merge(a.ObjA, a.ObjB, a.Strategy, a.Renderer, a.MergeLists)
		},
	})
	modules.Register("slsutil.update", modules.Func[updateArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc:      "Merge upd into dest (in place) recursively and return dest.",
		Params:   []string{"dest", "upd", "recursive_update", "merge_lists"},
		Call: func(_ context.Context, _ *modules.Runtime, a *updateArgs) (any, error) {
			dest, ok := a.Dest.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("dest must be a dictionary, got %T", a.Dest)
			}
			upd, ok := a.Upd.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("upd must be a dictionary, got %T", a.Upd)
			}
			if a.RecursiveUpdate != nil && !*a.RecursiveUpdate {
				for k, v := range upd {
					dest[k] = v
				}
				return dest, nil
			}
			return saltdata.Update(dest, upd, a.MergeLists), nil
		},
	})
	modules.Register("slsutil.serialize", modules.Func[serializeArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc: "Serialize obj with a serializer (yaml or json) and return the text; " +
			"json takes indent and sort_keys, yaml default_flow_style (the others are accepted and ignored).",
		Params: []string{"serializer", "obj"},
		Call: func(_ context.Context, _ *modules.Runtime, a *serializeArgs) (any, error) {
			return Serialize(a.Serializer, a.Obj, a.Options)
		},
	})
}

// Serialize renders obj as serializer ("yaml", "json") would, with the
// options of Salt's serializers that change the text.
func Serialize(serializer string, obj any, opts map[string]any) (string, error) {
	switch serializer {
	case "json":
		indent := ""
		switch ind := opts["indent"].(type) {
		case int:
			indent = strings.Repeat(" ", ind)
		case string:
			indent = ind
		}
		b, err := marshalJSON(obj, indent)
		if err != nil {
			return "", fmt.Errorf("serialize json: %w", err)
		}
		if indent == "" {
			b = pythonJSONSpacing(b)
		}
		return string(b), nil
	case "yaml":
		if flow, ok := opts["default_flow_style"].(bool); ok && flow {
			b, err := marshalJSON(obj, "")
			if err != nil {
				return "", fmt.Errorf("serialize yaml: %w", err)
			}
			return string(pythonJSONSpacing(b)) + "\n", nil
		}
		var sb strings.Builder
		enc := yaml.NewEncoder(&sb)
		enc.SetIndent(2)
		if err := enc.Encode(obj); err != nil {
			return "", fmt.Errorf("serialize yaml: %w", err)
		}
		if err := enc.Close(); err != nil {
			return "", fmt.Errorf("serialize yaml: %w", err)
		}
		return sb.String(), nil
	}
	return "", fmt.Errorf("unknown serializer %q (brine serializes yaml and json)", serializer)
}

// pythonJSONSpacing adds the spaces Python's json.dumps puts after ':' and
// ',' outside strings, so the text reads as Salt's.
func pythonJSONSpacing(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	inStr, esc := false, false
	for _, c := range b {
		out = append(out, c)
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ':' || c == ','):
			out = append(out, ' ')
		}
	}
	return out
}

// marshalJSON encodes v without escaping HTML characters, as Python does.
func marshalJSON(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
