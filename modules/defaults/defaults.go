// Package defaults provides Salt's defaults.merge and defaults.deepcopy:
// formulas merge pillar settings over their default settings with them.
package defaults

import (
	"context"
	"fmt"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/saltdata"
)

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
