package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/config"
)

// TestEveryMasterKeyIsAFlag: each key of the master configuration file has
// a flag of the same name (with dashes), as the README promises.
func TestEveryMasterKeyIsAFlag(t *testing.T) {
	renamed := map[string]string{
		"file_roots":   "file-root",   // repeatable, one root a flag
		"pillar_roots": "pillar-root", // repeatable, one root a flag
		"nodegroups":   "",            // a mapping: configuration file only
		"schedule":     "",            // a mapping: configuration file only
	}
	flags := newMasterCommand().Flags()
	for _, key := range yamlKeys(reflect.TypeFor[config.Master]()) {
		name, ok := renamed[key]
		if !ok {
			name = strings.ReplaceAll(key, "_", "-")
		}
		if name != "" && flags.Lookup(name) == nil {
			t.Errorf("master configuration key %s has no --%s flag", key, name)
		}
	}
}

// yamlKeys lists the YAML keys of a configuration struct, those of the
// structs it inlines (`yaml:",inline"`) included.
func yamlKeys(typ reflect.Type) []string {
	var keys []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		key, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case opts == "inline":
			keys = append(keys, yamlKeys(f.Type)...)
		case key != "" && key != "-":
			keys = append(keys, key)
		}
	}
	return keys
}
