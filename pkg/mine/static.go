package mine

import (
	"context"

	"github.com/brinecm/brine/pkg/target"
)

// Static is a mine of known grains by minion id: what `brine test` renders
// recipes against when it is given grains instead of a master.
type Static map[string]map[string]any

// Get returns fun's value for every minion of s that tgt selects.
func (s Static) Get(_ context.Context, tgt string, kind target.Kind, fun string) (map[string]any, error) {
	if kind == "" {
		kind = target.Glob
	}
	m, err := target.Compile(kind, tgt, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for id, grains := range s {
		if !m.Match(target.Minion{ID: id, Grains: grains}) {
			continue
		}
		if v, ok := Value(grains, fun); ok {
			out[id] = v
		}
	}
	return out, nil
}
