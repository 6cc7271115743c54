package web

import (
	"time"

	"github.com/brinecm/brine/proto/brinepb"
)

// Drift is a minion's drift as `brine drift` reports it: the master's Drift
// call, so the view and the CLI never disagree.
type Drift struct {
	// LastConverged is the end of the newest full highstate in which every
	// state's result was True; nil when the job cache holds none.
	LastConverged *time.Time `json:"last_converged"`
	// Corrected24h is len(Corrected).
	Corrected24h int `json:"corrected_24h"`
	// Corrected are the states drift runs re-applied with changes in the
	// last 24 hours, oldest first.
	Corrected []Correction `json:"corrected"`
	// Pending is how many states the newest test=True highstate would
	// change; nil when the job cache holds no such run.
	Pending    *int   `json:"pending"`
	PendingJID string `json:"pending_jid,omitempty"`
}

// Correction is one state a drift run re-applied.
type Correction struct {
	ID    string    `json:"id"`    // the state ID
	State string    `json:"state"` // the state function, e.g. file.managed
	At    time.Time `json:"at"`
	JID   string    `json:"jid"` // the drift run
}

// PendingStates is Pending, 0 when unknown.
func (d Drift) PendingStates() int {
	if d.Pending == nil {
		return 0
	}
	return *d.Pending
}

// Drifting reports whether the minion was corrected in the last 24 hours
// or its newest test run would change something.
func (d Drift) Drifting() bool { return d.Corrected24h > 0 || d.PendingStates() > 0 }

// driftOf converts the master's report of one minion.
func driftOf(m *brinepb.MinionDrift) Drift {
	d := Drift{Corrected: make([]Correction, 0, len(m.Corrected)), Corrected24h: len(m.Corrected)}
	if m.LastConvergedUnixMs != 0 {
		t := time.UnixMilli(m.LastConvergedUnixMs).UTC()
		d.LastConverged = &t
	}
	for _, c := range m.Corrected {
		d.Corrected = append(d.Corrected, Correction{ID: c.Id, State: c.State, At: time.UnixMilli(c.AtUnixMs).UTC(), JID: c.Jid})
	}
	if m.PendingKnown {
		n := int(m.Pending)
		d.Pending, d.PendingJID = &n, m.PendingJid
	}
	return d
}
