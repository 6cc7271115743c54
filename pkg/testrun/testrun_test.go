package testrun

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/pkg/result"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

func TestHostSource(t *testing.T) {
	tests := []struct {
		root string
		want AptSource
		err  string
	}{
		{root: "deb822", want: AptSource{URI: "http://mirror.example/debian", Suite: "bookworm"}},
		{root: "oneline", want: AptSource{URI: "http://local.example:3142/debian", Suite: "bookworm"}},
		{root: "nocodename", want: AptSource{URI: "http://deb.debian.org/debian", Suite: "sid"}},
		{root: "nomatch", err: "no apt source for bookworm with component main in testdata/apt/nomatch/etc/apt/sources.list(.d): add one (deb http://deb.debian.org/debian bookworm main), or give --image"},
		{root: "missing", err: "no apt source for the host's release"},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			got, err := HostSource(filepath.Join("testdata", "apt", tt.root))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// sample is a run of one minion: a highstate return with a failed state,
// its second run with a state that changed again, and a saltcheck return
// with a test run under two SLS names.
const (
	firstRun = `{
 "file_|-motd_|-/etc/motd_|-managed": {"__id__": "motd", "__run_num__": 0, "__sls__": "motd", "changes": {"diff": "+hi"}, "comment": "File /etc/motd updated", "duration": 1.5, "name": "/etc/motd", "result": true, "start_time": "10:00:00.000000"},
 "cmd_|-stamp_|-date > /tmp/stamp_|-run": {"__id__": "stamp", "__run_num__": 1, "__sls__": "stamp", "changes": {"retcode": 0}, "comment": "Command \"date > /tmp/stamp\" run", "duration": 3, "name": "date > /tmp/stamp", "result": true, "start_time": "10:00:00.001000"},
 "pkg_|-nginx_|-nginx_|-installed": {"__id__": "nginx", "__run_num__": 2, "__sls__": "web", "changes": {}, "comment": "E: Unable to locate package nginx", "duration": 200, "name": "nginx", "result": false, "start_time": "10:00:00.002000"}
}`
	secondRun = `{
 "file_|-motd_|-/etc/motd_|-managed": {"__id__": "motd", "__run_num__": 0, "__sls__": "motd", "changes": {}, "comment": "File /etc/motd is in the correct state", "duration": 0.5, "name": "/etc/motd", "result": true, "start_time": "10:00:01.000000"},
 "cmd_|-stamp_|-date > /tmp/stamp_|-run": {"__id__": "stamp", "__run_num__": 1, "__sls__": "stamp", "changes": {"retcode": 0}, "comment": "Command \"date > /tmp/stamp\" run", "duration": 3, "name": "date > /tmp/stamp", "result": true, "start_time": "10:00:01.001000"},
 "pkg_|-nginx_|-nginx_|-installed": {"__id__": "nginx", "__run_num__": 2, "__sls__": "web", "changes": {}, "comment": "E: Unable to locate package nginx", "duration": 200, "name": "nginx", "result": false, "start_time": "10:00:01.002000"}
}`
	saltcheckRun = `[
 {"motd": {"motd_exists": {"status": "Pass", "duration": 0.001}, "motd_private": {"status": "Fail: 0600 is not equal to 0644", "duration": 0.002}}},
 {"web": {"motd_exists": {"status": "Pass", "duration": 0.001}, "motd_private": {"status": "Pass", "duration": 0.002}, "web_skipped": {"status": "Skip", "duration": 0}, "web/saltcheck-tests/bad.tst": {"status": "Fail: web/saltcheck-tests/bad.tst:3: not valid YAML (after Jinja): found a tab", "duration": 0}}},
 {"TEST RESULTS": {"Passed": 3, "Failed": 2, "Skipped": 1, "Missing Tests": 0, "Execution Time": 0.006}}
]`
)

// sampleReport builds the report of the sample run, as runMinion does.
func sampleReport(t *testing.T) *Report {
	t.Helper()
	m := Minion{ID: "web1",
		States: map[string]Pos{
			"file_|-motd_|-/etc/motd_|-managed":     {File: "motd/init.sls", Line: 2},
			"cmd_|-stamp_|-date > /tmp/stamp_|-run": {File: "stamp.sls", Line: 1},
			"pkg_|-nginx_|-nginx_|-installed":       {File: "web/init.sls", Line: 4},
		},
		Tests: map[string]Pos{"motd_exists": {File: "motd/saltcheck-tests/init.tst", Line: 4}, "motd_private": {File: "motd/saltcheck-tests/init.tst", Line: 9}},
	}
	rep := MinionReport{ID: "web1", Container: "brine-test-web1-0123", Duration: 4.25}
	for _, run := range []struct{ kind, src string }{{KindApply, firstRun}, {KindIdempotence, secondRun}} {
		var hs result.Highstate
		if err := json.Unmarshal([]byte(run.src), &hs); err != nil {
			t.Fatal(err)
		}
		rep.Cases = append(rep.Cases, stateCases(run.kind, hs, m)...)
	}
	var sc []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(saltcheckRun), &sc); err != nil {
		t.Fatal(err)
	}
	cases, err := assertionCases(sc, m)
	if err != nil {
		t.Fatal(err)
	}
	rep.Cases = append(rep.Cases, cases...)
	db := MinionReport{ID: "db1", Container: "brine-test-db1-0123", Duration: 1.5, Cases: []Case{
		{Kind: KindSetup, Name: "apply run", Status: StatusError, Message: "state.highstate does not compile in the container:\ntop.sls:3: bad"},
	}}
	return &Report{Image: "brine/test-debian:bookworm", Minions: []MinionReport{db, rep}, Duration: 5.75}
}

// TestCases checks what each return becomes: a failed state fails in both
// runs, a state that changes again fails its idempotence case only, a test
// run twice is one case with its worst outcome, a file that could not be
// read is a failed case named after it.
func TestCases(t *testing.T) {
	rep := sampleReport(t)
	got := map[string]string{}
	for _, c := range rep.Minions[1].Cases {
		got[c.Kind+" "+c.Name] = c.Status + " " + c.Pos.String()
	}
	want := map[string]string{
		"apply motd (file.managed /etc/motd)":           "passed motd/init.sls:2",
		"apply stamp (cmd.run date > /tmp/stamp)":       "passed stamp.sls:1",
		"apply nginx (pkg.installed)":                   "failed web/init.sls:4",
		"idempotence motd (file.managed /etc/motd)":     "passed motd/init.sls:2",
		"idempotence stamp (cmd.run date > /tmp/stamp)": "failed stamp.sls:1",
		"idempotence nginx (pkg.installed)":             "failed web/init.sls:4",
		"assertion motd_exists":                         "passed motd/saltcheck-tests/init.tst:4",
		"assertion motd_private":                        "failed motd/saltcheck-tests/init.tst:9",
		"assertion web_skipped":                         "skipped ",
		"assertion web/saltcheck-tests/bad.tst":         "failed web/saltcheck-tests/bad.tst",
	}
	if len(got) != len(want) || len(rep.Minions[1].Cases) != len(want) {
		t.Errorf("%d cases, want %d: %v", len(rep.Minions[1].Cases), len(want), got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	if code := rep.ExitCode(); code != ExitError {
		t.Errorf("exit code %d, want %d: an error wins over a failure", code, ExitError)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		statuses []string
		want     int
	}{
		{nil, ExitOK},
		{[]string{StatusPassed, StatusSkipped}, ExitOK},
		{[]string{StatusPassed, StatusFailed}, ExitFailed},
		{[]string{StatusFailed, StatusError}, ExitError},
	}
	for _, tt := range tests {
		m := MinionReport{ID: "m"}
		for _, s := range tt.statuses {
			m.Cases = append(m.Cases, Case{Status: s})
		}
		if got := (&Report{Minions: []MinionReport{m}}).ExitCode(); got != tt.want {
			t.Errorf("%v: exit code %d, want %d", tt.statuses, got, tt.want)
		}
	}
}

// TestReportGolden writes the sample report in each format and compares
// it with testdata/report.*; go test -update rewrites them.
func TestReportGolden(t *testing.T) {
	rep := sampleReport(t)
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := rep.Write(&b, format); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "report."+format)
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("%s report differs from %s:\n%s", format, golden, b.String())
			}
		})
	}
	if err := rep.Write(io.Discard, "xml"); err == nil || !strings.Contains(err.Error(), "use one of text, json, junit") {
		t.Errorf("an unknown format: %v", err)
	}
}

// TestPayload unpacks what a container receives: the binary, the trees
// (without .git) and the minion configuration with the fixture's grains.
func TestPayload(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "brine")
	tree := filepath.Join(dir, "states")
	for _, p := range []string{filepath.Join(tree, "web"), filepath.Join(tree, ".git")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{bin: "#!binary", filepath.Join(tree, "top.sls"): "base: {}\n",
		filepath.Join(tree, "web", "init.sls"): "x: {}\n", filepath.Join(tree, ".git", "HEAD"): "ref"}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("init.sls", filepath.Join(tree, "web", "alias.sls")); err != nil {
		t.Fatal(err)
	}
	r, err := payload(Minion{ID: "web1", Grains: map[string]any{"role": "web"}},
		Options{Binary: bin, FileRoots: []string{tree}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		switch h.Typeflag {
		case tar.TypeSymlink:
			got[h.Name] = "-> " + h.Linkname
		case tar.TypeDir:
			got[h.Name] = "dir"
		default:
			got[h.Name] = string(b)
		}
	}
	for name, want := range map[string]string{
		"usr/local/bin/brine":              "#!binary",
		"srv/brine/states/0/top.sls":       "base: {}\n",
		"srv/brine/states/0/web/init.sls":  "x: {}\n",
		"srv/brine/states/0/web/alias.sls": "-> init.sls",
		"srv/brine/states/0/web/":          "dir",
		"usr/local/bin/":                   "dir",
		"etc/brine/":                       "dir",
	} {
		if got[name] != want {
			t.Errorf("%s: %q, want %q", name, got[name], want)
		}
	}
	if _, ok := got["srv/brine/states/0/.git/HEAD"]; ok {
		t.Error("the .git directory was copied")
	}
	var cfg struct {
		ID          string         `yaml:"id"`
		FileRoots   []string       `yaml:"file_roots"`
		PillarRoots []string       `yaml:"pillar_roots"`
		Grains      map[string]any `yaml:"grains"`
	}
	if err := yaml.Unmarshal([]byte(got["etc/brine/minion"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.ID != "web1" || cfg.Grains["role"] != "web" || len(cfg.FileRoots) != 1 || cfg.FileRoots[0] != "/srv/brine/states/0" || len(cfg.PillarRoots) != 0 {
		t.Errorf("minion configuration: %+v", cfg)
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ id, container, host string }{
		{"web1", "brine-test-web1-r1", "web1"},
		{"web1.example.com", "brine-test-web1.example.com-r1", "web1-example-com"},
		{"_odd/id:1", "brine-test-odd-id-1-r1", "odd-id-1"},
		{"", "brine-test-minion-r1", "minion"},
	}
	for _, tt := range tests {
		if got := containerName("r1", tt.id); got != tt.container {
			t.Errorf("containerName(%q) = %q, want %q", tt.id, got, tt.container)
		}
		if got := hostname(tt.id); got != tt.host {
			t.Errorf("hostname(%q) = %q, want %q", tt.id, got, tt.host)
		}
	}
}
