package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSaltcheckRunStateTests applies a recipe with the real binary, then
// checks what it made with the recipe's saltcheck tests: one test fails
// on purpose, so the run exits 2 and names it, and the others pass.
func TestSaltcheckRunStateTests(t *testing.T) {
	bin := brineBinary(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "srv")
	pillar := filepath.Join(dir, "pillar")
	if err := os.MkdirAll(pillar, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(pillar, "top.sls"), "base:\n  '*':\n    - paths\n")
	writeFile(t, filepath.Join(pillar, "paths.sls"), "root: "+root+"\n")
	brine := func(args ...string) (int, string, string) {
		t.Helper()
		full := append([]string{"call", "--local", "--config", "/dev/null", "--id", "web1",
			"--file-root", filepath.Join("testdata", "saltcheck"), "--pillar-root", pillar}, args...)
		cmd := exec.Command(bin, full...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("run brine %v: %v", args, err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
	}

	if code, out, errOut := brine("state.apply", "web"); code != exitOK {
		t.Fatalf("state.apply web: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "www", "index.html")); err != nil {
		t.Fatalf("the recipe made no page: %v", err)
	}

	code, out, errOut := brine("saltcheck.run_state_tests", "web", "--out", "json")
	if code != exitStateFailed {
		t.Fatalf("exit %d, want %d (a test failed)\n%s\n%s", code, exitStateFailed, out, errOut)
	}
	var got struct {
		Local []map[string]json.RawMessage `json:"local"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Local) != 2 {
		t.Fatalf("want the web results and the summary as JSON (%v), got %s", err, out)
	}
	var web map[string]struct{ Status string }
	var sum map[string]float64
	if err := json.Unmarshal(got.Local[0]["web"], &web); err != nil {
		t.Fatalf("web results: %v\n%s", err, out)
	}
	if err := json.Unmarshal(got.Local[1]["TEST RESULTS"], &sum); err != nil {
		t.Fatalf("summary: %v\n%s", err, out)
	}
	want := map[string]string{
		"index_exists":            "Pass",
		"index_greets_the_minion": "Pass",
		"index_mode":              "Pass",
		"index_private":           "Fail: 0600 is not equal to 0640",
		"no_stray_page":           "Pass",
	}
	if len(web) != len(want) {
		t.Errorf("tests run: %s", out)
	}
	for id, status := range want {
		if web[id].Status != status {
			t.Errorf("%s: status %q, want %q", id, web[id].Status, status)
		}
	}
	if sum["Passed"] != 4 || sum["Failed"] != 1 || sum["Skipped"] != 0 || sum["Missing Tests"] != 0 {
		t.Errorf("summary %v", sum)
	}

	// The default output names the failed test and why, on a pipe.
	code, out, _ = brine("saltcheck.run_state_tests", "web")
	if code != exitStateFailed || !strings.Contains(out, "Fail: 0600 is not equal to 0640") || !strings.Contains(out, "TEST RESULTS:") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}

	// One inline test that passes exits 0.
	code, out, errOut = brine("saltcheck.run_test", "test={module_and_function: file.get_mode, args: ["+
		filepath.Join(root, "www", "index.html")+`], assertion: assertEqual, expected_return: "0640"}`)
	if code != exitOK || !strings.Contains(out, "Pass") {
		t.Errorf("run_test: exit %d\n%s\n%s", code, out, errOut)
	}
}
