package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/recipetest"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/proto/brinepb"
	"github.com/brinecm/brine/states"
)

// exitWarnings is `brine test render --strict`'s status when the tree
// compiles for every minion but the lints found something.
const exitWarnings = 2

func newTestCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Test recipe changes before they reach a fleet",
		Long: `Test a state tree before any minion sees it: brine test render compiles it
for every minion fixture and lints it; brine test diff prints what a change
between two git revisions does to each minion's states; brine test run
applies it in a throwaway container per minion, twice, and runs its saltcheck
tests; brine test hook install runs brine test render from a git hook.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newTestRenderCommand(), newTestDiffCommand(), newTestRunCommand(), newTestHookCommand())
	return cmd
}

type renderFlags struct {
	fileRoots   []string
	pillarRoots []string
	minions     string
	fromMaster  bool
	socket      string
	strict      bool
	out         string
	config      string
	id          string
	pydsl       bool
}

func newTestRenderCommand() *cobra.Command {
	var f renderFlags
	cmd := &cobra.Command{
		Use:   "render [flags] [SLS...]",
		Short: "Compile the highstate (or the given SLS) for every minion fixture, and lint",
		Long: `Compile the highstate, or the given SLS files, for every minion fixture in
--minions DIR (DIR/*.yaml: id, grains, optional pillar merged over the compiled
pillar), for every minion the master has accepted, with the grains it keeps
for them (--from-master, over the master's CLI socket), or for this host with
its real grains.
Every error of every minion is printed, one per line, as
MINION: FILE:LINE: ID: message. Lint warnings (a salt:// source that does not
exist, an SLS no minion reaches, a state no minion gets, a requisite that
resolves for some minions only) are printed too. Needs no root and no daemon.

Exit status: 0 every minion compiled; 1 any error (or bad input); 2 lint
warnings only, with --strict.`,
		Example: `  brine test render --file-root states --pillar-root pillar --minions tests/minions
  brine test render --file-root states --minions tests/minions --out junit > render.xml
  brine test render --file-root states web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, args)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.fileRoots, "file-root", nil, "state tree directory (repeatable; default "+config.DefaultFileRoot+")")
	fl.StringArrayVar(&f.pillarRoots, "pillar-root", nil, "pillar tree directory (repeatable; default "+config.DefaultPillarRoot+")")
	fl.StringVar(&f.minions, "minions", "", "directory of minion fixtures (<minion>.yaml: id, grains, pillar)")
	fl.BoolVar(&f.fromMaster, "from-master", false, "every minion the master has accepted, with the grains it keeps for them")
	socketFlag(cmd, &f.socket)
	fl.BoolVar(&f.strict, "strict", false, "exit 2 when the lints warn about anything")
	fl.StringVar(&f.out, "out", "text", "output format: text, json, junit")
	fl.StringVar(&f.config, "config", config.DefaultMinionPath, "minion configuration file (this host only, without --minions)")
	fl.StringVar(&f.id, "id", "", "minion id (this host only; default: the configuration's id, else the host name)")
	fl.BoolVar(&f.pydsl, "pydsl", false, "allow the #!pydsl renderer (SLS in Python, run with this process's rights)")
	cmd.MarkFlagsMutuallyExclusive("minions", "from-master")
	return cmd
}

func (f *renderFlags) run(cmd *cobra.Command, mods []string) error {
	if !slices.Contains(recipetest.Formats(), f.out) {
		return &exitStatus{code: exitError, err: fmt.Errorf("unknown output format %q: use text, json or junit", f.out)}
	}
	ctx := cmd.Context()
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	var minions []recipetest.Minion
	fileRoots, pillarRoots := f.fileRoots, f.pillarRoots
	var fileEnvs, pillarEnvs map[string][]string // environments other than base, from the minion configuration
	var remote func(context.Context, string, []any, map[string]any) (any, error)
	if f.minions != "" || f.fromMaster {
		var err error
		if f.fromMaster {
			minions, err = minionsFromMaster(ctx, f.socket)
		} else {
			minions, err = recipetest.LoadFixtures(f.minions)
		}
		if err != nil {
			return &exitStatus{code: exitError, err: err}
		}
		if len(fileRoots) == 0 {
			fileRoots = []string{config.DefaultFileRoot}
		}
		if len(pillarRoots) == 0 {
			pillarRoots = []string{config.DefaultPillarRoot}
		}
		// A fixture is not a host: a template's call of a function that
		// must run on the minion is an error, never run here.
		remote = func(_ context.Context, fun string, _ []any, _ map[string]any) (any, error) {
			return nil, fmt.Errorf("salt['%s'] must run on the minion itself, and a fixture is no host: brine test render answers only the functions a master answers (grains, pillar, config, mine)", fun)
		}
	} else {
		cfg, err := config.LoadMinion(f.config)
		if err != nil {
			return &exitStatus{code: exitError, err: err}
		}
		cf := callFlags{fileRoots: f.fileRoots, pillarRoots: f.pillarRoots, id: f.id}
		rt, err := cf.runtime(cmd, cfg, log)
		if err != nil {
			return &exitStatus{code: exitError, err: err}
		}
		fileRoots, pillarRoots = rt.FileRoots, rt.PillarRoots
		fileEnvs, pillarEnvs = rt.FileEnvs, rt.PillarEnvs
		minions = []recipetest.Minion{{ID: rt.ID, Grains: rt.Grains}}
	}
	for _, root := range fileRoots {
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			return &exitStatus{code: exitError, err: fmt.Errorf("file root %s is not a directory: give --file-root the state tree", root)}
		}
	}
	tc := treeCompiler{fileRoots: fileRoots, pillarRoots: pillarRoots, mods: mods, remote: remote, log: log, templates: sls.NewTemplateCache(),
		fileEnvs: fileEnvs, pillarEnvs: pillarEnvs, pydsl: f.pydsl}
	rep, err := recipetest.Render(ctx, minions, recipetest.Options{
		Compile:   tc.compile,
		FileRoots: fileRoots,
		Highstate: len(mods) == 0,
		Coverage:  f.minions != "",
	})
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	if err := rep.Write(cmd.OutOrStdout(), f.out, f.strict); err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	switch {
	case rep.Failed():
		return &exitStatus{code: exitError}
	case f.strict && len(rep.Warnings) > 0:
		return &exitStatus{code: exitWarnings}
	}
	return nil
}

// treeCompiler compiles one state tree for one minion at a time, as a
// master does before it publishes a state run: the SLS compile, the
// compile-time hooks of the states, then the plan (arguments, requisites,
// cycles), every error of every stage together.
type treeCompiler struct {
	fileRoots, pillarRoots []string
	mods                   []string // SLS to compile; none: the highstate
	remote                 func(context.Context, string, []any, map[string]any) (any, error)
	log                    *slog.Logger
	templates              *sls.TemplateCache // shared by the compiles of one render; nil: none
	// fileEnvs and pillarEnvs are the environments other than base.
	fileEnvs, pillarEnvs map[string][]string
	pydsl                bool // the #!pydsl renderer is allowed
}

func (t *treeCompiler) compile(ctx context.Context, m recipetest.Minion) (recipetest.Compiled, error) {
	rt := &modules.Runtime{ID: m.ID, Grains: m.Grains, FileRoots: t.fileRoots, PillarRoots: t.pillarRoots,
		Opts: map[string]any{"id": m.ID}, Log: t.log, Remote: t.remote, FileEnvs: t.fileEnvs, PillarEnvs: t.pillarEnvs}
	c := sls.New(sls.Config{FileRoots: t.fileRoots, PillarRoots: t.pillarRoots, ID: m.ID, Grains: m.Grains,
		Pillar: m.Pillar, Opts: rt.Opts, Caller: modules.Caller{Runtime: rt}, Templates: t.templates,
		FileEnvs: t.fileEnvs, PillarEnvs: t.pillarEnvs, PyDSL: t.pydsl})
	var out recipetest.Compiled
	var err error
	if len(t.mods) == 0 {
		// Top's errors come again from Highstate; the report lists each once.
		out.Top, _ = c.Top(ctx)
		out.Lows, err = c.Highstate(ctx)
	} else {
		out.Lows, err = c.SLS(ctx, splitMods(t.mods)...)
	}
	if cerr := ctx.Err(); cerr != nil {
		return out, fmt.Errorf("compile for %s: %w", m.ID, cerr)
	}
	var errs sls.Errors
	if err != nil && !errors.As(err, &errs) {
		errs = sls.Errors{{Msg: err.Error()}}
	}
	rerr := states.Resolve(ctx, out.Lows, &states.Compiling{ID: m.ID, Grains: m.Grains})
	var rerrs sls.Errors
	switch {
	case errors.As(rerr, &rerrs):
		errs = append(errs, rerrs...)
	case rerr != nil:
		errs = append(errs, &sls.Error{Msg: rerr.Error()})
	}
	_, perr := states.Prepare(out.Lows, nil)
	var perrs sls.Errors
	switch {
	case errors.As(perr, &perrs):
		errs = append(errs, perrs...)
	case perr != nil:
		errs = append(errs, &sls.Error{Msg: perr.Error()})
	}
	out.Errs = errs
	return out, nil
}

// splitMods accepts Salt's comma-separated form too: web,db.
func splitMods(mods []string) []string {
	var out []string
	for _, m := range mods {
		for part := range strings.SplitSeq(m, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// minionsFromMaster asks the master for its accepted minions and the
// grains it keeps for them.
func minionsFromMaster(ctx context.Context, socket string) ([]recipetest.Minion, error) {
	client, done, err := dial(socket)
	if err != nil {
		return nil, err
	}
	defer done()
	resp, err := client.ListMinions(ctx, &brinepb.ListMinionsRequest{})
	if err != nil {
		return nil, fmt.Errorf("list the master's minions: %w", err)
	}
	if len(resp.Minions) == 0 {
		return nil, errors.New("the master has accepted no minion yet: accept some (brine key accept), or give --minions DIR")
	}
	out := make([]recipetest.Minion, 0, len(resp.Minions))
	for _, mn := range resp.Minions {
		var grains map[string]any
		if err := json.Unmarshal(mn.GrainsJson, &grains); err != nil {
			return nil, fmt.Errorf("the grains of %s from the master: %w", mn.Id, err)
		}
		out = append(out, recipetest.Minion{ID: mn.Id, Grains: grains})
	}
	return out, nil
}
