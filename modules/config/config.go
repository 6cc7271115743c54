// Package config provides config.get: a value from the minion's
// configuration, else its grains, as Salt's config.get. Templates get the
// pillar too: the compiler answers config.get there (see pkg/sls).
package config

import (
	"context"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/saltdata"
)

type getArgs struct {
	Key        string `arg:"key,required"`
	Default    any    `arg:"default"`
	Delimiter  string `arg:"delimiter"`
	Merge      string `arg:"merge"`
	OmitOpts   bool   `arg:"omit_opts"`
	OmitPillar bool   `arg:"omit_pillar"`
	OmitMaster bool   `arg:"omit_master"`
	OmitGrains bool   `arg:"omit_grains"`
}

func init() {
	modules.Register("config.get", modules.Func[getArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc: "Return a configuration value: the minion's options, else its grains (else, in a template, " +
			"its pillar and the pillar's master mapping), else default; merge=recurse|overwrite merges them all.",
		Params: []string{"key", "default", "delimiter", "merge", "omit_opts", "omit_pillar", "omit_master", "omit_grains"},
		Call: func(_ context.Context, rt *modules.Runtime, a *getArgs) (any, error) {
			var def any = ""
			if a.Default != nil {
				def = a.Default
			}
			src := saltdata.ConfigSources{Opts: rt.Opts, Grains: rt.Grains, OmitOpts: a.OmitOpts,
				OmitGrains: a.OmitGrains, OmitPillar: true, OmitMaster: true}
			return saltdata.ConfigGet(src, a.Key, def, a.Delimiter, a.Merge)
		},
	})
}
