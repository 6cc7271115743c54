// Package mine provides the mine execution module: mine.get, what a recipe
// may know of the other minions (their grains, from the master's cache).
package mine

import (
	"context"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/target"
)

type getArgs struct {
	Tgt     string `arg:"tgt,required"`
	Fun     string `arg:"fun,required"`
	TgtType string `arg:"tgt_type"`
}

func init() {
	modules.Register("mine.get", modules.Func[getArgs]{
		Doc: "For every minion tgt selects (tgt_type: glob by default, or compound, grain, list, " +
			"pcre, ipcidr…), the value fun names in its grains: a grain key, nested keys joined " +
			"by ':' (ipv4, ip4_interfaces:eth0), or grains.items for all of them. Compiled on a " +
			"master, it sees every accepted minion; masterless, the local minion alone.",
		Params:   []string{"tgt", "fun"},
		ReadOnly: true,
		Pure:     true,
		Call: func(ctx context.Context, rt *modules.Runtime, a *getArgs) (any, error) {
			kind := target.Kind(a.TgtType)
			if kind == "" {
				kind = target.Glob
			}
			return rt.FleetMine().Get(ctx, a.Tgt, kind, a.Fun)
		},
	})
}
