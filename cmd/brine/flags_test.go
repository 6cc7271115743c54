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
	typ := reflect.TypeFor[config.Master]()
	for i := range typ.NumField() {
		key, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		name, ok := renamed[key]
		if !ok {
			name = strings.ReplaceAll(key, "_", "-")
		}
		if name != "" && flags.Lookup(name) == nil {
			t.Errorf("master configuration key %s has no --%s flag", key, name)
		}
	}
}
