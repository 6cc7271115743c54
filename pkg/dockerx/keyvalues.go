package dockerx

import (
	"fmt"
	"strings"
)

// KeyValues is a string map written as a mapping, a list of one-key
// mappings, or a list of "KEY=value" strings (as docker run -e and -l):
// environments, labels and driver options in the docker states.
type KeyValues map[string]string

// DecodeArg reads any of the three forms.
func (kv *KeyValues) DecodeArg(v any) error {
	out := KeyValues{}
	add := func(k string, val any) error {
		switch x := val.(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = x
		case int, int64, float64, bool:
			out[k] = fmt.Sprint(x)
		default:
			return fmt.Errorf("%s: expected a scalar value", k)
		}
		return nil
	}
	switch x := v.(type) {
	case nil:
	case map[string]any:
		for k, val := range x {
			if err := add(k, val); err != nil {
				return err
			}
		}
	case []any:
		for i, it := range x {
			switch e := it.(type) {
			case string:
				k, val, _ := strings.Cut(e, "=")
				out[k] = val
			case map[string]any:
				if len(e) != 1 {
					return fmt.Errorf("item %d: expected a one-key mapping", i+1)
				}
				for k, val := range e {
					if err := add(k, val); err != nil {
						return err
					}
				}
			default:
				return fmt.Errorf("item %d: expected KEY=value or a one-key mapping", i+1)
			}
		}
	default:
		return fmt.Errorf("expected a mapping or a list of KEY=value")
	}
	*kv = out
	return nil
}
