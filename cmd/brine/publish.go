package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/brinecm/brine/master"
	"github.com/brinecm/brine/pkg/output"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/proto/brinepb"
)

// exitNoReturn is the exit status when some targeted minion did not return.
const exitNoReturn = 3

// publishFlags are the Salt-style command line's flags.
type publishFlags struct {
	socket  string
	kinds   map[string]*bool
	timeout time.Duration
	batch   string
	test    bool
	out     string
	async   bool
	jobTTL  time.Duration
	noColor bool
	verbose bool
}

var targetKinds = []struct{ short, long, kind, help string }{
	{"L", "list", "list", "target a comma-separated list of minion ids"},
	{"G", "grain", "grain", "target by grain: os:Debian"},
	{"P", "grain-pcre", "grain_pcre", "target by grain with a regular expression"},
	{"I", "pillar", "pillar", "target by pillar: role:web"},
	{"C", "compound", "compound", "compound target: 'G@os:Debian and web* or L@a,b'"},
	{"E", "pcre", "pcre", "target ids by regular expression"},
	{"N", "nodegroup", "nodegroup", "target a nodegroup of the master's configuration"},
	{"S", "ipcidr", "ipcidr", "target by address or network: 10.0.0.0/8"},
}

// addPublishFlags adds the targeting and run flags to the root command.
func addPublishFlags(cmd *cobra.Command, f *publishFlags) {
	fl := cmd.Flags()
	f.kinds = map[string]*bool{}
	for _, k := range targetKinds {
		f.kinds[k.kind] = fl.BoolP(k.long, k.short, false, k.help)
	}
	fl.DurationVarP(&f.timeout, "timeout", "t", 0, "wait this long for returns (default: the master's, 10s)")
	fl.StringVarP(&f.batch, "batch", "b", "", "run on N minions (or N%) at a time")
	fl.BoolVar(&f.test, "test", false, "test mode for state functions: change nothing, report what would change")
	fl.BoolVar(&f.async, "async", false, "publish the job and print its jid without waiting")
	fl.DurationVar(&f.jobTTL, "job-ttl", 0, "how long an offline minion may still receive the job (default: the master's, 1h)")
	fl.StringVar(&f.socket, "socket", "", "the master's CLI socket (default $BRINE_SOCKET)")
	outputFlagsTo(fl, &f.out, &f.noColor, &f.verbose)
}

func (f *publishFlags) kind() (string, error) {
	kind := ""
	for k, set := range f.kinds {
		if *set {
			if kind != "" {
				return "", fmt.Errorf("choose one target type, not both -%s and -%s", shortOf(kind), shortOf(k))
			}
			kind = k
		}
	}
	if kind == "" {
		kind = "glob"
	}
	return kind, nil
}

func shortOf(kind string) string {
	for _, k := range targetKinds {
		if k.kind == kind {
			return k.short
		}
	}
	return kind
}

// publish runs `brine [flags] TARGET FUNCTION [ARG...] [key=value...]`.
func (f *publishFlags) publish(cmd *cobra.Command, args []string) error {
	if len(args) < 2 {
		return &exitStatus{code: exitError, err: errors.New("usage: brine [flags] TARGET FUNCTION [ARG...] [key=value...]; see brine --help")}
	}
	kind, err := f.kind()
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	fun, pos, kw, err := parseCallArgs(args[1:])
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	if f.test {
		kw["test"] = true
	}
	argsJSON, err := json.Marshal(pos)
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	kwJSON, err := json.Marshal(kw)
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	c, done, err := dial(f.socket)
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	defer done()
	stream, err := c.Run(cmd.Context(), &brinepb.RunRequest{Target: args[0], TargetType: kind, Fun: fun,
		ArgsJson: argsJSON, KwargsJson: kwJSON, TimeoutMs: f.timeout.Milliseconds(), Batch: f.batch,
		Async: f.async, JobTtlMs: f.jobTTL.Milliseconds()})
	if err != nil {
		return &exitStatus{code: exitError, err: apiError(err)}
	}
	p := newPrinter(cmd, f.out, f.noColor)
	p.verbose = f.verbose
	for {
		ev, err := stream.Recv()
		if err != nil {
			p.clearProgress()
			return &exitStatus{code: exitError, err: streamBroken(cmd.Context(), err, p.jid)}
		}
		switch e := ev.Event.(type) {
		case *brinepb.RunEvent_Started:
			p.expected = len(e.Started.Minions)
			switch {
			case p.expected == 0:
				fmt.Fprintln(cmd.ErrOrStderr(), "No minions matched the target. No command was sent, no jid was assigned.")
			case f.async || !machineReadable(f.out):
				fmt.Fprintf(cmd.OutOrStdout(), "Executed command with job ID: %s\n", e.Started.Jid)
			default:
				fmt.Fprintf(cmd.ErrOrStderr(), "Executed command with job ID: %s\n", e.Started.Jid)
			}
			if p.expected > 0 {
				p.jid = e.Started.Jid
			}
		case *brinepb.RunEvent_Ret:
			if err := p.printReturn(e.Ret); err != nil {
				return &exitStatus{code: exitError, err: err}
			}
		case *brinepb.RunEvent_Done:
			p.clearProgress()
			if f.async {
				return nil
			}
			for _, miss := range e.Done.Missing {
				why := "[No response]"
				if !miss.Connected {
					why = "[Not connected]"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s:\n    Minion did not return. %s\n", miss.Minion, why)
			}
			if len(e.Done.Missing) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "\n%d minion(s) did not return; look the job up later with: brine jobs show %s\n", len(e.Done.Missing), e.Done.Jid)
			}
			if p.expected == 0 {
				return &exitStatus{code: exitError}
			}
			return p.status(len(e.Done.Missing))
		}
	}
}

// machineReadable reports whether an output format is parsed by programs,
// so that nothing else may go to stdout.
func machineReadable(format string) bool { return format == "json" || format == "yaml" }

// streamBroken explains a job stream that ended before the job was done.
// Once the master has started the job (jid is known) the job goes on
// without the CLI, and the message says how to look it up.
func streamBroken(ctx context.Context, err error, jid string) error {
	lost := errors.Is(err, io.EOF) || status.Code(err) == codes.Unavailable
	switch {
	case jid == "" && lost:
		return fmt.Errorf("lost the connection to the master before it started the job (%v); check that `brine master` is running", err)
	case jid == "":
		return apiError(err)
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted; job %s goes on: brine jobs show %s", jid, jid)
	case lost:
		return fmt.Errorf("lost the connection to the master; job %s goes on: brine jobs show %s", jid, jid)
	}
	return fmt.Errorf("%w; job %s goes on: brine jobs show %s", apiError(err), jid, jid)
}

// printer prints returns as they arrive, with a live progress line on a terminal.
type printer struct {
	w, progressW io.Writer
	format       string
	opts         output.Options
	verbose      bool
	tty          bool
	jid          string
	expected     int
	returned     int
	failed       bool // some state failed
	errored      bool // some function failed or did not compile
}

func newPrinter(cmd *cobra.Command, format string, noColor bool) *printer {
	w := cmd.OutOrStdout()
	p := &printer{w: w, progressW: cmd.ErrOrStderr(), format: format, verbose: true}
	p.opts.Color = !noColor && os.Getenv("NO_COLOR") == "" && isTerminal(w)
	p.tty = isTerminal(p.progressW)
	return p
}

func (p *printer) clearProgress() {
	if p.tty && p.expected > 0 {
		fmt.Fprint(p.progressW, "\r\033[K")
	}
}

func (p *printer) printReturn(r *brinepb.MinionReturn) error {
	p.clearProgress()
	p.returned++
	var data any
	if len(r.ReturnJson) > 0 {
		if err := json.Unmarshal(r.ReturnJson, &data); err != nil {
			return fmt.Errorf("return of %s: %w", r.Minion, err)
		}
	}
	switch {
	case r.Error == master.CompileFailed:
		var lines output.CompileErrors
		if list, ok := data.([]any); ok {
			for _, l := range list {
				lines = append(lines, fmt.Sprint(l))
			}
		}
		data = lines
		p.errored = true
	case r.Error != "":
		data = r.Error
		p.errored = true
	case r.Retcode == 2:
		p.failed = true
	case r.Retcode != 0:
		p.errored = true
	}
	if strings.HasPrefix(r.Fun, "state.") {
		if hs, ok := asHighstate(r.ReturnJson); ok && r.Error == "" {
			data = hs
		}
	}
	opts := p.opts
	opts.Verbose = p.verbose
	if err := output.Write(p.w, p.format, output.Return{Minion: r.Minion, Data: data}, opts); err != nil {
		return err
	}
	if p.tty && p.expected > 1 {
		fmt.Fprintf(p.progressW, "returned %d/%d", p.returned, p.expected)
	}
	return nil
}

// asHighstate decodes a state run's return in Salt's keyed shape.
func asHighstate(b []byte) (result.Highstate, bool) {
	var h result.Highstate
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &h) != nil || len(h) == 0 {
		return nil, false
	}
	for _, r := range h {
		if !strings.Contains(r.Key, "_|-") {
			return nil, false
		}
	}
	return h, true
}

// status is the exit status after every return was printed.
func (p *printer) status(missing int) error {
	switch {
	case p.errored:
		return &exitStatus{code: exitError}
	case p.failed:
		return &exitStatus{code: exitStateFailed}
	case missing > 0:
		return &exitStatus{code: exitNoReturn}
	}
	return nil
}
