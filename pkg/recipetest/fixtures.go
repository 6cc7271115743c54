package recipetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Minion is one minion a tree is rendered for: its id, grains and the
// pillar merged over the pillar its tree compiles for it.
type Minion struct {
	ID     string
	Grains map[string]any
	Pillar map[string]any
	File   string // the fixture it was read from; "" for the local host
}

// fixture is the YAML shape of a minion fixture file.
type fixture struct {
	ID     string         `yaml:"id"`
	Grains map[string]any `yaml:"grains"`
	Pillar map[string]any `yaml:"pillar"`
}

// maxFixtureBytes bounds one fixture file: grains and a pillar override,
// not a data set.
const maxFixtureBytes = 4 << 20

// LoadFixtures reads every DIR/*.yaml (and *.yml) minion fixture: keys
// `id`, `grains` (a map) and optional `pillar` (a map). The grain `id` is
// set to the fixture's id when the fixture does not give it. Minions come
// back sorted by id; every bad fixture is reported, together.
func LoadFixtures(dir string) ([]Minion, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("read minion fixtures: %w (give --minions a directory of <minion>.yaml files)", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("read minion fixtures: %s is not a directory (give --minions a directory of <minion>.yaml files)", dir)
	}
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, fmt.Errorf("list minion fixtures in %s: %w", dir, err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no minion fixtures in %s: add one <minion>.yaml per minion with keys id, grains and optionally pillar", dir)
	}
	sort.Strings(files)
	var minions []Minion
	var errs []error
	byID := map[string]string{}
	for _, f := range files {
		m, err := loadFixture(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := byID[m.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: minion id %q is already used by %s: give every fixture its own id", f, m.ID, prev))
			continue
		}
		byID[m.ID] = f
		minions = append(minions, m)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(minions, func(i, j int) bool { return minions[i].ID < minions[j].ID })
	return minions, nil
}

func loadFixture(file string) (Minion, error) {
	f, err := os.Open(file)
	if err != nil {
		return Minion{}, fmt.Errorf("read minion fixture: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxFixtureBytes+1))
	if err != nil {
		return Minion{}, fmt.Errorf("read minion fixture %s: %w", file, err)
	}
	if len(src) > maxFixtureBytes {
		return Minion{}, fmt.Errorf("%s: a minion fixture is at most %d bytes", file, maxFixtureBytes)
	}
	var fx fixture
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&fx); err != nil {
		if errors.Is(err, io.EOF) {
			return Minion{}, fmt.Errorf("%s: empty minion fixture: give at least `id: <minion>` and `grains:`", file)
		}
		return Minion{}, fmt.Errorf("%s: %s (a fixture has keys id, grains and optionally pillar)", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if strings.TrimSpace(fx.ID) == "" {
		return Minion{}, fmt.Errorf("%s: no `id:`: name the minion this fixture stands for", file)
	}
	if fx.Grains == nil {
		fx.Grains = map[string]any{}
	}
	if _, ok := fx.Grains["id"]; !ok {
		fx.Grains["id"] = fx.ID
	}
	return Minion{ID: fx.ID, Grains: fx.Grains, Pillar: fx.Pillar, File: file}, nil
}
