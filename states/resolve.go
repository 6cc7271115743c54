package states

import (
	"context"
	"maps"

	"github.com/brinecm/brine/pkg/mine"
	"github.com/brinecm/brine/pkg/sls"
)

// Compiling is what a state function's Resolve hook may use: the minion a
// recipe is compiled for and the mine of its fleet.
type Compiling struct {
	ID     string
	Grains map[string]any
	Mine   mine.Mine
}

// Resolve runs the Resolve hook of every compiled state whose function has
// one (with the local minion alone as the mine when c has none), replacing its arguments with the resolved ones (a copy: lows may
// share argument maps). Unknown functions are left for NewPlan to report.
// Every failure comes back together as sls.Errors naming the state.
func Resolve(ctx context.Context, lows []sls.Low, c *Compiling) error {
	if c.Mine == nil {
		local := *c
		local.Mine = mine.Local{ID: c.ID, Grains: c.Grains}
		c = &local
	}
	var errs sls.Errors
	for i := range lows {
		l := &lows[i]
		e, ok := Lookup(l.Function())
		if !ok || e.resolve == nil {
			continue
		}
		args := maps.Clone(l.Args)
		if args == nil {
			args = map[string]any{}
		}
		if err := e.resolve(ctx, c, args); err != nil {
			errs = append(errs, &sls.Error{Pos: l.Pos, ID: l.ID, Msg: l.Function() + ": " + err.Error()})
			continue
		}
		l.Args = args
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
