package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// hookMarker is in every hook brine writes: a hook without it is someone
// else's and is not replaced without --force.
const hookMarker = "# brine-test-hook: written by `brine test hook install`"

type hookFlags struct {
	preCommit, prePush bool
	repo               string
	force              bool
	fileRoots          []string
	pillarRoots        []string
	minions            string
	strict             bool
	brine              string
}

func newTestHookCommand() *cobra.Command {
	hook := &cobra.Command{
		Use:   "hook",
		Short: "Manage the git hook that runs brine test render",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var f hookFlags
	install := &cobra.Command{
		Use:   "install [--pre-commit|--pre-push] [--repo DIR] [flags]",
		Short: "Write a git hook that runs brine test render on what is committed or pushed",
		Long: `Write an executable git hook into the repository's hooks directory.
The pre-commit hook (the default) exports the staged tree (the index, not the
work tree) to a temporary directory and runs brine test render there; the
pre-push hook does the same for every commit being pushed. A failing render
stops the commit or the push.

--file-root, --pillar-root and --minions are written into the hook; relative
paths are relative to the repository's top directory, so they name the staged
copies. An existing hook that brine did not write is kept unless --force.`,
		Example: `  brine test hook install --file-root states --pillar-root pillar --minions tests/minions
  brine test hook install --pre-push --repo ~/recipes --file-root states --minions tests/minions --strict`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := f.install(cmd.Context())
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "installed %s\n", path)
			return nil
		},
	}
	fl := install.Flags()
	fl.BoolVar(&f.preCommit, "pre-commit", false, "install a pre-commit hook (the default)")
	fl.BoolVar(&f.prePush, "pre-push", false, "install a pre-push hook")
	fl.StringVar(&f.repo, "repo", ".", "the git repository")
	fl.BoolVar(&f.force, "force", false, "replace a hook that brine did not write")
	fl.StringArrayVar(&f.fileRoots, "file-root", nil, "state tree directory, relative to the repository (repeatable; default: its top directory)")
	fl.StringArrayVar(&f.pillarRoots, "pillar-root", nil, "pillar tree directory, relative to the repository (repeatable)")
	fl.StringVar(&f.minions, "minions", "", "directory of minion fixtures, relative to the repository")
	fl.BoolVar(&f.strict, "strict", false, "lint warnings stop the commit too")
	fl.StringVar(&f.brine, "brine", "", "the brine binary the hook runs (default: this one; $BRINE overrides it when the hook runs)")
	install.MarkFlagsMutuallyExclusive("pre-commit", "pre-push")
	hook.AddCommand(install)
	return hook
}

// install writes the hook and returns its path.
func (f *hookFlags) install(ctx context.Context) (string, error) {
	top, err := gitOutput(ctx, f.repo, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", fmt.Errorf("find the repository of %s: %w (give --repo a git work tree)", f.repo, err)
	}
	hooks, err := gitOutput(ctx, top, "rev-parse", "--git-path", "hooks")
	if err != nil {
		return "", fmt.Errorf("find the hooks directory of %s: %w", top, err)
	}
	if !filepath.IsAbs(hooks) {
		hooks = filepath.Join(top, hooks)
	}
	args := []string{"test", "render"}
	add := func(flag string, paths ...string) {
		for _, p := range paths {
			args = append(args, flag, repoPath(top, p))
		}
	}
	roots := f.fileRoots
	if len(roots) == 0 {
		roots = []string{"."}
	}
	add("--file-root", roots...)
	add("--pillar-root", f.pillarRoots...)
	if f.minions != "" {
		add("--minions", f.minions)
	}
	if f.strict {
		args = append(args, "--strict")
	}
	brine := f.brine
	if brine == "" {
		if brine, err = os.Executable(); err != nil {
			return "", fmt.Errorf("find the brine binary: %w (give --brine PATH)", err)
		}
	}
	if brine, err = filepath.Abs(brine); err != nil {
		return "", fmt.Errorf("find the brine binary: %w", err)
	}
	name, script := "pre-commit", preCommitScript(brine, args)
	if f.prePush {
		name, script = "pre-push", prePushScript(brine, args)
	}
	path := filepath.Join(hooks, name)
	old, err := os.ReadFile(path)
	switch {
	case err == nil && !bytes.Contains(old, []byte(hookMarker)) && !f.force:
		return "", fmt.Errorf("%s exists and brine did not write it: merge it by hand, move it away, or pass --force to replace it", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read the existing hook: %w", err)
	}
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return "", fmt.Errorf("create the hooks directory: %w", err)
	}
	// Write next to the hook, then rename: git never runs half a hook.
	tmp := path + ".brine-tmp"
	if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("write the hook: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("make the hook executable: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("install the hook: %w", err)
	}
	return path, nil
}

// repoPath turns p (relative to the repository top, or absolute) into the
// path the hook passes: relative when inside the repository, so that it
// names the exported copy, absolute when outside it.
func repoPath(top, p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(top, p)
	}
	rel, err := filepath.Rel(top, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.Clean(p)
	}
	return filepath.ToSlash(rel)
}

func gitOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// shQuote quotes s for a POSIX shell.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func shCommand(args []string) string {
	parts := []string{`"$BRINE"`}
	for _, a := range args {
		parts = append(parts, shQuote(a))
	}
	return strings.Join(parts, " ")
}

func preCommitScript(brine string, args []string) string {
	return `#!/bin/sh
` + hookMarker + `
# Renders the STAGED state tree for every minion fixture before git commits
# it; a render error stops the commit. Reinstall the hook to change it.
BRINE=${BRINE:-` + shQuote(brine) + `}
tree=$(mktemp -d "${TMPDIR:-/tmp}/brine-hook.XXXXXX") || exit 1
trap 'rm -rf "$tree"' EXIT
trap 'exit 130' INT TERM
git checkout-index -a --prefix="$tree/" || exit 1
cd "$tree" || exit 1
` + shCommand(args) + `
`
}

func prePushScript(brine string, args []string) string {
	return `#!/bin/sh
` + hookMarker + `
# Renders the state tree of every commit being pushed for every minion
# fixture; a render error stops the push. Reinstall the hook to change it.
BRINE=${BRINE:-` + shQuote(brine) + `}
status=0
while read -r lref lsha rref rsha; do
	case $lsha in *[!0]*) ;; *) continue ;; esac # a deleted ref
	tree=$(mktemp -d "${TMPDIR:-/tmp}/brine-hook.XXXXXX") || exit 1
	if git archive "$lsha" | tar -xf - -C "$tree"; then
		echo "brine test render: $lref ($lsha)" >&2
		(cd "$tree" && ` + shCommand(args) + `) || status=1
	else
		status=1
	fi
	rm -rf "$tree"
done
exit $status
`
}
