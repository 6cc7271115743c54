// Package defaults provides Salt's defaults.get, defaults.merge and
// defaults.deepcopy: formulas read their default settings and merge pillar
// settings over them with these.
package defaults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/dict"
	"github.com/brinecm/brine/pkg/saltdata"
)

type getArgs struct {
	Key     string      `arg:"key,required"`
	Default defaultsArg `arg:"default"`
}

// defaultsArg is defaults.get's default: an empty string when the caller gives none, as
// in Salt, and whatever the caller gives otherwise, None included.
type defaultsArg struct {
	set bool
	v   any
}

// DecodeArg records the default the caller gave.
func (d *defaultsArg) DecodeArg(v any) error {
	d.set, d.v = true, v
	return nil
}

// value is the default to return for a missing key.
func (d defaultsArg) value() any {
	if !d.set {
		return ""
	}
	return d.v
}

// loadDefaults reads <formula>/defaults.yaml, else <formula>/defaults.json,
// from the first state tree root that has one, as Salt's defaults.get
// reads salt://<formula>/defaults.yaml.
func loadDefaults(roots []string, formula string) (any, error) {
	if formula == "" || path.IsAbs(formula) || strings.Contains(formula, "\\") ||
		path.Clean(formula) != formula || strings.HasPrefix(formula, "..") {
		return nil, fmt.Errorf("defaults.get: %q is not a formula name: give the formula's directory in the state tree, e.g. 'nginx:server:port'", formula)
	}
	for _, root := range roots {
		for _, ext := range []string{"yaml", "json"} {
			p := filepath.Join(root, filepath.FromSlash(formula), "defaults."+ext)
			data, err := os.ReadFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("defaults.get: reading %s: %w", p, err)
			}
			var v any
			if ext == "yaml" {
				err = yaml.Unmarshal(data, &v)
			} else {
				v, err = decodeJSON(data)
			}
			if err != nil {
				return nil, fmt.Errorf("defaults.get: %s: %w", p, err)
			}
			return v, nil
		}
	}
	return nil, nil
}

// decodeJSON decodes a defaults.json as Python's json module does: whole
// numbers are integers (1, not 1.0, when a template prints them).
func decodeJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("more than one JSON value")
	}
	return numbers(v), nil
}

// numbers turns the json.Numbers in v into int64 or float64.
func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = numbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = numbers(e)
		}
	}
	return v
}

type mergeArgs struct {
	Dest        any   `arg:"dest,required"` // any, not a map: decoding would copy it, and dest is updated in place
	Src         any   `arg:"src,required"`
	MergeLists  bool  `arg:"merge_lists"`
	InPlace     *bool `arg:"in_place"`
	ConvertNone bool  `arg:"convert_none"`
}

type deepcopyArgs struct {
	Source any `arg:"source"`
}

func init() {
	modules.Register("defaults.get", modules.Func[getArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc: "Return the value at key in a formula's defaults: 'nginx:server:port' reads " +
			"salt://nginx/defaults.yaml (or defaults.json) and returns its server:port, or default " +
			"when there is none; 'nginx' alone returns the whole file.",
		Params: []string{"key", "default"},
		Call: func(_ context.Context, rt *modules.Runtime, a *getArgs) (any, error) {
			formula, key, nested := strings.Cut(a.Key, ":")
			defaults, err := loadDefaults(rt.FileRoots, formula)
			if err != nil {
				return nil, err
			}
			if !nested {
				return defaults, nil
			}
			m, _ := defaults.(map[string]any)
			if v, ok := dict.Traverse(m, key, dict.DefaultDelimiter); ok {
				return v, nil
			}
			return a.Default.value(), nil
		},
	})
	modules.Register("defaults.merge", modules.Func[mergeArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc: "Merge src into dest recursively and return the result; dest itself is updated " +
			"unless in_place=False; merge_lists=True concatenates lists found in both.",
		Params: []string{"dest", "src", "merge_lists", "in_place", "convert_none"},
		Call: func(_ context.Context, _ *modules.Runtime, a *mergeArgs) (any, error) {
			dest, ok := a.Dest.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("dest must be a dictionary, got %T", a.Dest)
			}
			src, ok := a.Src.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("src must be a dictionary, got %T", a.Src)
			}
			if a.InPlace != nil && !*a.InPlace {
				dest = saltdata.DeepCopy(dest).(map[string]any)
			}
			return saltdata.Update(dest, src, a.MergeLists), nil
		},
	})
	modules.Register("defaults.deepcopy", modules.Func[deepcopyArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc:      "Return a deep copy of source.",
		Params:   []string{"source"},
		Call: func(_ context.Context, _ *modules.Runtime, a *deepcopyArgs) (any, error) {
			return saltdata.DeepCopy(a.Source), nil
		},
	})
}
