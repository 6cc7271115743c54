package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/recipetest"
	"github.com/brinecm/brine/pkg/sls"
)

// exitChanges is `brine test diff`'s status when some minion's states
// differ between the two revisions.
const exitChanges = 3

// workTree names the work tree, brine test diff's default second revision.
const workTree = "work tree"

type diffFlags struct {
	repo       string
	path       string
	pillarPath string
	minions    string
	out        string
	config     string
	id         string
}

func newTestDiffCommand() *cobra.Command {
	var f diffFlags
	cmd := &cobra.Command{
		Use:   "diff [flags] REV1 [REV2]",
		Short: "Print, per minion, the states a change between two git revisions adds, removes or alters",
		Long: `Compile the highstate of a git repository of recipes at two revisions for
every minion fixture in --minions DIR (or for this host, with its real grains,
when no --minions is given), and print per minion (sorted) the states
the change adds, removes or alters: the plan of a change, before anything runs.
REV2 defaults to the work tree. --path is the state tree inside the repository
(default its root); the pillar is --pillar-path (relative to the repository)
or, when present, the directory pillar next to the state tree.

  MINION:
    + id (module.fun)                    a state added
    - id (module.fun)                    a state removed
    ~ id (module.fun): arg: old -> new   one line per changed argument

Values are printed as compact JSON, (unset) for an argument not set. Minions
whose states do not change are not printed; a summary line ends the output.
A revision that does not compile for a minion prints that minion's errors as
brine test render does, and no diff.

Exit status: 0 nothing differs; 3 some minion's states differ; 1 an error (a
bad revision, bad input, a revision that does not compile for a minion).`,
		Example: `  brine test diff --path states --minions tests/minions HEAD~1
  brine test diff --path states --minions tests/minions origin/main HEAD
  brine test diff --path states --minions tests/minions --out json main feature`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", ".", "the git repository of recipes")
	fl.StringVar(&f.path, "path", "", "the state tree (file root) inside the repository (default: its root)")
	fl.StringVar(&f.pillarPath, "pillar-path", "", "the pillar tree inside the repository (default: pillar next to --path, when present)")
	fl.StringVar(&f.minions, "minions", "", "directory of minion fixtures (<minion>.yaml: id, grains, pillar)")
	fl.StringVar(&f.out, "out", "text", "output format: text, json")
	fl.StringVar(&f.config, "config", config.DefaultMinionPath, "minion configuration file (this host only, without --minions)")
	fl.StringVar(&f.id, "id", "", "minion id (this host only; default: the configuration's id, else the host name)")
	return cmd
}

func (f *diffFlags) run(cmd *cobra.Command, args []string) error {
	if !slices.Contains(recipetest.DiffFormats(), f.out) {
		return &exitStatus{code: exitError, err: fmt.Errorf("unknown output format %q: use text or json", f.out)}
	}
	sub, err := repoRelative("--path", f.path)
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	pillar, explicitPillar := filepath.Join(sub, "..", "pillar"), f.pillarPath != ""
	if explicitPillar {
		if pillar, err = repoRelative("--pillar-path", f.pillarPath); err != nil {
			return &exitStatus{code: exitError, err: err}
		}
	}
	ctx := cmd.Context()
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	minions, remote, err := f.loadMinions(cmd, log)
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	top, err := gitOutput(ctx, f.repo, "rev-parse", "--show-toplevel")
	if err != nil {
		// A bare repository (a server's, in a pre-receive hook) has
		// revisions but no work tree: both revisions must be given.
		bare, berr := gitOutput(ctx, f.repo, "rev-parse", "--is-bare-repository")
		if berr != nil || bare != "true" {
			return &exitStatus{code: exitError, err: fmt.Errorf("find the repository of %s: %w (give --repo a git work tree or a bare repository)", f.repo, err)}
		}
		if len(args) != 2 {
			return &exitStatus{code: exitError, err: fmt.Errorf("%s is a bare repository, which has no work tree: give both revisions (REV1 REV2)", f.repo)}
		}
		if top, err = gitOutput(ctx, f.repo, "rev-parse", "--absolute-git-dir"); err != nil {
			return &exitStatus{code: exitError, err: fmt.Errorf("find the repository of %s: %w", f.repo, err)}
		}
	}
	revs := [2]string{args[0], workTree}
	if len(args) == 2 {
		revs[1] = args[1]
	}
	var sides [2]recipetest.Revision
	var pillars [2]bool
	for i, rev := range revs {
		dir := top
		if rev != workTree || len(args) == 2 {
			if dir, err = exportRevision(ctx, top, rev); err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			defer os.RemoveAll(dir)
		}
		root := filepath.Join(dir, sub)
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			return &exitStatus{code: exitError, err: fmt.Errorf("%s has no directory %s: give --path the state tree inside the repository", rev, displayPath(sub))}
		}
		tc := treeCompiler{fileRoots: []string{root}, remote: remote, log: log, templates: sls.NewTemplateCache()}
		pillarDir := filepath.Join(dir, pillar)
		if inside(dir, pillarDir) {
			if st, err := os.Stat(pillarDir); err == nil && st.IsDir() {
				tc.pillarRoots, pillars[i] = []string{pillarDir}, true
			}
		}
		sides[i] = recipetest.Revision{Name: rev, Compile: tc.compile}
	}
	if explicitPillar && !pillars[0] && !pillars[1] {
		return &exitStatus{code: exitError, err: fmt.Errorf("no directory %s at %s nor at %s: give --pillar-path the pillar tree inside the repository", displayPath(pillar), revs[0], revs[1])}
	}
	rep, err := recipetest.Diff(ctx, minions, sides[0], sides[1], 0)
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	if err := rep.Write(cmd.OutOrStdout(), f.out); err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	switch {
	case rep.Failed():
		return &exitStatus{code: exitError, err: fmt.Errorf("%s: fix the recipes, then run brine test diff again", failedSummary(rep))}
	case rep.Changed():
		return &exitStatus{code: exitChanges}
	}
	return nil
}

// loadMinions returns the minion fixtures of --minions, with the answer
// to a template's call of a function that must run on a minion (an error,
// as a fixture is no host); without --minions, this host with its real
// grains, whose functions run here as in brine test render.
func (f *diffFlags) loadMinions(cmd *cobra.Command, log *slog.Logger) ([]recipetest.Minion, func(context.Context, string, []any, map[string]any) (any, error), error) {
	if f.minions != "" {
		minions, err := recipetest.LoadFixtures(f.minions)
		return minions, diffRemote, err
	}
	cfg, err := config.LoadMinion(f.config)
	if err != nil {
		return nil, nil, err
	}
	cf := callFlags{id: f.id}
	rt, err := cf.runtime(cmd, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	return []recipetest.Minion{{ID: rt.ID, Grains: rt.Grains}}, nil, nil
}

// failedSummary names the revisions that did not compile and for which
// minions, e.g. "HEAD does not compile for db2".
func failedSummary(rep *recipetest.DiffReport) string {
	var revs []string
	byRev := map[string][]string{}
	for _, e := range rep.Errors {
		if _, ok := byRev[e.Revision]; !ok {
			revs = append(revs, e.Revision)
		}
		if !slices.Contains(byRev[e.Revision], e.Minion) {
			byRev[e.Revision] = append(byRev[e.Revision], e.Minion)
		}
	}
	parts := make([]string, len(revs))
	for i, r := range revs {
		parts[i] = fmt.Sprintf("%s does not compile for %s", r, strings.Join(byRev[r], ", "))
	}
	return strings.Join(parts, "; ")
}

// exportRevision writes the tree of rev into a new temporary directory
// with `git archive REV | tar -x`, and returns the directory; the caller
// removes it.
func exportRevision(ctx context.Context, top, rev string) (string, error) {
	if strings.HasPrefix(rev, "-") {
		return "", fmt.Errorf("bad revision %q: a revision is a commit, branch or tag, not an option", rev)
	}
	// The revision is checked first, so that a typo gets a clear error
	// rather than git archive's.
	commit, err := gitOutput(ctx, top, "rev-parse", "--verify", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("unknown revision %q in %s: give a commit, branch or tag of the repository", rev, top)
	}
	dir, err := os.MkdirTemp("", "brine-diff-")
	if err != nil {
		return "", fmt.Errorf("export %s: %w", rev, err)
	}
	if err := archive(ctx, top, commit, dir); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("export %s (%s): %w", rev, commit, err)
	}
	return dir, nil
}

// archive pipes `git archive COMMIT` into `tar -x -C DIR`.
func archive(ctx context.Context, top, commit, dir string) error {
	gitCmd := exec.CommandContext(ctx, "git", "-C", top, "archive", "--format=tar", commit)
	tarCmd := exec.CommandContext(ctx, "tar", "-x", "-f", "-", "-C", dir)
	var gitErr, tarErr strings.Builder
	gitCmd.Stderr, tarCmd.Stderr = &gitErr, &tarErr
	pipe, err := gitCmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("git archive: %w", err)
	}
	tarCmd.Stdin = pipe
	if err := gitCmd.Start(); err != nil {
		return fmt.Errorf("git archive: %w", err)
	}
	if err := tarCmd.Start(); err != nil {
		pipe.Close()
		gitCmd.Wait()
		return fmt.Errorf("tar -x: %w", err)
	}
	terr := tarCmd.Wait()
	if terr != nil {
		// tar stopped reading: do not leave git blocked on a full pipe.
		pipe.Close()
	}
	gerr := gitCmd.Wait()
	switch {
	case gerr != nil:
		return fmt.Errorf("git archive: %w: %s", gerr, strings.TrimSpace(gitErr.String()))
	case terr != nil:
		return fmt.Errorf("tar -x: %w: %s", terr, strings.TrimSpace(tarErr.String()))
	}
	return nil
}

// repoRelative checks that a path given to flag stays inside the
// repository, and cleans it.
func repoRelative(flag, p string) (string, error) {
	if filepath.IsAbs(p) {
		return "", fmt.Errorf("%s %s is absolute: give a path relative to the repository's top", flag, p)
	}
	p = filepath.Clean(p)
	if !filepath.IsLocal(p) && p != "." {
		return "", fmt.Errorf("%s %s leaves the repository: give a path inside it", flag, p)
	}
	return p, nil
}

// inside reports whether p is dir or below it.
func inside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && filepath.IsLocal(rel) || rel == "."
}

// displayPath prints the repository's root as "." and others as given.
func displayPath(p string) string {
	if p == "" {
		return "."
	}
	return p
}

// diffRemote answers a template's call of a function that must run on the
// minion: with an error, as a fixture is no host.
func diffRemote(_ context.Context, fun string, _ []any, _ map[string]any) (any, error) {
	return nil, fmt.Errorf("salt['%s'] must run on the minion itself, and a fixture is no host: brine test diff answers only the functions a master answers (grains, pillar, config, mine)", fun)
}
