package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/modules/saltcheck"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/recipetest"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/testrun"
)

type runFlags struct {
	image            string
	minions          string
	jobs             int
	out              string
	fileRoots        []string
	pillarRoots      []string
	timeout          time.Duration
	assertionTimeout time.Duration
	network          string
	dataDir          string
	logLevel         string
}

// defaultTestDataDir holds what brine test run keeps between runs: the
// image build lock, debootstrap's package cache and, while the image is
// built, its root file system.
const defaultTestDataDir = "/var/lib/brine/test"

func newTestRunCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [flags] [SLS...]",
		Short: "Apply the tree in a throwaway container per minion fixture, twice, then run its saltcheck tests",
		Long: `For every minion fixture in --minions DIR (or for this host's name), start a
container from --image (default: a minimal Debian that brine builds once with
debootstrap from this host's apt sources and keeps in Docker's image store),
copy in this brine binary, the file and pillar roots and the fixture's id and
grains (its pillar is merged over the compiled pillar), and run
brine call --local state.highstate (or state.apply SLS...) twice: the second
run must change nothing. Then run the saltcheck tests of what was applied
(saltcheck.run_highstate_tests or run_state_tests) and remove the container.
The tree and the tests are compiled and checked on this host first: a recipe
that does not compile or a malformed test stops the run before any container.
Containers are labelled io.brine.test.run=<run id> and are removed when the run
ends, fails, times out or is interrupted (SIGINT); containers of a brine that
was killed are removed by the next run.

Exit status: 0 every state and assertion passed and the second runs changed
nothing; 1 an error (bad input, a compile error, a container that failed, an
interrupted run); 2 a state, an idempotence check or an assertion failed.`,
		Example: `  brine test run --file-root states --pillar-root pillar --minions tests/minions
  brine test run --file-root states --minions tests/minions --out junit > run.xml
  brine test run --file-root states --image debian-with-tools:12 --jobs 4 web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.image, "image", "", "image to start the containers from (default: "+testrun.DefaultImageRepo+":<host suite>, built once)")
	fl.StringVar(&f.minions, "minions", "", "directory of minion fixtures (<minion>.yaml: id, grains, pillar); default: one minion named after this host")
	fl.IntVar(&f.jobs, "jobs", 2, "containers run at once")
	fl.StringVar(&f.out, "out", "text", "output format: text, json, junit")
	fl.StringArrayVar(&f.fileRoots, "file-root", nil, "state tree directory (repeatable; default "+config.DefaultFileRoot+")")
	fl.StringArrayVar(&f.pillarRoots, "pillar-root", nil, "pillar tree directory (repeatable; default "+config.DefaultPillarRoot+" when it exists)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Minute, "time limit of the whole run, image build included")
	fl.DurationVar(&f.assertionTimeout, "assertion-timeout", 5*time.Minute, "time limit of each saltcheck test (0: none)")
	fl.StringVar(&f.network, "network", "none", "Docker network of the containers (none: no network; bridge to reach a package mirror)")
	fl.StringVar(&f.dataDir, "data-dir", defaultTestDataDir, "where the default image is built")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level of the progress on stderr: debug, info, warning, error")
	return cmd
}

func (f *runFlags) run(cmd *cobra.Command, mods []string) error {
	fail := func(err error) error { return &exitStatus{code: exitError, err: err} }
	if !slices.Contains(testrun.Formats(), f.out) {
		return fail(fmt.Errorf("unknown output format %q: use text, json or junit", f.out))
	}
	if f.jobs < 1 {
		return fail(fmt.Errorf("--jobs %d: run at least one container at a time", f.jobs))
	}
	if f.timeout <= 0 {
		return fail(fmt.Errorf("--timeout %s: give the run a positive time limit, e.g. 30m", f.timeout))
	}
	if f.assertionTimeout < 0 {
		return fail(fmt.Errorf("--assertion-timeout %s: give a positive limit, or 0 for none", f.assertionTimeout))
	}
	log, err := newLogger(cmd.ErrOrStderr(), f.logLevel)
	if err != nil {
		return fail(err)
	}
	mods = splitMods(mods)
	fileRoots, pillarRoots, err := f.roots()
	if err != nil {
		return fail(err)
	}
	var minions []recipetest.Minion
	if f.minions != "" {
		if minions, err = recipetest.LoadFixtures(f.minions); err != nil {
			return fail(err)
		}
	} else {
		host, err := os.Hostname()
		if err != nil {
			return fail(fmt.Errorf("find this host's name for its minion: %w", err))
		}
		minions = []recipetest.Minion{{ID: host, Grains: map[string]any{"id": host}}}
	}
	ctx, cancel := context.WithTimeoutCause(cmd.Context(), f.timeout, fmt.Errorf("the run took longer than --timeout %s", f.timeout))
	defer cancel()
	targets, err := prepareTargets(ctx, minions, fileRoots, pillarRoots, mods, log)
	if err != nil {
		return fail(err)
	}
	binary, err := os.Executable()
	if err != nil {
		return fail(fmt.Errorf("find the brine binary to copy into the containers: %w", err))
	}
	dc, err := dockerx.Connect(ctx, 0)
	if err != nil {
		return fail(err)
	}
	defer dc.Close()
	if n, err := testrun.RemoveStale(ctx, dc); err != nil {
		log.Warn("remove test containers left by a killed run", "err", err)
	} else if n > 0 {
		log.Info("removed test containers left by a killed run", "count", n)
	}
	image := f.image
	if image == "" {
		if image, err = testrun.EnsureImage(ctx, dc, testrun.ImageOptions{DataDir: f.dataDir, Log: log}); err != nil {
			return fail(err)
		}
	}
	rep, runErr := testrun.Run(ctx, dc, targets, testrun.Options{
		Image: image, Binary: binary, FileRoots: fileRoots, PillarRoots: pillarRoots, Mods: mods,
		Jobs: f.jobs, Network: f.network, AssertionTimeout: f.assertionTimeout, Log: log,
	})
	if rep != nil {
		if err := rep.Write(cmd.OutOrStdout(), f.out); err != nil {
			return fail(err)
		}
	}
	if runErr != nil {
		return fail(runErr)
	}
	if code := rep.ExitCode(); code != testrun.ExitOK {
		return &exitStatus{code: code}
	}
	return nil
}

// roots returns the file roots (each must be a directory) and the pillar
// roots: those given, each a directory, or the default when it exists.
func (f *runFlags) roots() (fileRoots, pillarRoots []string, err error) {
	fileRoots = f.fileRoots
	if len(fileRoots) == 0 {
		fileRoots = []string{config.DefaultFileRoot}
	}
	for _, root := range fileRoots {
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			return nil, nil, fmt.Errorf("file root %s is not a directory: give --file-root the state tree", root)
		}
	}
	for _, root := range f.pillarRoots {
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			return nil, nil, fmt.Errorf("pillar root %s is not a directory: give --pillar-root the pillar tree", root)
		}
	}
	pillarRoots = f.pillarRoots
	if len(pillarRoots) == 0 {
		if st, err := os.Stat(config.DefaultPillarRoot); err == nil && st.IsDir() {
			pillarRoots = []string{config.DefaultPillarRoot}
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("pillar root %s: %w", config.DefaultPillarRoot, err)
		}
	}
	return fileRoots, pillarRoots, nil
}

// prepareTargets compiles the tree and checks the saltcheck tests of every
// minion on this host, before any container starts: every compile error
// and every malformed test of every minion comes back together, as
// "MINION: FILE:LINE: ID: message". It returns the minions with where
// their states and tests were written.
func prepareTargets(ctx context.Context, minions []recipetest.Minion, fileRoots, pillarRoots, mods []string, log *slog.Logger) ([]testrun.Minion, error) {
	remote := func(_ context.Context, fun string, _ []any, _ map[string]any) (any, error) {
		return nil, fmt.Errorf("salt['%s'] runs on the minion itself: brine test run checks the tree on this host first, with the functions a master answers (grains, pillar, config, mine)", fun)
	}
	tc := treeCompiler{fileRoots: fileRoots, pillarRoots: pillarRoots, mods: mods, remote: remote, log: log, templates: sls.NewTemplateCache()}
	var problems []string
	var out []testrun.Minion
	for _, m := range minions {
		c, err := tc.compile(ctx, m)
		if err != nil {
			return nil, err
		}
		for _, e := range c.Errs {
			problems = append(problems, m.ID+": "+e.Error())
		}
		t := testrun.Minion{ID: m.ID, Grains: m.Grains, Pillar: m.Pillar, States: map[string]testrun.Pos{}, Tests: map[string]testrun.Pos{}}
		for _, l := range c.Lows {
			t.States[l.Key()] = testrun.Pos{File: l.Pos.File, Line: l.Pos.Line}
		}
		if len(c.Errs) == 0 {
			rt := &modules.Runtime{ID: m.ID, Grains: m.Grains, FileRoots: fileRoots, PillarRoots: pillarRoots,
				Opts: map[string]any{"id": m.ID}, Log: log, Remote: remote}
			tests, err := saltcheck.Inspect(ctx, rt, mods, m.Pillar)
			for _, ti := range tests {
				t.Tests[ti.ID] = testrun.Pos{File: ti.File, Line: ti.Line}
			}
			if err != nil {
				for line := range strings.Lines(err.Error()) {
					problems = append(problems, m.ID+": "+strings.TrimRight(line, "\n"))
				}
			}
		}
		out = append(out, t)
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("the tree is not ready to run (%d problems; nothing was started):\n%s",
			len(problems), strings.Join(slices.Compact(problems), "\n"))
	}
	return out, nil
}
