// Package result holds the return of a state run in Salt's shape: one
// State per state applied and the Highstate that orders them. It sits below
// the state engine (which produces results) and the output formats (which
// print them), so both can use it without depending on each other.
package result

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// State is one state's return, in Salt's shape, so tools that parse
// `salt --out=json` parse brine's too.
type State struct {
	Key       string         `json:"-"` // "file_|-motd_|-/etc/motd_|-managed"
	ID        string         `json:"__id__"`
	RunNum    int            `json:"__run_num__"`
	SLS       string         `json:"__sls__"`
	Changes   map[string]any `json:"changes"`
	Comment   string         `json:"comment"`
	Duration  float64        `json:"duration"` // milliseconds
	Name      string         `json:"name"`
	Result    *bool          `json:"result"`
	StartTime string         `json:"start_time"` // "HH:MM:SS.ffffff"
	// Warnings are problems the run tolerated, e.g. an unknown argument.
	Warnings []string `json:"warnings,omitempty"`
	// Parallel: the state had parallel: True and ran on its own while the
	// run went on, as Salt marks it.
	Parallel bool `json:"__parallel__,omitempty"`
}

// Function returns "module.fun" from the result key, or "" when the key is
// not of the form "module_|-id_|-name_|-fun".
func (r *State) Function() string {
	parts := strings.Split(r.Key, "_|-")
	if len(parts) < 4 {
		return ""
	}
	return parts[0] + "." + parts[len(parts)-1]
}

// Succeeded reports whether the state did not fail (true, or null in test mode).
func (r *State) Succeeded() bool { return r.Result == nil || *r.Result }

// Highstate is the ordered list of state results of one run. It encodes to
// JSON as Salt does: an object keyed by result key, in run order.
type Highstate []State

// MarshalJSON encodes the results as an object keyed by result key, in run
// order; __sls__ is null for a state of no SLS file, as in Salt.
func (h Highstate) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range h {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(h[i].Key)
		if err != nil {
			return nil, fmt.Errorf("encode result key %q: %w", h[i].Key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		r := h[i]
		if r.Changes == nil {
			r.Changes = map[string]any{}
		}
		v, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encode result %s: %w", r.Key, err)
		}
		if r.SLS == "" {
			// The first "__sls__" is the key: quotes in the strings
			// before it (__id__) are escaped.
			v = bytes.Replace(v, []byte(`"__sls__":""`), []byte(`"__sls__":null`), 1)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes an object keyed by result key, ordering by __run_num__.
func (h *Highstate) UnmarshalJSON(data []byte) error {
	var m map[string]State
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("decode highstate (an object of state results keyed by result key): %w", err)
	}
	out := make(Highstate, 0, len(m))
	for k, r := range m {
		r.Key = k
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RunNum < out[j].RunNum })
	*h = out
	return nil
}

// Failed reports whether any state failed.
func (h Highstate) Failed() bool {
	for i := range h {
		if !h[i].Succeeded() {
			return true
		}
	}
	return false
}
