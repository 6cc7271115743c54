package minion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/schedule"
	"github.com/brinecm/brine/states"
)

// scheduleFile keeps the entries schedule.add added and the names
// schedule.delete removed, across restarts.
const scheduleFile = "schedule.json"

// savedSchedule is scheduleFile's content.
type savedSchedule struct {
	Added   map[string]map[string]any `json:"added,omitempty"`
	Deleted []string                  `json:"deleted,omitempty"`
}

// minionSchedule is the minion's schedule: the entries of its
// configuration file, those of the pillar of its cached highstate (added
// to the file's; a name the file has stays the file's), and those added at
// run time. Each due entry runs as a job of the minion's own with origin
// "schedule".
type minionSchedule struct {
	m      *Minion
	runner *schedule.Runner

	mu   sync.Mutex // serializes loads and edits of the saved schedule
	errs []error    // the entries skipped at the last load
}

func newMinionSchedule(m *Minion) *minionSchedule {
	s := &minionSchedule{m: m}
	s.runner = schedule.NewRunner(nil, s.fire, m.log)
	return s
}

// minionScheduleOptions are what a minion's schedule may name: its execution functions.
var minionScheduleOptions = schedule.Options{
	Known:   func(name string) bool { _, ok := modules.Lookup(name); return ok },
	Suggest: func(name string) string { return states.Suggest(name, modules.Names()) },
}

// fire runs one due entry.
func (s *minionSchedule) fire(ctx context.Context, e *schedule.Entry) {
	log := s.m.log.With("entry", e.Name, "fun", e.Function)
	log.Info("scheduled run")
	ret, err := s.m.RunOwn(ctx, e.Function, e.Args, e.Kwargs, job.OriginSchedule)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("scheduled run failed", "err", err)
		}
		return
	}
	log.Info("scheduled run finished", "jid", ret.JID, "retcode", ret.Retcode)
}

// reload reads the schedule again and hands it to the runner; it logs each
// entry skipped and returns them.
func (s *minionSchedule) reload() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, errs := s.load()
	for _, err := range errs {
		s.m.log.Error("schedule entry skipped", "err", err)
	}
	s.errs = errs
	s.runner.Set(entries)
	return errs
}

// load reads every source of the schedule; s.mu is held.
func (s *minionSchedule) load() ([]*schedule.Entry, []error) {
	var entries []*schedule.Entry
	var errs []error
	byName := map[string]bool{}
	add := func(es []*schedule.Entry, override bool) {
		for _, e := range es {
			if byName[e.Name] && !override {
				continue
			}
			if byName[e.Name] {
				entries = slices.DeleteFunc(entries, func(o *schedule.Entry) bool { return o.Name == e.Name })
			}
			byName[e.Name] = true
			entries = append(entries, e)
		}
	}
	if path := s.m.cfg.ConfigFile; path != "" {
		cfg, err := config.LoadMinion(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule: %w", err))
		} else {
			es, e := schedule.ParseNode(path, &cfg.Schedule, minionScheduleOptions)
			add(es, false)
			errs = append(errs, e...)
		}
	}
	if cached, err := s.m.cachedHighstate(); err == nil {
		if raw, ok := cached.Pillar["schedule"]; ok {
			m, isMap := raw.(map[string]any)
			if !isMap {
				errs = append(errs, errors.New("pillar: schedule: expected a mapping of entry names to entries"))
			} else {
				es, e := schedule.Parse("pillar", m, minionScheduleOptions)
				add(es, false)
				errs = append(errs, e...)
			}
		}
	} else if !errors.Is(err, errNoCache) {
		s.m.log.Warn("schedule: the pillar of the cached highstate is not readable", "err", err)
	}
	saved, err := s.readSaved()
	if err != nil {
		errs = append(errs, err)
	}
	for _, name := range slices.Sorted(maps.Keys(saved.Added)) {
		e, err := schedule.ParseEntry(filepath.Join(s.m.cfg.DataDir, scheduleFile), name, saved.Added[name], minionScheduleOptions)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		add([]*schedule.Entry{e}, true)
	}
	entries = slices.DeleteFunc(entries, func(e *schedule.Entry) bool { return slices.Contains(saved.Deleted, e.Name) })
	return entries, errs
}

func (s *minionSchedule) readSaved() (savedSchedule, error) {
	var saved savedSchedule
	path := filepath.Join(s.m.cfg.DataDir, scheduleFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return saved, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &saved)
	}
	if err != nil {
		return savedSchedule{}, fmt.Errorf("%s: %w (remove it to drop the entries schedule.add made)", path, err)
	}
	return saved, nil
}

func (s *minionSchedule) writeSaved(saved savedSchedule) error {
	data, err := json.MarshalIndent(saved, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the schedule: %w", err)
	}
	return writeFileAtomic(filepath.Join(s.m.cfg.DataDir, scheduleFile), data)
}

// scheduleAPI is what the schedule.* execution functions see; nil before
// the minion runs.
func (m *Minion) scheduleAPI() modules.Schedule {
	if m.sched == nil {
		return nil
	}
	return scheduleAPI{m.sched}
}

// scheduleAPI implements modules.Schedule on the minion's schedule.
type scheduleAPI struct{ s *minionSchedule }

// List returns the schedule in Salt's format, with each entry's next run.
func (a scheduleAPI) List() map[string]any {
	out := map[string]any{}
	for _, st := range a.s.runner.List() {
		m := st.Entry.Map()
		m["source"] = st.Entry.Source
		if !st.Next.IsZero() {
			m["next_run"] = st.Next.UTC().Format(time.RFC3339)
		}
		if st.Running > 0 {
			m["running"] = st.Running
		}
		if st.Skipped > 0 {
			m["skipped"] = st.Skipped
		}
		out[st.Entry.Name] = m
	}
	res := map[string]any{"schedule": out, "enabled": !a.s.runner.Paused()}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if len(a.s.errs) > 0 {
		msgs := make([]string, len(a.s.errs))
		for i, err := range a.s.errs {
			msgs[i] = err.Error()
		}
		res["errors"] = msgs
	}
	return res
}

// Add checks and adds an entry, and saves it.
func (a scheduleAPI) Add(name string, raw map[string]any) error {
	e, err := schedule.ParseEntry("schedule.add", name, raw, minionScheduleOptions)
	if err != nil {
		return err
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	saved, err := a.s.readSaved()
	if err != nil {
		return err
	}
	if saved.Added == nil {
		saved.Added = map[string]map[string]any{}
	}
	saved.Added[name] = e.Map()
	saved.Deleted = slices.DeleteFunc(saved.Deleted, func(n string) bool { return n == name })
	if err := a.s.writeSaved(saved); err != nil {
		return err
	}
	e.Source = filepath.Join(a.s.m.cfg.DataDir, scheduleFile)
	a.s.runner.Add(e)
	return nil
}

// Delete removes an entry and saves that it is gone.
func (a scheduleAPI) Delete(name string) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if _, ok := a.s.runner.Get(name); !ok {
		return fmt.Errorf("no schedule entry %q (schedule.list shows them)", name)
	}
	saved, err := a.s.readSaved()
	if err != nil {
		return err
	}
	delete(saved.Added, name)
	if !slices.Contains(saved.Deleted, name) {
		saved.Deleted = append(saved.Deleted, name)
	}
	if err := a.s.writeSaved(saved); err != nil {
		return err
	}
	a.s.runner.Delete(name)
	return nil
}

// Enable enables or disables an entry, or the whole schedule.
func (a scheduleAPI) Enable(name string, on bool) error {
	if name == "" {
		a.s.runner.Pause(!on)
		return nil
	}
	if !a.s.runner.Enable(name, on) {
		return fmt.Errorf("no schedule entry %q (schedule.list shows them)", name)
	}
	return nil
}

// RunJob runs an entry now, as its schedule would.
func (a scheduleAPI) RunJob(ctx context.Context, name string) (string, error) {
	e, ok := a.s.runner.Get(name)
	if !ok {
		return "", fmt.Errorf("no schedule entry %q (schedule.list shows them)", name)
	}
	// The run outlives the job that asked for it: it is a job of its own.
	ret, err := a.s.m.RunOwn(context.WithoutCancel(ctx), e.Function, e.Args, e.Kwargs, job.OriginSchedule)
	if err != nil {
		return "", err
	}
	return ret.JID, nil
}

// Reload reads the schedule again.
func (a scheduleAPI) Reload() error {
	if errs := a.s.reload(); len(errs) > 0 {
		return fmt.Errorf("schedule reloaded; %d entries skipped: %w", len(errs), errors.Join(errs...))
	}
	return nil
}
