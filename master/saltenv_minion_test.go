package master_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brinecm/brine/master"
	"github.com/brinecm/brine/minion"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/testfs"
	"github.com/brinecm/brine/proto/brinepb"
)

// TestMinionSaltenv: a real minion connected to a real master applies
// states of the dev environment. It fetches salt://x?saltenv=dev, and
// salt://x from a state of dev, from the master's dev roots (keeping its
// copy apart from base's), salt://x?saltenv=base from base; a highstate
// merges base's and dev's top files; an environment the master does not
// serve fails the run with an error naming those it does.
func TestMinionSaltenv(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	base, dev := filepath.Join(dir, "base"), filepath.Join(dir, "dev")
	testfs.Write(t, base, map[string]string{
		"top.sls":  "base:\n  '*':\n    - motd\n",
		"motd.sls": out + "/motd:\n  file.managed:\n    - source: salt://x\n    - makedirs: True\n",
		"x":        "base x\n",
	})
	testfs.Write(t, dev, map[string]string{
		"top.sls": "dev:\n  '*':\n    - app\n",
		"app.sls": fmt.Sprintf(`%[1]s/query:
  file.managed:
    - source: salt://x?saltenv=dev
    - makedirs: True
%[1]s/own-env:
  file.managed:
    - source: salt://x
    - makedirs: True
%[1]s/from-base:
  file.managed:
    - source: salt://x?saltenv=base
    - makedirs: True
`, out),
		"x": "dev x\n",
	})
	cfg := config.Master{DataDir: filepath.Join(dir, "master"), Socket: filepath.Join(dir, "master.sock"), Listen: "127.0.0.1:0",
		FileRoots: config.Roots{base}, FileEnvs: config.Envs{"dev": {dev}}, PillarRoots: config.Roots{filepath.Join(dir, "pillar")},
		AutoAccept: true}
	log := slog.New(slog.DiscardHandler)
	m, err := master.New(master.Options{Master: cfg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("master: %v", err)
		}
	})
	select {
	case <-m.Ready():
	case err := <-done:
		t.Fatalf("master did not start: %v", err)
	}
	minionDir := filepath.Join(dir, "m1")
	mn, err := minion.New(minion.Config{ID: "m1", Masters: []string{m.BusURL()}, DataDir: minionDir, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	mctx, mcancel := context.WithCancel(context.Background())
	mdone := make(chan struct{})
	go func() { _ = mn.Run(mctx); close(mdone) }()
	t.Cleanup(func() { mcancel(); <-mdone })

	// run publishes fun to m1 and returns its return.
	run := func(fun string, args []any, kwargs map[string]any) *brinepb.MinionReturn {
		t.Helper()
		if args == nil {
			args = []any{}
		}
		if kwargs == nil {
			kwargs = map[string]any{}
		}
		aj, _ := json.Marshal(args)
		kj, _ := json.Marshal(kwargs)
		req := &brinepb.RunRequest{Target: "m1", Fun: fun, ArgsJson: aj, KwargsJson: kj, TimeoutMs: time.Minute.Milliseconds()}
		var ret *brinepb.MinionReturn
		err := m.Publish(context.Background(), req, func(ev *brinepb.RunEvent) error {
			if r, ok := ev.Event.(*brinepb.RunEvent_Ret); ok {
				ret = r.Ret
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", fun, err)
		}
		if ret == nil {
			t.Fatalf("%s: m1 did not return", fun)
		}
		return ret
	}
	// The minion is accepted once it answers a ping.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var ok bool
		err := m.Publish(context.Background(), &brinepb.RunRequest{Target: "m1", Fun: "test.ping", ArgsJson: []byte("[]"),
			KwargsJson: []byte("{}"), TimeoutMs: 2000},
			func(ev *brinepb.RunEvent) error {
				if _, isRet := ev.Event.(*brinepb.RunEvent_Ret); isRet {
					ok = true
				}
				return nil
			})
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("m1 does not answer test.ping: %v", err)
		}
	}
	states := func(ret *brinepb.MinionReturn, want int) {
		t.Helper()
		var hs result.Highstate
		if err := json.Unmarshal(ret.ReturnJson, &hs); err != nil || !ret.Success || len(hs) != want || hs.Failed() {
			t.Fatalf("return %s (%v, success %v, error %q), want %d states that succeed", ret.ReturnJson, err, ret.Success, ret.Error, want)
		}
	}
	check := func(files map[string]string) {
		t.Helper()
		for name, want := range files {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil || string(b) != want {
				t.Errorf("%s = %q (%v), want %q", name, b, err, want)
			}
		}
	}

	states(run("state.sls", []any{"app"}, map[string]any{"saltenv": "dev"}), 3)
	check(map[string]string{"query": "dev x\n", "own-env": "dev x\n", "from-base": "base x\n"})
	// The minion keeps each environment's copies apart.
	for file, want := range map[string]string{
		filepath.Join(minionDir, "saltenvs", "dev", "x"): "dev x\n",
		filepath.Join(minionDir, "files", "x"):           "base x\n",
	} {
		if b, err := os.ReadFile(file); err != nil || string(b) != want {
			t.Errorf("cached %s = %q (%v), want %q", file, b, err, want)
		}
	}

	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	states(run("state.highstate", nil, nil), 4)
	check(map[string]string{"motd": "base x\n", "query": "dev x\n", "own-env": "dev x\n", "from-base": "base x\n"})

	ret := run("state.sls", []any{"app"}, map[string]any{"saltenv": "qa"})
	if ret.Success || !strings.Contains(string(ret.ReturnJson)+ret.Error, "saltenv 'qa' does not exist: the environments of file_roots are base, dev") {
		t.Errorf("state.sls saltenv=qa: success %v, return %s, error %q; want a failure naming base and dev", ret.Success, ret.ReturnJson, ret.Error)
	}
}
