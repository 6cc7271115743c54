// Package config reads brine's YAML configuration files.
package config

import (
	"fmt"
	"strings"

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
	ID     string   `yaml:"id"`
	Master []string `yaml:"master"` // the master's bus URLs
	// MasterAliveInterval is how often the minion checks that the server
	// it is connected to answers (seconds or a duration, as Salt's key);
	// two checks unanswered and it moves to another master URL. 0: 30s.
	MasterAliveInterval Duration `yaml:"master_alive_interval"`
	DataDir             string   `yaml:"data_dir"` // key, pins, job queue, cached highstate
	FileRoots           Roots    `yaml:"file_roots"`
	PillarRoots         Roots    `yaml:"pillar_roots"`
	// FileEnvs and PillarEnvs are the environments other than base that
	// file_roots and pillar_roots name in Salt's mapping form
	// ({base: [...], dev: [...]}); FileRoots and PillarRoots are base's.
	FileEnvs   Envs           `yaml:"-"`
	PillarEnvs Envs           `yaml:"-"`
	Grains     map[string]any `yaml:"grains"`
	LogLevel   string         `yaml:"log_level"`
	Failhard   bool           `yaml:"failhard"`
	// StrictArguments refuses a state run with an unknown state argument;
	// by default the state runs with a warning, as Salt runs it.
	StrictArguments bool `yaml:"strict_arguments"`
	// PyDSL allows the #!pydsl renderer for brine call --local (Python
	// run with brine's rights; off by default).
	PyDSL bool `yaml:"pydsl"`
	// TopFiles: how brine call --local merges the environments' top files.
	TopFiles `yaml:",inline"`
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
// or Salt's per-environment form ({base: [dirs], dev: [dirs]}), of which it
// keeps base's; the loaders keep the other environments in Envs.
type Roots []string

// UnmarshalYAML accepts a string, a list, or Salt's {env: [...]} mapping.
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
		envs, err := decodeEnvs(n)
		if err != nil {
			return err
		}
		*r = envs["base"]
		return nil
	}
	return fmt.Errorf("line %d: expected a directory, a list of directories or {base: [...], dev: [...]}", n.Line)
}

// Envs are the tree directories of environments by name (Salt's
// file_roots and pillar_roots in their mapping form).
type Envs map[string][]string

// decodeEnvs reads the mapping form of file_roots or pillar_roots: each
// environment a directory or a list of them.
func decodeEnvs(n *yaml.Node) (Envs, error) {
	envs := Envs{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		if name == "" || strings.ContainsAny(name, "/\\:?&= ") {
			return nil, fmt.Errorf("line %d: environment %q: an environment name is a plain word like base, dev or prod", k.Line, name)
		}
		var dirs Roots
		switch v.Kind {
		case yaml.ScalarNode, yaml.SequenceNode:
			if err := dirs.UnmarshalYAML(v); err != nil {
				return nil, fmt.Errorf("environment %q: %w", name, err)
			}
		default:
			return nil, fmt.Errorf("line %d: environment %q: expected a directory or a list of directories", v.Line, name)
		}
		envs[name] = dirs
	}
	return envs, nil
}

// Environments returns every environment's directories: base's from base
// (FileRoots or PillarRoots, after flags and defaults), the others' from
// others.
func Environments(base Roots, others Envs) map[string][]string {
	out := make(map[string][]string, len(others)+1)
	for name, dirs := range others {
		if name != "base" {
			out[name] = dirs
		}
	}
	out["base"] = base
	return out
}

// otherEnvs reads the environments other than base of the file_roots and
// pillar_roots keys of a configuration file's YAML.
func otherEnvs(data []byte) (files, pillars Envs, err error) {
	var raw struct {
		FileRoots   yaml.Node `yaml:"file_roots"`
		PillarRoots yaml.Node `yaml:"pillar_roots"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, nil, err
	}
	read := func(n *yaml.Node) (Envs, error) {
		if n.Kind != yaml.MappingNode {
			return nil, nil
		}
		envs, err := decodeEnvs(n)
		if err != nil {
			return nil, err
		}
		delete(envs, "base")
		if len(envs) == 0 {
			return nil, nil
		}
		return envs, nil
	}
	if files, err = read(&raw.FileRoots); err != nil {
		return nil, nil, fmt.Errorf("file_roots: %w", err)
	}
	if pillars, err = read(&raw.PillarRoots); err != nil {
		return nil, nil, fmt.Errorf("pillar_roots: %w", err)
	}
	return files, pillars, nil
}

// Map returns the configuration as the `opts` mapping Jinja sees.
func (m *Minion) Map() map[string]any {
	opts := map[string]any{
		"id":               m.ID,
		"file_roots":       envsAny(Environments(m.FileRoots, m.FileEnvs)),
		"pillar_roots":     envsAny(Environments(m.PillarRoots, m.PillarEnvs)),
		"grains":           m.Grains,
		"log_level":        m.LogLevel,
		"failhard":         m.Failhard,
		"strict_arguments": m.StrictArguments,
		"pydsl":            m.PyDSL,
	}
	if m.DataDir != "" {
		opts["data_dir"] = m.DataDir
	}
	if m.FileBackupDir != "" {
		opts["file_backup_dir"] = m.FileBackupDir
	}
	m.TopFiles.Map(opts)
	return opts
}

// envsAny is envs as the `opts` mapping shows them.
func envsAny(envs map[string][]string) map[string]any {
	out := make(map[string]any, len(envs))
	for name, dirs := range envs {
		out[name] = toAny(dirs)
	}
	return out
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
	data, err := load(path, DefaultMinionPath, m)
	if err != nil {
		return nil, err
	}
	if m.FileEnvs, m.PillarEnvs, err = otherEnvs(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.TopFiles.Check(m.FileRoots, m.FileEnvs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
