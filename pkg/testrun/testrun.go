// Package testrun is `brine test run`: it applies a state tree in a
// throwaway container per minion fixture, twice (the second run must
// change nothing), runs the saltcheck tests of what it applied, and removes
// the container. Containers carry labels, so that a run that is
// interrupted, or times out, still removes every container it started.
package testrun

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/brinecm/brine/pkg/dockerx"
)

// Pos is where something was written: a state's ID declaration, a test.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// String formats "FILE:LINE", "FILE" or "".
func (p Pos) String() string {
	if p.File == "" || p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Minion is one minion fixture to run: its id, the grains and pillar it
// is given in the container, and where its states and tests were written
// (from compiling the tree for it on the host), to name them in reports.
type Minion struct {
	ID     string
	Grains map[string]any
	Pillar map[string]any
	States map[string]Pos // by Salt result key: "file_|-motd_|-/etc/motd_|-managed"
	Tests  map[string]Pos // by saltcheck test ID
}

// Options configure a Run.
type Options struct {
	Image       string   // the image each container starts from
	Binary      string   // the brine executable copied into each container
	FileRoots   []string // state tree directories, copied in
	PillarRoots []string // pillar tree directories, copied in
	Mods        []string // SLS to apply; none: the highstate
	Jobs        int      // containers at once; 0: GOMAXPROCS
	// Network is the Docker network mode of the containers; "" is "none":
	// a test run sends no traffic unless the user asks for a network.
	Network string
	// AssertionTimeout bounds each saltcheck test; 0: no limit.
	AssertionTimeout time.Duration
	// RunID labels the run's containers; "" makes a random one.
	RunID string
	Log   *slog.Logger
}

// Case kinds.
const (
	KindApply       = "apply"       // a state of the first run
	KindIdempotence = "idempotence" // the same state in the second run: it must change nothing
	KindAssertion   = "assertion"   // a saltcheck test
	KindSetup       = "setup"       // the container, the copy, a run that could not happen
)

// Case statuses.
const (
	StatusPassed  = "passed"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
	StatusError   = "error"
)

// Case is one checked thing of one minion: a state applied, its second
// run, a saltcheck test, or the setup that failed.
type Case struct {
	Kind     string  `json:"kind"`
	Name     string  `json:"name"`               // "motd (file.managed)", a test ID
	SLS      string  `json:"sls,omitempty"`      // the SLS of the state or of the test
	Pos      Pos     `json:"pos"`                // where it was written
	Status   string  `json:"status"`             // one of the Status* constants
	Message  string  `json:"message,omitempty"`  // why it failed, or its comment
	Duration float64 `json:"duration,omitempty"` // seconds
}

// MinionReport is the outcome for one minion.
type MinionReport struct {
	ID        string  `json:"id"`
	Container string  `json:"container,omitempty"`
	Cases     []Case  `json:"cases"`
	Duration  float64 `json:"duration"` // seconds
}

// count returns the number of cases with the status.
func (m *MinionReport) count(status string) int {
	n := 0
	for _, c := range m.Cases {
		if c.Status == status {
			n++
		}
	}
	return n
}

// Report is the outcome of a Run, minions sorted by id.
type Report struct {
	Image    string         `json:"image"`
	Minions  []MinionReport `json:"minions"`
	Duration float64        `json:"duration"` // seconds
}

// Exit statuses of `brine test run`.
const (
	ExitOK     = 0 // every state and assertion passed, the second runs changed nothing
	ExitError  = 1 // something could not run: bad input, a container or compile failure
	ExitFailed = 2 // a state, an idempotence check or an assertion failed
)

// ExitCode returns the exit status the report calls for: an error wins
// over a failure.
func (r *Report) ExitCode() int {
	code := ExitOK
	for i := range r.Minions {
		if r.Minions[i].count(StatusError) > 0 {
			return ExitError
		}
		if r.Minions[i].count(StatusFailed) > 0 {
			code = ExitFailed
		}
	}
	return code
}

// Run runs every minion in its own container, at most Jobs at once, and
// returns the report. When ctx ends the containers still running are
// removed (with a fresh context) and Run returns ctx's error along with
// the report so far.
func Run(ctx context.Context, dc *dockerx.Client, minions []Minion, o Options) (*Report, error) {
	if len(minions) == 0 {
		return nil, errors.New("test run: no minions to run")
	}
	if o.Image == "" || o.Binary == "" {
		return nil, errors.New("test run: an image and a brine binary are needed")
	}
	if o.RunID == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		o.RunID = hex.EncodeToString(b)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	start := time.Now()
	// Whatever happens, every container of this run goes: those a worker
	// could not remove, and those whose creation was cut short.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := RemoveRun(cctx, dc, o.RunID); err != nil {
			o.Log.Warn("remove the run's containers", "run", o.RunID, "err", err)
		}
	}()
	rep := &Report{Image: o.Image, Minions: make([]MinionReport, len(minions))}
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i := range minions {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				rep.Minions[i] = MinionReport{ID: minions[i].ID, Cases: []Case{{Kind: KindSetup, Name: "container",
					Status: StatusError, Message: "not started: " + context.Cause(ctx).Error()}}}
				return
			}
			defer func() { <-sem }()
			rep.Minions[i] = runMinion(ctx, dc, minions[i], o)
		})
	}
	wg.Wait()
	slices.SortStableFunc(rep.Minions, func(a, b MinionReport) int { return cmp.Compare(a.ID, b.ID) })
	rep.Duration = time.Since(start).Seconds()
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("test run interrupted: %w", context.Cause(ctx))
	}
	return rep, nil
}
