package drift

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/systest"
)

// guard bounds every wait for a batch: it is a hang guard, not a
// measure of speed.
const guard = 20 * time.Second

// low builds a compiled state.
func low(id, fun, name string, args map[string]any) sls.Low {
	mod, f, _ := strings.Cut(fun, ".")
	if args == nil {
		args = map[string]any{}
	}
	return sls.Low{ID: id, Name: name, Module: mod, Fun: f, Args: args, Pos: sls.Pos{File: "init.sls", Line: 1}}
}

// start makes a watcher over lows, armed, closed when the test ends.
func start(t *testing.T, cfg Config, lows ...sls.Low) *Watcher {
	t.Helper()
	w := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(w.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := w.Watch(ctx, lows); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	return w
}

// next returns the next batch.
func next(t *testing.T, w *Watcher) Batch {
	t.Helper()
	select {
	case b := <-w.Batches():
		return b
	case f := <-w.Flaps():
		t.Fatalf("flap report %+v while waiting for a batch", f)
	case <-time.After(guard):
		t.Fatalf("no batch within %v", guard)
	}
	return Batch{}
}

// expect checks that the next batch is exactly ids, each with a reason.
func expect(t *testing.T, w *Watcher, ids ...string) Batch {
	t.Helper()
	b := next(t, w)
	slices.Sort(ids)
	if !slices.Equal(b.IDs, ids) {
		t.Fatalf("batch %v (reasons %v), want %v", b.IDs, b.Reasons, ids)
	}
	for _, id := range ids {
		if b.Reasons[id] == "" {
			t.Errorf("state %s delivered without a reason", id)
		}
	}
	return b
}

// paused runs fn as the minion applying: what it changes is not drift.
func paused(t *testing.T, w *Watcher, fn func()) {
	t.Helper()
	w.Pause()
	fn()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := w.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
}

// run runs a command, failing the test on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// systemCommands skips (fails in CI) without the named commands.
func systemCommands(t *testing.T, names ...string) {
	t.Helper()
	systest.RequireCommands(t, names...)
}
