// Package schedule provides the schedule execution module, acting on the
// running minion's schedule as Salt's does: schedule.list, add, delete,
// enable, disable, enable_job, disable_job, run_job and reload.
package schedule

import (
	"context"
	"errors"

	"github.com/brinecm/brine/modules"
)

type noArgs struct{}

type nameArgs struct {
	Name string `arg:"name,required"`
}

type addArgs struct {
	Name  string         `arg:"name,required"`
	Entry map[string]any `arg:"*"`
}

// errNoSchedule is the error where no minion runs (brine call --local).
var errNoSchedule = errors.New("the schedule belongs to a running minion (brine minion): " +
	"call schedule functions through the master, not with brine call --local")

// sched returns the runtime's schedule, or errNoSchedule.
func sched(rt *modules.Runtime) (modules.Schedule, error) {
	if rt.Schedule == nil {
		return nil, errNoSchedule
	}
	return rt.Schedule, nil
}

// result is Salt's answer to a schedule change.
func result(comment string) map[string]any {
	return map[string]any{"result": true, "comment": comment}
}

func init() {
	modules.Register("schedule.list", modules.Func[noArgs]{
		ReadOnly: true,
		Doc:      "List the minion's schedule: each entry in Salt's format with its source and next run, whether the schedule is enabled, and the entries skipped as invalid with why.",
		Call: func(_ context.Context, rt *modules.Runtime, _ *noArgs) (any, error) {
			s, err := sched(rt)
			if err != nil {
				return nil, err
			}
			return s.List(), nil
		},
	})
	modules.Register("schedule.add", modules.Func[addArgs]{
		Doc: "Add (or replace) a schedule entry, kept across restarts: schedule.add NAME function=state.highstate minutes=30 splay=60 " +
			"(any key of Salt's schedule format: seconds, minutes, hours, days, cron, splay, run_on_start, maxrunning, enabled, job_args, job_kwargs).",
		Params: []string{"name"},
		Call: func(_ context.Context, rt *modules.Runtime, a *addArgs) (any, error) {
			s, err := sched(rt)
			if err != nil {
				return nil, err
			}
			if err := s.Add(a.Name, a.Entry); err != nil {
				return nil, err
			}
			return result("Added job: " + a.Name + " to schedule."), nil
		},
	})
	modules.Register("schedule.delete", modules.Func[nameArgs]{
		Doc:    "Delete a schedule entry, also one of the configuration file or pillar, until it is added again.",
		Params: []string{"name"},
		Call: func(_ context.Context, rt *modules.Runtime, a *nameArgs) (any, error) {
			s, err := sched(rt)
			if err != nil {
				return nil, err
			}
			if err := s.Delete(a.Name); err != nil {
				return nil, err
			}
			return result("Deleted job: " + a.Name + " from schedule."), nil
		},
	})
	for _, on := range []bool{true, false} {
		verb, past := "enable", "Enabled"
		if !on {
			verb, past = "disable", "Disabled"
		}
		modules.Register("schedule."+verb, modules.Func[noArgs]{
			Doc: "Turn the whole schedule " + map[bool]string{true: "on", false: "off"}[on] + " (until restart or schedule.reload).",
			Call: func(_ context.Context, rt *modules.Runtime, _ *noArgs) (any, error) {
				s, err := sched(rt)
				if err != nil {
					return nil, err
				}
				if err := s.Enable("", on); err != nil {
					return nil, err
				}
				return result(past + " schedule on minion."), nil
			},
		})
		modules.Register("schedule."+verb+"_job", modules.Func[nameArgs]{
			Doc:    "Turn one schedule entry " + map[bool]string{true: "on", false: "off"}[on] + " (until restart or schedule.reload).",
			Params: []string{"name"},
			Call: func(_ context.Context, rt *modules.Runtime, a *nameArgs) (any, error) {
				s, err := sched(rt)
				if err != nil {
					return nil, err
				}
				if err := s.Enable(a.Name, on); err != nil {
					return nil, err
				}
				return result(past + " Job " + a.Name + " in schedule."), nil
			},
		})
	}
	modules.Register("schedule.run_job", modules.Func[nameArgs]{
		Doc:    "Run a schedule entry now, as a job of its own (origin schedule, in the job cache); returns its job id once it finished.",
		Params: []string{"name"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *nameArgs) (any, error) {
			s, err := sched(rt)
			if err != nil {
				return nil, err
			}
			jid, err := s.RunJob(ctx, a.Name)
			if err != nil {
				return nil, err
			}
			return map[string]any{"result": true, "comment": "Scheduling Job " + a.Name + " on minion.", "jid": jid}, nil
		},
	})
	modules.Register("schedule.reload", modules.Func[noArgs]{
		Doc: "Read the schedule again: the configuration file, the pillar of the cached highstate, and the entries added or deleted at run time.",
		Call: func(_ context.Context, rt *modules.Runtime, _ *noArgs) (any, error) {
			s, err := sched(rt)
			if err != nil {
				return nil, err
			}
			if err := s.Reload(); err != nil {
				return nil, err
			}
			return result("Reloaded schedule on minion."), nil
		},
	})
}
