// Package config reads brine's YAML configuration files.
package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// DefaultMinionPath is where the minion configuration lives unless --config says otherwise.
const DefaultMinionPath = "/etc/brine/minion"

// DefaultMinionDataDir is where a minion keeps its state.
const DefaultMinionDataDir = "/var/lib/brine/minion"

// Default state and pillar trees, as Salt's /srv/salt and /srv/pillar.
const (
	DefaultFileRoot   = "/srv/brine/states"
	DefaultPillarRoot = "/srv/brine/pillar"
)

// Minion is the minion configuration (also used by `brine call --local`).
type Minion struct {
	ID          string         `yaml:"id"`
	Master      []string       `yaml:"master"`   // the master's bus URLs
	DataDir     string         `yaml:"data_dir"` // key, pins, job queue, cached highstate
	FileRoots   Roots          `yaml:"file_roots"`
	PillarRoots Roots          `yaml:"pillar_roots"`
	Grains      map[string]any `yaml:"grains"`
	LogLevel    string         `yaml:"log_level"`
	Failhard    bool           `yaml:"failhard"`
	// StrictArguments refuses a state run with an unknown state argument;
	// by default the state runs with a warning, as Salt runs it.
	StrictArguments bool `yaml:"strict_arguments"`
	// Schedule is the minion's schedule, in Salt's schedule: format (see
	// docs/schedule.md); entries from pillar are added to it.
	Schedule yaml.Node `yaml:"schedule"`
	// FileBackupDir is where file states with backup: minion keep the
	// files they replace (Salt's cachedir/file_backup); default
	// <data_dir>/file_backup.
	FileBackupDir string `yaml:"file_backup_dir"`
	// Drift is the minion's drift: mapping (watch, debounce, flap_limit,
	// flap_window; see docs/drift.md), kept as YAML so that errors name
	// its lines; pillar entries are added to it.
	Drift yaml.Node `yaml:"drift"`
}

// Roots is a list of tree directories. It reads a plain list or a string,
// or Salt's per-environment form ({base: [dirs]}), of which only base is used.
type Roots []string

// UnmarshalYAML accepts a string, a list, or Salt's {base: [...]} mapping.
func (r *Roots) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*r = Roots{n.Value}
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		*r = list
		return nil
	case yaml.MappingNode:
		var envs map[string][]string
		if err := n.Decode(&envs); err != nil {
			return err
		}
		for env := range envs {
			if env != "base" {
				return fmt.Errorf("line %d: environment %q: only base is supported", n.Line, env)
			}
		}
		*r = envs["base"]
		return nil
	}
	return fmt.Errorf("line %d: expected a directory, a list of directories or {base: [...]}", n.Line)
}

// Map returns the configuration as the `opts` mapping Jinja sees.
func (m *Minion) Map() map[string]any {
	opts := map[string]any{
		"id":               m.ID,
		"file_roots":       map[string]any{"base": toAny(m.FileRoots)},
		"pillar_roots":     map[string]any{"base": toAny(m.PillarRoots)},
		"grains":           m.Grains,
		"log_level":        m.LogLevel,
		"failhard":         m.Failhard,
		"strict_arguments": m.StrictArguments,
	}
	if m.DataDir != "" {
		opts["data_dir"] = m.DataDir
	}
	if m.FileBackupDir != "" {
		opts["file_backup_dir"] = m.FileBackupDir
	}
	return opts
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// LoadMinion reads a minion configuration file. A missing file at the
// default path is an empty configuration; at any other path it is an error.
func LoadMinion(path string) (*Minion, error) {
	m := &Minion{}
	if err := load(path, DefaultMinionPath, m); err != nil {
		return nil, err
	}
	return m, nil
}
