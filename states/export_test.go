package states

import (
	"context"

	"github.com/brinecm/brine/pkg/result"
)

// RunSequential runs p one state at a time, never in windows: the run
// order the concurrent run must reproduce.
func RunSequential(ctx context.Context, p *Plan, opts RunOptions) result.Highstate {
	return p.run(ctx, opts, false)
}

// Windows returns the IDs of the states Run would run together, window by
// window in run order (a state that runs alone is a window of one),
// without running anything: a state counts as run once its window is
// formed, and one that runs alone first runs what it requires, as runStep.
func Windows(p *Plan, opts RunOptions) [][]string {
	r := newRunner(p, opts)
	var out [][]string
	var solo func(s *step)
	solo = func(s *step) {
		if r.state[s.pos] != notRun {
			return
		}
		r.state[s.pos] = running
		for _, d := range s.deps() {
			solo(d)
		}
		out = append(out, []string{s.low.ID})
		r.state[s.pos] = done
	}
	for i := 0; i < len(p.steps); {
		members, _, end := r.window(p.steps, i)
		if len(members) > 1 {
			var ids []string
			for _, s := range members {
				ids = append(ids, s.low.ID)
				r.state[s.pos] = done
			}
			out = append(out, ids)
			i = end
			continue
		}
		solo(p.steps[i])
		i++
	}
	return out
}
