package tmpfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
)

func TestName(t *testing.T) {
	target := filepath.Join(t.TempDir(), "motd")
	a, b := Name(target), Name(target)
	want := filepath.Join(filepath.Dir(target), ".motd.brine-"+strconv.Itoa(os.Getpid())+"-")
	if !strings.HasPrefix(a, want) || len(a) == len(want) {
		t.Errorf("Name = %q, want %q followed by a random part", a, want)
	}
	if a == b {
		t.Errorf("two names are the same: %q", a)
	}
	if got := Pattern(target); got != ".motd.brine-"+strconv.Itoa(os.Getpid())+"-*" {
		t.Errorf("Pattern = %q", got)
	}
}

func TestCleanStale(t *testing.T) {
	for name, ctx := range map[string]context.Context{"alone": context.Background(), "in a run": WithSweep(context.Background())} {
		t.Run(name, func(t *testing.T) { testCleanStale(t, ctx) })
	}
}

func testCleanStale(t *testing.T, ctx context.Context) {
	dead := strconv.Itoa(systest.DeadPID(t))
	self := strconv.Itoa(os.Getpid())
	parent := strconv.Itoa(os.Getppid())
	cases := []struct {
		file string
		gone bool
	}{
		{".motd.brine-" + dead + "-abc", true},        // writer gone
		{".motd.brine-" + dead + "-x-y", true},        // random part with a dash
		{".motd.brine-" + self + "-abc", false},       // this process writes it now
		{".motd.brine-" + parent + "-abc", false},     // another live writer
		{".other.brine-" + dead + "-abc", false},      // another target's
		{".motd.brine-k3j5h2", false},                 // no pid (an older brine's name)
		{".motd.brine-" + dead, false},                // not a temporary name
		{".motd.brine-12x-abc", false},                // not a pid
		{".motd.brine-" + dead + ".brine-1-a", false}, // the temporary of another target
		{"motd", false},                               // the target itself
		{".motd.d.brine-" + dead + "-abc", false},     // the temporary of motd.d
	}
	dir := t.TempDir()
	for _, c := range cases {
		if err := os.WriteFile(filepath.Join(dir, c.file), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed := CleanStale(ctx, filepath.Join(dir, "motd"))
	for _, c := range cases {
		p := filepath.Join(dir, c.file)
		_, err := os.Stat(p)
		if gone := errors.Is(err, os.ErrNotExist); gone != c.gone {
			t.Errorf("%s: removed %v, want %v", c.file, gone, c.gone)
		}
		if slices.Contains(removed, p) != c.gone {
			t.Errorf("%s: reported removed %v, want %v", c.file, slices.Contains(removed, p), c.gone)
		}
	}
	if CleanStale(ctx, filepath.Join(dir, "missing-dir", "x")) != nil {
		t.Error("an unreadable directory reports removals")
	}
}

// TestSweepReadsEachDirectoryOnce: in a run, a directory is read at the
// first write into it; each target's stale files go at its own write.
func TestSweepReadsEachDirectoryOnce(t *testing.T) {
	dead := strconv.Itoa(systest.DeadPID(t))
	dir := t.TempDir()
	plant := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := plant(".a.brine-"+dead+"-1"), plant(".b.brine-"+dead+"-1")
	ctx := WithSweep(context.Background())
	if got := CleanStale(ctx, filepath.Join(dir, "a")); !slices.Equal(got, []string{a}) {
		t.Fatalf("write of a removed %v, want %v", got, []string{a})
	}
	late := plant(".b.brine-" + dead + "-2") // after the run read the directory
	if got := CleanStale(ctx, filepath.Join(dir, "b")); !slices.Equal(got, []string{b}) {
		t.Fatalf("write of b removed %v, want %v (the directory read once)", got, []string{b})
	}
	if _, err := os.Stat(late); err != nil {
		t.Fatalf("a file made after the run read the directory: %v", err)
	}
	if got := CleanStale(ctx, filepath.Join(dir, "a")); got != nil {
		t.Fatalf("a second write of a removed %v", got)
	}
}
