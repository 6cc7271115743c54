package config

import (
	"fmt"
	"slices"
)

// TopFiles are how a highstate without a saltenv reads the environments'
// top files, under Salt's keys (docs/salt-semantics.md, "Environments").
type TopFiles struct {
	// TopFileMergingStrategy is merge (default), same or merge_all.
	TopFileMergingStrategy string `yaml:"top_file_merging_strategy"`
	// EnvOrder is the order the environments' top files are merged in;
	// environments it leaves out are not used (default: base, then the
	// others sorted).
	EnvOrder []string `yaml:"env_order"`
	// DefaultTop is the environment whose top file gives an environment
	// without one its section, with the same strategy (default base).
	DefaultTop string `yaml:"default_top"`
	// StateTopSaltenv, when set, is the only environment whose top file is
	// read.
	StateTopSaltenv string `yaml:"state_top_saltenv"`
}

// Map adds the keys that are set to opts, as Salt's opts carry them.
func (t TopFiles) Map(opts map[string]any) {
	if t.TopFileMergingStrategy != "" {
		opts["top_file_merging_strategy"] = t.TopFileMergingStrategy
	}
	if len(t.EnvOrder) > 0 {
		opts["env_order"] = t.EnvOrder
	}
	if t.DefaultTop != "" {
		opts["default_top"] = t.DefaultTop
	}
	if t.StateTopSaltenv != "" {
		opts["state_top_saltenv"] = t.StateTopSaltenv
	}
}

// Check reports a strategy brine does not know, or an environment named
// that file_roots (base and others) does not have.
func (t TopFiles) Check(base Roots, others Envs) error {
	switch t.TopFileMergingStrategy {
	case "", "merge", "same", "merge_all":
	default:
		return fmt.Errorf("top_file_merging_strategy %q: want merge, same or merge_all", t.TopFileMergingStrategy)
	}
	envs := Environments(base, others)
	known := func(key, env string) error {
		if _, ok := envs[env]; ok || env == "base" {
			return nil
		}
		names := []string{"base"}
		for name := range others {
			if name != "base" {
				names = append(names, name)
			}
		}
		slices.Sort(names[1:])
		return fmt.Errorf("%s: environment %q is not in file_roots (it has %v)", key, env, names)
	}
	for _, env := range t.EnvOrder {
		if err := known("env_order", env); err != nil {
			return err
		}
	}
	if t.DefaultTop != "" {
		if err := known("default_top", t.DefaultTop); err != nil {
			return err
		}
	}
	if t.StateTopSaltenv != "" {
		return known("state_top_saltenv", t.StateTopSaltenv)
	}
	return nil
}
