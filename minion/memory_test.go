package minion

import (
	"bytes"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadonlyMappings(t *testing.T) {
	fixture, err := os.ReadFile("testdata/smaps")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		smaps        string
		major, minor uint32
		ino          uint64
		want         []mapping
		wantErr      string
	}{
		{
			name: "the executable's clean read-only private mappings only", smaps: string(fixture), major: 0xfe, ino: 247026,
			want: []mapping{{start: 0x400000, end: 0x410000, rss: 40 << 10}, {start: 0x410000, end: 0x420000, rss: 64 << 10}},
		},
		{name: "same inode on another device", smaps: string(fixture), major: 0xfd, minor: 1, ino: 247026,
			want: []mapping{{start: 0x7f0000010000, end: 0x7f0000020000, rss: 48 << 10}}},
		{name: "a file not mapped", smaps: string(fixture), major: 0xfe, ino: 1},
		{name: "empty", smaps: ""},
		{name: "bad range", smaps: "00400000-zz r-xp 00000000 fe:00 1 /x\nRss: 4 kB\n", major: 0xfe, ino: 1,
			wantErr: `line 1: bad address range "00400000-zz"`},
		{name: "bad inode", smaps: "00400000-00401000 r-xp 00000000 fe:00 x /x\n", wantErr: "line 1: bad device or inode"},
		{name: "short header", smaps: "00400000-00401000 r-xp 00000000\n", wantErr: "line 1: mapping header with 3 fields"},
		{name: "bad size", smaps: "00400000-00401000 r-xp 00000000 fe:00 1 /x\nRss: many kB\n", major: 0xfe, ino: 1,
			wantErr: `line 2: bad size "Rss: many kB"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readonlyMappings(strings.NewReader(tc.smaps), tc.major, tc.minor, tc.ino)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// statusKiB reads one "Name: N kB" line of /proc/self/status.
func statusKiB(t *testing.T, name string) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(l, name+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", name, rest, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", name)
	return 0
}

// TestReleaseMemory releases the test binary's own code pages: they leave
// the resident set, and the code runs on (its pages come back as used).
func TestReleaseMemory(t *testing.T) {
	before := statusKiB(t, "RssFile")
	freed, err := releaseMemory()
	if err != nil {
		t.Fatal(err)
	}
	after := statusKiB(t, "RssFile")
	if freed <= 0 {
		t.Fatalf("releaseMemory unmapped %d bytes of the executable", freed)
	}
	if after >= before {
		t.Errorf("RssFile %d KiB before releasing, %d KiB after (%d KiB unmapped)", before, after, freed>>10)
	}
	// What was unmapped still runs: a minion applies states.
	t.Run("state.apply", TestStateApply)
}

// lockedBuffer is a log destination safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// TestReleaseAfterJobs: a minion with ReleaseMemory releases memory once
// idle after start-up, and again after each job.
func TestReleaseAfterJobs(t *testing.T) {
	ms := newMaster(t, false)
	var logs lockedBuffer
	cfg := ms.minionConfig("rel", t.TempDir())
	cfg.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.ReleaseMemory = true
	mn, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "rel")
	runIt(t, mn)
	released := func() int { return logs.count(`msg="memory released"`) }
	waitFor(t, 4*releaseQuiet+10*time.Second, "memory released after start-up", func() bool { return released() >= 1 })
	for i := range 2 {
		j := ms.newJob("rel", "test.ping", nil, nil)
		ms.publish(j)
		if r := ms.waitReturn(j.JID, "rel"); !r.Success {
			t.Fatalf("test.ping: %s %s", r.Error, r.Return)
		}
		n := released()
		waitFor(t, 4*releaseQuiet+10*time.Second, "memory released after job "+strconv.Itoa(i+1), func() bool { return released() > n })
	}
	if logs.count("cannot release") != 0 {
		t.Errorf("release failed:\n%s", logs.buf.String())
	}
}
