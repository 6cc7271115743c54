package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestCallStateRequest stages a run with `brine call --local state.request`
// in the minion's data_dir, shows it, and applies it with
// state.run_request, each a separate command as a user types them.
func TestCallStateRequest(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "minion.yaml")
	dataDir := filepath.Join(root, "data")
	if err := os.WriteFile(conf, []byte("data_dir: "+dataDir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	brine := func(args ...string) map[string]any {
		t.Helper()
		full := append([]string{"call", "--local", "--config", conf, "--id", "minion1", "--out", "json",
			"--file-root", filepath.Join("testdata", "good"), "--pillar-root", filepath.Join(root, "no-pillar")}, args...)
		var out, errOut bytes.Buffer
		if code := run(context.Background(), full, &out, &errOut); code != exitOK {
			t.Fatalf("brine %v: exit %d\n%s%s", args, code, out.String(), errOut.String())
		}
		var doc map[string]any
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("brine %v: %v\n%s", args, err, out.String())
		}
		return doc
	}
	index := filepath.Join(root, "www", "index.html")
	key := "file_|-index_|-" + index + "_|-managed"

	staged := brine("state.request", "web", "pillar={root: "+root+"}")["local"].(map[string]any)
	if r := staged[key].(map[string]any)["result"]; r != nil {
		t.Errorf("state.request: result %v, want None (a test run)", r)
	}
	if _, err := os.Stat(index); err == nil {
		t.Fatal("state.request wrote the file")
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "state_requests.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("staged request: %v, %v; want a 0600 file in the data dir", fi, err)
	}
	shown := brine("state.check_request")["local"].(map[string]any)
	if _, ok := shown["default"].(map[string]any)["test_run"].(map[string]any)[key]; !ok {
		t.Errorf("state.check_request does not show the staged test run: %v", shown)
	}

	ran := brine("state.run_request")["local"].(map[string]any)
	if r := ran[key].(map[string]any)["result"]; r != true {
		t.Errorf("state.run_request: result %v, want True", r)
	}
	if b, err := os.ReadFile(index); err != nil || string(b) != "hello from minion1\n" {
		t.Errorf("state.run_request: %s holds %q (%v)", index, b, err)
	}
	if again := brine("state.run_request")["local"]; len(again.(map[string]any)) != 0 {
		t.Errorf("a second state.run_request returned %v, want {}", again)
	}
}
