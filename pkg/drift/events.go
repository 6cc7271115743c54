package drift

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/brinecm/brine/pkg/wire"
)

// Detected is the data of a drift/detected event: the states a batch
// re-applies and what differed.
type Detected struct {
	States []DriftedState `json:"states"`
}

// DriftedState is one state found drifted.
type DriftedState struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Corrected is the data of a drift/corrected event: the run that
// re-applied a batch.
type Corrected struct {
	JID        string           `json:"jid,omitempty"`
	States     []CorrectedState `json:"states"`
	DurationMS float64          `json:"duration_ms"`
}

// CorrectedState is one re-applied state: what differed, the changes
// applied, and its result.
type CorrectedState struct {
	ID      string         `json:"id"`
	Reason  string         `json:"reason,omitempty"`
	Result  *bool          `json:"result"`
	Changes map[string]any `json:"changes,omitempty"`
}

// Flapping is the data of a drift/flapping event.
type Flapping struct {
	ID         string  `json:"id"`
	Count      int     `json:"count"`
	WindowSecs float64 `json:"window_s"`
	Reason     string  `json:"reason"`
}

// Detected describes the batch as a drift/detected event's data.
func (b Batch) Detected() Detected {
	d := Detected{States: make([]DriftedState, len(b.IDs))}
	for i, id := range b.IDs {
		d.States[i] = DriftedState{ID: id, Reason: b.Reasons[id]}
	}
	return d
}

// Flapping describes the report as a drift/flapping event's data.
func (f Flap) Flapping() Flapping {
	return Flapping{ID: f.ID, Count: f.Count, WindowSecs: f.Window.Seconds(), Reason: f.Reason}
}

// Event wraps data (Detected, Corrected or Flapping) in the bus event of
// tag from minion.
func Event(minion, tag string, at time.Time, data any) (wire.Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return wire.Event{}, fmt.Errorf("drift event %s: %w", tag, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return wire.Event{}, fmt.Errorf("drift event %s: data is not an object: %w", tag, err)
	}
	return wire.Event{Tag: tag, Source: minion, Time: at, Data: m}, nil
}
