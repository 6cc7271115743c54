package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/brinecm/brine/proto/brinepb"
)

// driftCorrection is one entry of brine drift's "corrected" list.
type driftCorrection struct {
	ID    string `json:"id"`    // the state ID
	State string `json:"state"` // the state function, e.g. file.managed
	At    string `json:"at"`    // RFC 3339
}

// minionDrift is one minion in brine drift --out json.
type minionDrift struct {
	LastConverged *string           `json:"last_converged"`
	Corrected24h  int               `json:"corrected_24h"`
	Corrected     []driftCorrection `json:"corrected"`
	Pending       *int              `json:"pending"`
}

func newDriftCommand() *cobra.Command {
	var pf publishFlags
	cmd := &cobra.Command{
		Use:   "drift [TARGET]",
		Short: "Show per minion when it last converged, what drift correction re-applied in 24 h, and what a test run would change",
		Long: `Show, from the master's job cache, for each targeted minion (all accepted
minions by default):

  last converged   the end of its newest full highstate (from the CLI, a
                   schedule or the minion's cache; test=True or not) in which
                   every state's result was True: nothing failed, nothing
                   left to change
  corrected        the states drift correction (drift: {watch: True})
                   re-applied with changes in the last 24 hours
  pending          the states its newest test=True highstate would change;
                   unknown (null) when the job cache has none

--out json prints {MINION: {"last_converged": RFC3339 or null,
"corrected_24h": N, "corrected": [{"id", "state", "at"}], "pending": N or null}}.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := pf.kind()
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			if pf.out != "" && pf.out != "json" && pf.out != "text" {
				return &exitStatus{code: exitError, err: fmt.Errorf("brine drift: --out %q: want json or text", pf.out)}
			}
			req := &brinepb.DriftRequest{TargetType: kind}
			if len(args) == 1 {
				req.Target = args[0]
			}
			c, done, err := dial(pf.socket)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			defer done()
			resp, err := c.Drift(cmd.Context(), req)
			if err != nil {
				return &exitStatus{code: exitError, err: apiError(err)}
			}
			if len(resp.Minions) == 0 && req.Target != "" {
				return &exitStatus{code: exitError, err: fmt.Errorf("no accepted minion matches %q", req.Target)}
			}
			report := driftReport(resp)
			if pf.out == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "    ")
				return enc.Encode(report)
			}
			printDrift(cmd.OutOrStdout(), resp, report)
			return nil
		},
	}
	fl := cmd.Flags()
	pf.kinds = map[string]*bool{}
	for _, k := range targetKinds {
		pf.kinds[k.kind] = fl.BoolP(k.long, k.short, false, k.help)
	}
	fl.StringVar(&pf.out, "out", "", "output: text (default) or json")
	socketFlag(cmd, &pf.socket)
	return cmd
}

// driftReport turns the master's answer into brine drift's JSON shape.
func driftReport(resp *brinepb.DriftResponse) map[string]minionDrift {
	out := make(map[string]minionDrift, len(resp.Minions))
	for _, m := range resp.Minions {
		d := minionDrift{Corrected: []driftCorrection{}, Corrected24h: len(m.Corrected)}
		if m.LastConvergedUnixMs != 0 {
			s := rfc3339(m.LastConvergedUnixMs)
			d.LastConverged = &s
		}
		for _, c := range m.Corrected {
			d.Corrected = append(d.Corrected, driftCorrection{ID: c.Id, State: c.State, At: rfc3339(c.AtUnixMs)})
		}
		if m.PendingKnown {
			n := int(m.Pending)
			d.Pending = &n
		}
		out[m.Minion] = d
	}
	return out
}

func rfc3339(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

// printDrift prints the report for people, one block per minion.
func printDrift(w io.Writer, resp *brinepb.DriftResponse, report map[string]minionDrift) {
	now := time.Now()
	for _, m := range resp.Minions {
		d := report[m.Minion]
		fmt.Fprintf(w, "%s:\n", m.Minion)
		if d.LastConverged == nil {
			fmt.Fprintln(w, "    Last converged:  never (no highstate without failures or changes left in the job cache)")
		} else {
			fmt.Fprintf(w, "    Last converged:  %s (%s ago)\n", *d.LastConverged, ago(now, m.LastConvergedUnixMs))
		}
		fmt.Fprintf(w, "    Corrected (24h): %d\n", d.Corrected24h)
		for i, c := range d.Corrected {
			fmt.Fprintf(w, "        %s  %s (%s)  jid %s\n", c.At, c.ID, c.State, m.Corrected[i].Jid)
		}
		switch {
		case d.Pending == nil:
			fmt.Fprintln(w, "    Pending:         unknown (no test=True highstate in the job cache)")
		default:
			fmt.Fprintf(w, "    Pending:         %d (test=True highstate %s)\n", *d.Pending, m.PendingJid)
		}
	}
}

// ago says how long before now ms was, to the second.
func ago(now time.Time, ms int64) time.Duration {
	return now.Sub(time.UnixMilli(ms)).Round(time.Second)
}
