package job

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// guardFile returns the JIDs recorded in the guard's file.
func guardFile(t *testing.T, path string) map[string]time.Time {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var seen map[string]time.Time
	if err := json.Unmarshal(data, &seen); err != nil {
		t.Fatal(err)
	}
	return seen
}

func jobAt(jid string, issued, expires time.Time) *Job {
	return &Job{JID: jid, Minion: "web1", Fun: "test.ping", Issued: issued, Expires: expires}
}

func TestReplayGuard(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache", "jids")
	g, err := OpenReplayGuard(path)
	if err != nil {
		t.Fatal(err)
	}
	short := jobAt("j1", now, now.Add(time.Minute))
	long := jobAt("j2", now, now.Add(time.Hour))
	steps := []struct {
		name   string
		reopen bool
		job    *Job
		at     time.Time
		want   error
		file   []string // JIDs in the file afterwards
	}{
		{"first run", false, short, now, nil, []string{"j1"}},
		{"replay", false, short, now.Add(time.Second), ErrReplayed, []string{"j1"}},
		{"another job", false, long, now.Add(time.Second), nil, []string{"j1", "j2"}},
		{"replay after a restart", true, short, now.Add(2 * time.Second), ErrReplayed, []string{"j1", "j2"}},
		{"replay of the other after a restart", true, long, now.Add(2 * time.Second), ErrReplayed, []string{"j1", "j2"}},
		{"expired job", false, short, now.Add(time.Minute + ClockSkew + time.Second), ErrExpired, []string{"j1", "j2"}},
		{"new job prunes expired ones", false, jobAt("j3", now, now.Add(2*time.Hour)), now.Add(time.Minute + ClockSkew + time.Second), nil, []string{"j2", "j3"}},
		{"still guarded after pruning", true, long, now.Add(30 * time.Minute), ErrReplayed, []string{"j2", "j3"}},
		{"no job id", false, jobAt("", now, now.Add(time.Hour)), now, ErrMalformed, []string{"j2", "j3"}},
	}
	for _, s := range steps {
		if s.reopen {
			if g, err = OpenReplayGuard(path); err != nil {
				t.Fatalf("%s: reopen: %v", s.name, err)
			}
		}
		err := g.Check(s.job, s.at)
		if !errors.Is(err, s.want) || (err == nil) != (s.want == nil) {
			t.Fatalf("%s: Check = %v, want %v", s.name, err, s.want)
		}
		got := slices.Sorted(maps.Keys(guardFile(t, path)))
		if strings.Join(got, ",") != strings.Join(s.file, ",") {
			t.Fatalf("%s: file holds %v, want %v", s.name, got, s.file)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("guard file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("guard directory holds %d entries, want the file only", len(entries))
	}
}

func TestReplayGuardRefusesCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jids")
	if err := os.WriteFile(path, []byte(`{"j1": "yesterday"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReplayGuard(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("OpenReplayGuard error %v, want one naming %s", err, path)
	}
}

// TestReplayGuardFailsClosed checks that a job whose record cannot be written
// is refused and not remembered as seen.
func TestReplayGuardFailsClosed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	path := filepath.Join(dir, "jids")
	g, err := OpenReplayGuard(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	j := jobAt("j1", now, now.Add(time.Hour))
	if err := g.Check(j, now); err == nil || errors.Is(err, ErrReplayed) {
		t.Fatalf("Check without a place to record: %v, want a write error", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(j, now); err != nil {
		t.Fatalf("Check once the directory is back: %v", err)
	}
}

func TestReplayGuardConcurrent(t *testing.T) {
	g, err := OpenReplayGuard(filepath.Join(t.TempDir(), "jids"))
	if err != nil {
		t.Fatal(err)
	}
	j := jobAt("j1", now, now.Add(time.Hour))
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			switch err := g.Check(j, now); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrReplayed):
				replayed.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 7 {
		t.Fatalf("%d runs and %d replays, want 1 and 7", ok.Load(), replayed.Load())
	}
}
