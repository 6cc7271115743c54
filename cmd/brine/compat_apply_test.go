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

	"github.com/brinecm/brine/pkg/dockerx/dockertest"
	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/pkg/testrun"
)

// compatCannotApply names the formulas of the corpus whose apply cannot
// be tried in a container here, and why; they are left out.
var compatCannotApply = map[string]string{
	"packages": "its pillar installs pips, npms, gems and go packages from PyPI, the npm registry, rubygems.org and GitHub, which no test here may reach",
	"docker":   "it downloads Docker's own archives from download.docker.com, which no test here may reach, and runs dockerd as a service",
	"cron": "Salt 3006 compiles this tree to pkg.installed cronie on Debian 12 (expect.json), a package Debian does not have; " +
		"without it there is no crontab command and no cron service, so every state fails, in Salt too",
	"users": "its pillar.example names groups (primarygroup, openldap), salt:// key files and ssh_keys pillar the tree does not ship, " +
		"and /etc/pam.d/sshd and ssh-keygen from openssh-server; Salt fails the same states",
}

// compatApplyFails names, per formula, the states whose real apply fails in
// a container here, and why: each fails as it does with Salt on Debian 12,
// or needs systemd as PID 1, which a container does not have. Exactly these
// states must fail; every other one must succeed.
var compatApplyFails = map[string]struct {
	why    string
	states []string
}{
	"template": {"systemd-journald runs under systemd as PID 1 only; a container has none",
		[]string{"service_|-TEMPLATE-service-running-service-running_|-systemd-journald_|-running"}},
	"sysctl": {"the formula's map names the package procps-ng, which Debian does not have (Salt fails the same state)",
		[]string{"pkg_|-sysctl-pkg_|-procps-ng_|-installed"}},
	"ntp": {"Debian 12's ntp package is a transitional one for ntpsec, whose service is ntpsec: the formula's service ntp does not exist (Salt fails the same state)",
		[]string{"service_|-ntp_|-ntp_|-running"}},
	"nginx": {"the kitchen pillar requires file: created_to_test_dependencies, a state of the formula's own test suite that is not in the tree (Salt fails the same states)",
		[]string{
			"file_|-server_conf_2_|-/etc/nginx/sites-available/mysite_with_require_|-managed",
			"file_|-server_state_2_|-/etc/nginx/sites-enabled/mysite_with_require_|-symlink",
			"service_|-nginx_service_|-nginx_|-running",
		}},
}

// TestCompatFormulasApply applies every formula that compiles as in Salt
// (compatPassing) in its own throwaway container of the default test image,
// with network for apt: state.apply NAME test=True fails no state but those
// of compatApplyFails, a real state.apply fails exactly those, and a second
// one changes nothing.
func TestCompatFormulasApply(t *testing.T) {
	dir := filepath.Join(compatDir(t), "formulas")
	systest.RequireCommands(t, "docker")
	systest.RequireRoot(t) // the image is built with debootstrap, as root
	dc := dockertest.Engine(t)
	// The image brine test run uses, built once per machine (another test
	// binary may be building it: EnsureImage waits for it).
	ictx, icancel := context.WithTimeout(context.Background(), 10*time.Minute)
	image, err := testrun.EnsureImage(ictx, dc, testrun.ImageOptions{DataDir: testRunDataDir})
	icancel()
	if err != nil {
		t.Fatalf("the test image: %v", err)
	}
	bin := brineBinary(t)
	for name, why := range compatCannotApply {
		t.Logf("%s: not applied: %s", name, why)
	}
	for _, name := range compatPassing {
		if _, ok := compatCannotApply[name]; ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, sls := readExpect(t, filepath.Join(dir, name, "expect.json"))
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
			defer cancel()
			c := startFormulaContainer(ctx, t, bin, image, filepath.Join(dir, name))
			out, err := c.exec(ctx, "apt-get", "update", "-qq")
			systest.Require(t, err == nil, fmt.Sprintf("apt in the container reaching a Debian mirror (%v %s)", err, out))
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
			expected := compatApplyFails[name].states
			for _, f := range failed(apply(true)) {
				if !slices.Contains(expected, f.id) {
					t.Errorf("test=True: %s: %s", f.id, f.comment)
				}
			}
			first := apply(false)
			checkFailures(t, "apply", first, expected)
			second := apply(false)
			checkFailures(t, "second apply", second, expected)
			for _, id := range sortedKeys(second) {
				if r := second[id]; len(r.Changes) > 0 {
					t.Errorf("second apply changed %s again: %s", id, r.Changes)
				}
			}
			if t.Failed() {
				return
			}
			if why := compatApplyFails[name].why; why != "" {
				t.Logf("%s: applied %d states; %d fail as expected: %s", name, len(first), len(expected), why)
			} else {
				t.Logf("%s: test=True ok, applied %d states, second apply changed nothing", name, len(first))
			}
		})
	}
}

// checkFailures checks that exactly the states of want failed in rets.
func checkFailures(t *testing.T, phase string, rets map[string]stateRet, want []string) {
	t.Helper()
	var got []string
	for _, f := range failed(rets) {
		got = append(got, f.id)
		if !slices.Contains(want, f.id) {
			t.Errorf("%s: %s: %s", phase, f.id, f.comment)
		}
	}
	for _, id := range want {
		if !slices.Contains(got, id) {
			t.Errorf("%s: %s was expected to fail (see compatApplyFails) but did not: %+v", phase, id, rets[id])
		}
	}
}

// formulaContainer is a running container holding brine and one formula.
type formulaContainer struct{ name string }

// startFormulaContainer starts a container of the test image with network
// for apt, brine at /usr/local/bin/brine and the formula's states and
// pillar at /srv; it is removed when the test ends.
func startFormulaContainer(ctx context.Context, t *testing.T, bin, image, formula string) formulaContainer {
	t.Helper()
	c := formulaContainer{name: fmt.Sprintf("brine-compat-%s-%d", filepath.Base(formula), os.Getpid())}
	if out, err := exec.CommandContext(ctx, "docker", "run", "-d", "--rm", "--network", "bridge", "--hostname", "testminion",
		"--label", "io.brine.test.owner=compat_apply_test", "--name", c.name, image, "sleep", "infinity").CombinedOutput(); err != nil {
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

// failure is a state whose result is false.
type failure struct{ id, comment string }

// failed lists the states whose result is false, with their comments.
func failed(rets map[string]stateRet) []failure {
	var out []failure
	for _, id := range sortedKeys(rets) {
		if r := rets[id]; r.Result != nil && !*r.Result {
			out = append(out, failure{id, r.Comment})
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
