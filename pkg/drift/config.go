// Package drift decides which states of a minion's last highstate to
// re-apply, and when: it derives watch targets from the compiled low
// states (files, Open vSwitch bridges and ports, Docker containers and
// networks, links, addresses and routes), watches them through the
// kernel's and the daemons' own change streams (inotify, an OVSDB monitor,
// Docker's event stream, netlink), and delivers the IDs of the states
// whose objects changed in debounced batches. A state that keeps drifting
// is reported as flapping and left alone until Reset.
//
// The minion applies the batches; the watcher ignores what the minion
// changes itself between Pause and Resume.
package drift

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults of the drift: configuration.
const (
	DefaultDebounce   = time.Second
	DefaultFlapLimit  = 5
	DefaultFlapWindow = 10 * time.Minute
)

// Config is the minion's drift: configuration, e.g.
//
//	drift: {watch: True, debounce: 100ms, flap_limit: 5, flap_window: 10m}
type Config struct {
	// Watch turns event-driven correction on.
	Watch bool
	// Debounce is how long changes are collected, from the first one,
	// before their states are delivered as one batch.
	Debounce time.Duration
	// FlapLimit is how many times a state is delivered within FlapWindow
	// before it is reported as flapping and left alone.
	FlapLimit int
	// FlapWindow is the window FlapLimit counts in.
	FlapWindow time.Duration
}

// DefaultConfig is the configuration when drift: says nothing.
func DefaultConfig() Config {
	return Config{Debounce: DefaultDebounce, FlapLimit: DefaultFlapLimit, FlapWindow: DefaultFlapWindow}
}

// ParseConfig reads the value of a drift: key as YAML decodes it (a
// mapping, from pillar or a config file). Keys not given keep their
// defaults; nil is the default configuration.
func ParseConfig(v any) (Config, error) {
	cfg := DefaultConfig()
	if v == nil {
		return cfg, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return cfg, fmt.Errorf("drift: must be a mapping of watch, debounce, flap_limit, flap_window, not %T", v)
	}
	var errs []error
	for k, val := range m {
		if err := cfg.set(k, val); err != nil {
			errs = append(errs, fmt.Errorf("drift: %s: %w", k, err))
		}
	}
	return cfg, sortedJoin(errs)
}

// UnmarshalYAML reads a drift: mapping from a config file; an error names
// the line.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	*c = DefaultConfig()
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: drift: must be a mapping of watch, debounce, flap_limit, flap_window", n.Line)
	}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, vn := n.Content[i], n.Content[i+1]
		var v any
		if err := vn.Decode(&v); err != nil {
			errs = append(errs, fmt.Errorf("line %d: drift: %s: %w", vn.Line, k.Value, err))
			continue
		}
		if err := c.set(k.Value, v); err != nil {
			errs = append(errs, fmt.Errorf("line %d: drift: %s: %w", k.Line, k.Value, err))
		}
	}
	return errors.Join(errs...)
}

// set applies one key of the drift: mapping.
func (c *Config) set(key string, v any) error {
	switch key {
	case "watch":
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("want True or False, not %v", v)
		}
		c.Watch = b
	case "debounce":
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		if d <= 0 {
			return fmt.Errorf("want a positive duration such as 100ms or 1s, not %v", v)
		}
		c.Debounce = d
	case "flap_window":
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		if d <= 0 {
			return fmt.Errorf("want a positive duration such as 10m, not %v", v)
		}
		c.FlapWindow = d
	case "flap_limit":
		n, ok := v.(int)
		if !ok || n < 1 {
			return fmt.Errorf("want a whole number of at least 1, not %v", v)
		}
		c.FlapLimit = n
	default:
		return fmt.Errorf("unknown key (known: watch, debounce, flap_limit, flap_window)")
	}
	return nil
}

// parseDuration reads a Salt-like duration: "100ms", "1s", "2m", or a
// number of seconds.
func parseDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case int:
		return time.Duration(x) * time.Second, nil
	case float64:
		return time.Duration(x * float64(time.Second)), nil
	case string:
		if n, err := strconv.ParseFloat(x, 64); err == nil {
			return time.Duration(n * float64(time.Second)), nil
		}
		d, err := time.ParseDuration(x)
		if err != nil {
			return 0, fmt.Errorf("want a duration such as 100ms, 1s or 2m, not %q", x)
		}
		return d, nil
	}
	return 0, fmt.Errorf("want a duration such as 100ms, 1s or 2m, not %v", v)
}

// sortedJoin joins errs in the order of their messages, so errors from a
// map's keys read the same every time.
func sortedJoin(errs []error) error {
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}
