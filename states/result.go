package states

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Outcome is what a state function reports: Salt's result, comment and changes.
// Result is true (succeeded), false (failed) or nil (test mode: would change).
type Outcome struct {
	Result  *bool
	Comment string
	Changes map[string]any
}

// Succeeded is a successful outcome; changes may be nil.
func Succeeded(comment string, changes map[string]any) Outcome {
	return Outcome{Result: boolPtr(true), Comment: comment, Changes: changes}
}

// Failed is a failed outcome; changes may be nil.
func Failed(comment string, changes map[string]any) Outcome {
	return Outcome{Result: boolPtr(false), Comment: comment, Changes: changes}
}

// WouldChange is the test-mode outcome of a state that would make changes:
// result null, and the changes it would make.
func WouldChange(comment string, changes map[string]any) Outcome {
	return Outcome{Comment: comment, Changes: changes}
}

// Failedf is Failed with a formatted comment.
func Failedf(format string, a ...any) Outcome { return Failed(fmt.Sprintf(format, a...), nil) }

// OK reports whether the outcome did not fail (true or nil result).
func (o Outcome) OK() bool { return o.Result == nil || *o.Result }

// Changed reports whether the outcome carries changes.
func (o Outcome) Changed() bool { return len(o.Changes) > 0 }

func boolPtr(b bool) *bool { return &b }

// Result is one state's return, in Salt's shape, so tools that parse
// `salt --out=json` parse brine's too.
type Result struct {
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
}

// Function returns "module.fun" from the result key.
func (r *Result) Function() string {
	parts := strings.Split(r.Key, "_|-")
	if len(parts) < 4 {
		return ""
	}
	return parts[0] + "." + parts[len(parts)-1]
}

// Succeeded reports whether the state did not fail (true, or null in test mode).
func (r *Result) Succeeded() bool { return r.Result == nil || *r.Result }

// Highstate is the ordered list of state results of one run. It encodes to
// JSON as Salt does: an object keyed by result key, in run order.
type Highstate []Result

// MarshalJSON encodes the results as an object keyed by result key, in run order.
func (h Highstate) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range h {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(h[i].Key)
		if err != nil {
			return nil, err
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
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes an object keyed by result key, ordering by __run_num__.
func (h *Highstate) UnmarshalJSON(data []byte) error {
	var m map[string]Result
	if err := json.Unmarshal(data, &m); err != nil {
		return err
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
