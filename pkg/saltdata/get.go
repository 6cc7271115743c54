package saltdata

import (
	"fmt"
	"log/slog"

	"github.com/brinecm/brine/pkg/dict"
)

// PillarGet is Salt's pillar.get: the value at key (delim-separated), else
// def. With merge set and def a dictionary (a list), the pillar's value is
// merged over a copy of def (appended to it, without duplicates), so the
// defaults a formula passes survive what the pillar leaves out; a pillar
// value of another type is logged and returned as it is, as Salt does.
func PillarGet(pillar map[string]any, key string, def any, delim string, merge, mergeLists bool, log *slog.Logger) any {
	v, ok := dict.Traverse(pillar, key, delim)
	if !merge {
		if ok {
			return v
		}
		return def
	}
	switch d := def.(type) {
	case map[string]any:
		if !ok {
			return DeepCopy(d)
		}
		if pm, isMap := v.(map[string]any); isMap {
			return Update(DeepCopy(d).(map[string]any), pm, mergeLists)
		}
		logError(log, "pillar.get: the default of %q is a dict, but the pillar value is a %s: merge skipped", key, typeName(v))
	case []any:
		if !ok {
			return DeepCopy(d)
		}
		if pl, isList := v.([]any); isList {
			return MergeLists(DeepCopy(d).([]any), pl)
		}
		logError(log, "pillar.get: the default of %q is a list, but the pillar value is a %s: merge skipped", key, typeName(v))
	default:
		logError(log, "pillar.get: the default of %q is a %s, which must be a dict or a list to merge: merge skipped", key, typeName(def))
	}
	if ok {
		return v
	}
	return def
}

// logError logs a Salt-style error message when log is not nil.
func logError(log *slog.Logger, format string, a ...any) {
	if log != nil {
		log.Error(fmt.Sprintf(format, a...))
	}
}

// ConfigSources are what config.get looks in, in Salt's order; Omit*
// leave a source out, as config.get's omit_* arguments do.
type ConfigSources struct {
	Opts, Grains, Pillar                         map[string]any
	OmitOpts, OmitGrains, OmitPillar, OmitMaster bool
}

// ConfigGet is Salt's config.get: the value at key in the minion's options,
// else its grains, else its pillar, else the pillar's "master" mapping,
// else def. With a merge strategy ("recurse" or "overwrite"), every source
// is merged in reverse order of precedence and the key read from the result.
func ConfigGet(src ConfigSources, key string, def any, delim, merge string) (any, error) {
	if merge == "" {
		for _, m := range src.ordered() {
			if v, ok := dict.Traverse(m, key, delim); ok {
				return v, nil
			}
		}
		return def, nil
	}
	if merge != "recurse" && merge != "overwrite" {
		return nil, fmt.Errorf("config.get: unknown merge strategy %q (use recurse or overwrite)", merge)
	}
	srcs := src.ordered()
	data := map[string]any{}
	for i := len(srcs) - 1; i >= 0; i-- {
		var err error
		if data, err = Merge(data, srcs[i], merge, "", false); err != nil {
			return nil, err
		}
	}
	if v, ok := dict.Traverse(data, key, delim); ok {
		return v, nil
	}
	return def, nil
}

// ordered lists the sources not omitted, first one first.
func (s ConfigSources) ordered() []map[string]any {
	var out []map[string]any
	if !s.OmitOpts {
		out = append(out, s.Opts)
	}
	if !s.OmitGrains {
		out = append(out, s.Grains)
	}
	if !s.OmitPillar {
		out = append(out, s.Pillar)
	}
	if !s.OmitMaster {
		if m, ok := s.Pillar["master"].(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
