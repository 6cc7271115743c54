// Package grains provides the grains execution module: grains.items,
// grains.get, grains.item and grains.ls read the minion's grains, and
// grains.filter_by picks the entry of a lookup table a grain selects.
package grains

import (
	"context"
	"sort"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/dict"
	"github.com/brinecm/brine/pkg/saltdata"
)

type noArgs struct{}

type getArgs struct {
	Key       string `arg:"key,required"`
	Default   any    `arg:"default"`
	Delimiter string `arg:"delimiter"`
}

type filterByArgs struct {
	LookupDict map[string]any `arg:"lookup_dict,required"`
	Grain      string         `arg:"grain"`
	Merge      any            `arg:"merge"`
	Default    string         `arg:"default"`
	Base       string         `arg:"base"`
}

type itemArgs struct {
	Keys []string `arg:"keys"`
}

func init() {
	modules.Register("grains.items", modules.Func[noArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc:      "Return all grains of the minion.",
		Call: func(_ context.Context, rt *modules.Runtime, _ *noArgs) (any, error) {
			return rt.Grains, nil
		},
	})
	modules.Register("grains.get", modules.Func[getArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc:      "Return one grain; nested keys are joined by ':' (or delimiter), default when missing.",
		Params:   []string{"key", "default", "delimiter"},
		Call: func(_ context.Context, rt *modules.Runtime, a *getArgs) (any, error) {
			if v, ok := dict.Traverse(rt.Grains, a.Key, a.Delimiter); ok {
				return v, nil
			}
			if a.Default == nil {
				return "", nil
			}
			return a.Default, nil
		},
	})
	modules.Register("grains.filter_by", modules.Func[filterByArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc: "Return the entry of lookup_dict whose key matches (as a glob) the value of grain " +
			"(default os_family); else the entry named default (default 'default'); merged over the " +
			"entry named base when given, and merge merged over the result.",
		Params: []string{"lookup_dict", "grain", "merge", "default", "base"},
		Call: func(_ context.Context, rt *modules.Runtime, a *filterByArgs) (any, error) {
			if a.Grain == "" {
				a.Grain = "os_family"
			}
			if a.Default == "" {
				a.Default = "default"
			}
			return saltdata.FilterBy(a.LookupDict, a.Grain, rt.Grains, a.Merge, a.Default, a.Base)
		},
	})
	modules.Register("grains.item", modules.Func[itemArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc:      "Return the named grains as a mapping.",
		Params:   []string{"keys..."},
		Call: func(_ context.Context, rt *modules.Runtime, a *itemArgs) (any, error) {
			out := make(map[string]any, len(a.Keys))
			for _, k := range a.Keys {
				v, _ := dict.Traverse(rt.Grains, k, "")
				out[k] = v
			}
			return out, nil
		},
	})
	modules.Register("grains.ls", modules.Func[noArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc:      "Return the names of all grains, sorted.",
		Call: func(_ context.Context, rt *modules.Runtime, _ *noArgs) (any, error) {
			keys := make([]any, 0, len(rt.Grains))
			for k := range rt.Grains {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool { return keys[i].(string) < keys[j].(string) })
			return keys, nil
		},
	})
}
