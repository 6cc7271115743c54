package web

import "time"

// Drift is a minion's drift as the job cache shows it: the corrections its
// drift watch made (jobs of origin "drift") and what its last test-mode
// highstate would change.
type Drift struct {
	// LastConverged is when the minion last ran a highstate (or drift
	// correction) without a failure.
	LastConverged *time.Time `json:"last_converged"`
	Corrected24h  int        `json:"corrected_24h"` // drift corrections in the last 24 hours
	Corrected     int        `json:"corrected"`     // drift corrections in the job cache
	// Pending is how many states the newest test-mode highstate would
	// change, when it is newer than the last real one.
	Pending int `json:"pending"`
}

// DriftOf computes the drift of one minion from its state runs, newest
// first, as of now.
func DriftOf(runs []Run, now time.Time) Drift {
	var d Drift
	realSeen := false
	for _, r := range runs {
		test := r.Pending > 0
		if r.Origin == "drift" {
			d.Corrected++
			if now.Sub(r.At) < 24*time.Hour {
				d.Corrected24h++
			}
		}
		if test && !realSeen && r.Highstate {
			if d.Pending == 0 {
				d.Pending = r.Pending
			}
			continue
		}
		if !test {
			realSeen = true
		}
		if !test && d.LastConverged == nil && r.Failed == 0 && r.Error == "" && (r.Highstate || r.Origin == "drift") {
			at := r.At
			d.LastConverged = &at
		}
	}
	return d
}
