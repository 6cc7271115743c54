package drift

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/sls"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fileTree makes a managed tree: a, b, sub/s, tree/ (recursive), an
// unwatched x, an unmanaged c; it returns the directory and the states.
func fileTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"a", "b", "c", "x", "sub/s", "tree/t1", "tree/deep/t2"} {
		write(t, filepath.Join(dir, f), "managed\n")
	}
	return dir
}

func fileLows(dir string) []sls.Low {
	p := func(f string) string { return filepath.Join(dir, f) }
	return []sls.Low{
		low("A", "file.managed", p("a"), map[string]any{"contents": "managed"}),
		low("B", "file.managed", p("b"), nil),
		low("S", "file.managed", p("sub/s"), nil),
		low("T", "file.directory", p("tree"), map[string]any{"recurse": []any{"mode"}}),
		low("X", "file.managed", p("x"), map[string]any{"watch_drift": false}),
		low("CMD", "cmd.run", "echo hi", nil),
	}
}

// TestFiles edits, deletes and replaces managed files through the real
// file system: each change yields a batch of exactly the states whose
// files changed, and unrelated or unwatched files yield nothing.
func TestFiles(t *testing.T) {
	dir := fileTree(t)
	p := func(f string) string { return filepath.Join(dir, f) }
	w := start(t, Config{Debounce: 50 * time.Millisecond}, fileLows(dir)...)
	cases := []struct {
		name string
		do   func()
		want []string
	}{
		{"edited", func() { write(t, p("a"), "edited by hand\n") }, []string{"A"}},
		{"deleted", func() { must(t, os.Remove(p("b"))) }, []string{"B"}},
		{"renamed over, as editors save", func() {
			write(t, p(".a.swp"), "new\n")
			must(t, os.Rename(p(".a.swp"), p("a")))
		}, []string{"A"}},
		{"mode changed", func() { must(t, os.Chmod(p("a"), 0o600)) }, []string{"A"}},
		{"file in a watched tree", func() { write(t, p("tree/deep/t2"), "x\n") }, []string{"T"}},
		{"new directory in a watched tree", func() { must(t, os.Mkdir(p("tree/new"), 0o755)) }, []string{"T"}},
		{"file in a tree directory made after arming", func() {
			// tree/new was added to the watch when it appeared.
			write(t, p("tree/new/f"), "x\n")
		}, []string{"T"}},
		{"unrelated file, then a managed one", func() {
			write(t, p("c"), "not managed\n")
			write(t, p("b"), "back\n")
		}, []string{"B"}},
		{"watch_drift: False, then a managed one", func() {
			write(t, p("x"), "not watched\n")
			write(t, p("sub/s"), "edited\n")
		}, []string{"S"}},
		{"parent directory removed", func() { must(t, os.RemoveAll(p("sub"))) }, []string{"S"}},
		{"parent directory back: watched again", func() {
			paused(t, w, func() { write(t, p("sub/s"), "managed\n") })
			write(t, p("sub/s"), "edited again\n")
		}, []string{"S"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.do()
			expect(t, w, c.want...)
		})
	}
}

// TestPausedChangesAreNotDrift checks that the minion's own writes,
// between Pause and Resume, are never delivered, while a change right
// after Resume is.
func TestPausedChangesAreNotDrift(t *testing.T) {
	dir := fileTree(t)
	p := func(f string) string { return filepath.Join(dir, f) }
	w := start(t, Config{Debounce: 50 * time.Millisecond, FlapLimit: 100}, fileLows(dir)...)
	for i := range 20 {
		paused(t, w, func() {
			write(t, p("a"), "restored\n")
			must(t, os.Remove(p("sub/s")))
			write(t, p("sub/s"), "restored\n")
		})
		write(t, p("b"), "drift\n")
		b := expect(t, w, "B")
		if i == 0 {
			t.Logf("reason: %s", b.Reasons["B"])
		}
	}
}

// TestDebounceCoalesces checks that changes within the debounce window
// arrive as one batch.
func TestDebounceCoalesces(t *testing.T) {
	dir := fileTree(t)
	p := func(f string) string { return filepath.Join(dir, f) }
	w := start(t, Config{Debounce: time.Second}, fileLows(dir)...)
	write(t, p("a"), "1\n")
	write(t, p("b"), "1\n")
	must(t, os.Remove(p("sub/s")))
	write(t, p("a"), "2\n")
	b := expect(t, w, "A", "B", "S")
	if got := b.Reasons["A"]; got != p("a")+" written" {
		t.Errorf("reason for A %q: the same change twice is said once", got)
	}
}

// TestFlapLimit breaks a state again after every correction: after
// flap_limit corrections it is reported and left alone, other states are
// still corrected, and Reset watches it again.
func TestFlapLimit(t *testing.T) {
	dir := fileTree(t)
	p := func(f string) string { return filepath.Join(dir, f) }
	w := start(t, Config{Debounce: 50 * time.Millisecond, FlapLimit: 3, FlapWindow: time.Hour}, fileLows(dir)...)
	for range 3 {
		write(t, p("a"), "broken\n")
		expect(t, w, "A")
		paused(t, w, func() { write(t, p("a"), "managed\n") })
	}
	write(t, p("a"), "broken again\n")
	select {
	case f := <-w.Flaps():
		if f.ID != "A" || f.Count != 3 || f.Window != time.Hour || f.Reason == "" {
			t.Errorf("flap report %+v, want A after 3 corrections within 1h", f)
		}
	case b := <-w.Batches():
		t.Fatalf("batch %v after the flap limit", b.IDs)
	case <-time.After(guard):
		t.Fatal("no flap report")
	}
	write(t, p("a"), "and again\n")
	write(t, p("b"), "drift\n")
	expect(t, w, "B") // A is left alone
	w.Reset()
	write(t, p("a"), "after the next highstate\n")
	expect(t, w, "A")
}

// TestWatchRearms checks that a new highstate replaces the targets.
func TestWatchRearms(t *testing.T) {
	dir := fileTree(t)
	p := func(f string) string { return filepath.Join(dir, f) }
	w := start(t, Config{Debounce: 50 * time.Millisecond}, fileLows(dir)...)
	if err := w.Watch(t.Context(), []sls.Low{low("C", "file.managed", p("c"), nil)}); err != nil {
		t.Fatal(err)
	}
	write(t, p("a"), "no longer managed\n")
	write(t, p("c"), "now managed\n")
	expect(t, w, "C")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
