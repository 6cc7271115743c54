package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/pkg/testrun"
)

// compatApplyImage is the Debian image `brine test run` builds and reuses.
var compatApplyImage = testrun.DefaultImage("bookworm")

// compatCannotApply names the formulas of the corpus whose apply cannot
// succeed in a container here, and why; they are reported, not applied.
var compatCannotApply = map[string]string{
	"users": "its pillar.example names groups (primarygroup, openldap), salt:// key files and ssh_keys pillar the tree does not ship, " +
		"and /etc/pam.d/sshd and ssh-keygen from openssh-server; Salt fails the same states",
}

// TestCompatFormulasApply applies every formula that compiles as in Salt
// (compatPassing) in its own throwaway container of the default test image,
// with network for apt: state.apply NAME test=True must not fail, a real
// state.apply must succeed, and a second one must change nothing.
func TestCompatFormulasApply(t *testing.T) {
	if testing.Short() {
		t.Skip("applies formulas in containers")
	}
	dir := filepath.Join(compatDir(t), "formulas")
	systest.RequireCommands(t, "docker")
	haveImage := exec.Command("docker", "image", "inspect", compatApplyImage).Run() == nil
	systest.Require(t, haveImage, "the image "+compatApplyImage+" (build it once with `brine test run`)")
	bin := brineBinary(t)
	for _, name := range compatPassing {
		t.Run(name, func(t *testing.T) {
			if why, ok := compatCannotApply[name]; ok {
				t.Skipf("%s: %s", name, why)
			}
			t.Parallel()
			_, sls := readExpect(t, filepath.Join(dir, name, "expect.json"))
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			c := startFormulaContainer(ctx, t, bin, filepath.Join(dir, name))
			if out, err := c.exec(ctx, "apt-get", "update", "-qq"); err != nil {
				t.Skipf("apt in the container cannot reach a mirror (a documented limitation of this test): %v\n%s", err, out)
			}
			apply := func(test bool) map[string]stateRet {
				args := []string{"brine", "call", "--local", "--file-root", "/srv/states", "--pillar-root", "/srv/pillar",
					"--id", "testminion", "--out", "json", "state.apply", sls}
				if test {
					args = append(args, "test=True")
				}
				out, _ := c.exec(ctx, args...) // a failed state exits non-zero; its JSON says which
				rets, err := parseApply(out)
				if err != nil {
					t.Fatalf("state.apply %s test=%v: %v\n%s", sls, test, err, out)
				}
				return rets
			}
			for _, f := range failed(apply(true)) {
				t.Errorf("test=True: %s", f)
			}
			first := apply(false)
			for _, f := range failed(first) {
				t.Errorf("apply: %s", f)
			}
			if t.Failed() {
				return
			}
			second := apply(false)
			for _, f := range failed(second) {
				t.Errorf("second apply: %s", f)
			}
			for _, id := range sortedKeys(second) {
				if r := second[id]; len(r.Changes) > 0 {
					t.Errorf("second apply changed %s again: %s", id, r.Changes)
				}
			}
			t.Logf("%s: test=True ok, applied %d states, second apply changed nothing", name, len(first))
		})
	}
}

// formulaContainer is a running container holding brine and one formula.
type formulaContainer struct{ name string }

// startFormulaContainer starts a container of the test image with network
// for apt, brine at /usr/local/bin/brine and the formula's states and
// pillar at /srv; it is removed when the test ends.
func startFormulaContainer(ctx context.Context, t *testing.T, bin, formula string) formulaContainer {
	t.Helper()
	c := formulaContainer{name: fmt.Sprintf("brine-compat-%s-%d", filepath.Base(formula), os.Getpid())}
	if out, err := exec.CommandContext(ctx, "docker", "run", "-d", "--rm", "--network", "bridge", "--hostname", "testminion",
		"--label", "io.brine.test.owner=compat_apply_test", "--name", c.name, compatApplyImage, "sleep", "infinity").CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", c.name).Run() })
	for _, cp := range [][2]string{{bin, "/usr/local/bin/brine"}, {filepath.Join(formula, "states"), "/srv/states"}, {filepath.Join(formula, "pillar"), "/srv/pillar"}} {
		if out, err := exec.CommandContext(ctx, "docker", "cp", cp[0], c.name+":"+cp[1]).CombinedOutput(); err != nil {
			t.Fatalf("docker cp %s: %v\n%s", cp[0], err, out)
		}
	}
	return c
}

// exec runs a command in the container; out is its stdout.
func (c formulaContainer) exec(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"exec", c.name}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// stateRet is one state's return in `--out json state.apply` output.
type stateRet struct {
	Result  *bool           `json:"result"`
	Comment string          `json:"comment"`
	Changes json.RawMessage `json:"changes"`
}

// parseApply reads the states of one minion's state.apply return; a list
// of strings (compile errors) is an error.
func parseApply(out []byte) (map[string]stateRet, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, err
	}
	for _, raw := range doc {
		var errs []string
		if json.Unmarshal(raw, &errs) == nil {
			return nil, fmt.Errorf("does not compile: %s", strings.Join(errs, "; "))
		}
		var rets map[string]stateRet
		if err := json.Unmarshal(raw, &rets); err != nil {
			return nil, err
		}
		for id, r := range rets {
			if string(r.Changes) == "{}" || string(r.Changes) == "null" {
				r.Changes = nil
				rets[id] = r
			}
		}
		return rets, nil
	}
	return nil, fmt.Errorf("no minion's return")
}

// failed lists the states whose result is false, with their comments.
func failed(rets map[string]stateRet) []string {
	var out []string
	for _, id := range sortedKeys(rets) {
		if r := rets[id]; r.Result != nil && !*r.Result {
			out = append(out, id+": "+r.Comment)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Clip(keys)
}
