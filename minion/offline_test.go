package minion

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/sls"
)

// twoFiles is a compiled highstate of two file.managed states under root;
// b requires a.
func twoFiles(t *testing.T, root string) json.RawMessage {
	t.Helper()
	lows := []sls.Low{
		{ID: "a", Name: filepath.Join(root, "a"), Module: "file", Fun: "managed", SLS: "files", Env: "base",
			Args: map[string]any{"contents": "A"}, Index: 0},
		{ID: "b", Name: filepath.Join(root, "b"), Module: "file", Fun: "managed", SLS: "files", Env: "base",
			Args: map[string]any{"contents": "B"}, Reqs: []sls.Req{{Kind: "require", Module: "file", Target: "a"}}, Index: 1},
	}
	data, err := json.Marshal(lows)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestApplyCached: a highstate from the master is cached as it was signed
// (0600); ApplyCached then applies only the states asked for, as a job of
// the minion's own whose return reaches the job cache with its origin.
func TestApplyCached(t *testing.T) {
	ms := newMaster(t, false)
	dir := t.TempDir()
	mn, err := New(ms.minionConfig("web1", dir))
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "web1")
	runIt(t, mn)

	root := t.TempDir()
	j := ms.newJob("web1", "state.highstate", nil, nil)
	j.Lows, j.Pillar = twoFiles(t, root), map[string]any{"secret": "s3"}
	ms.publish(j)
	if r := ms.waitReturn(j.JID, "web1"); r.Retcode != 0 {
		t.Fatalf("highstate: retcode %d: %s %s", r.Retcode, r.Error, r.Return)
	}
	st, err := os.Stat(filepath.Join(dir, signedHighstateFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cached highstate: %v, %v (want mode 0600)", st, err)
	}

	// Both files drift; only b is corrected.
	for _, f := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("edited"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ret, err := mn.ApplyCached(ctx, []string{"b"}, job.OriginDrift, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := decodeHighstate(t, ret)
	if len(hs) != 1 || hs["file_|-b_|-"+filepath.Join(root, "b")+"_|-managed"]["result"] != true {
		t.Fatalf("ApplyCached ran %v, want b alone, succeeded", hs)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "b")); string(got) != "B\n" {
		t.Errorf("b is %q, want it corrected to B", got)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "a")); string(got) != "edited" {
		t.Errorf("a is %q: a state not asked for ran", got)
	}
	cached := ms.waitReturn(ret.JID, "web1")
	if cached.Origin != job.OriginDrift || cached.Retcode != 0 {
		t.Errorf("job cache return: origin %q retcode %d", cached.Origin, cached.Retcode)
	}
	if started := ms.waitEvent("job.started", ret.JID); started.Data["origin"] != job.OriginDrift {
		t.Errorf("job.started event %+v has no drift origin", started)
	}

	if _, err := mn.ApplyCached(ctx, []string{"nope"}, job.OriginDrift, nil); err == nil || !strings.Contains(err.Error(), "none of the states nope") {
		t.Errorf("ApplyCached of an unknown ID: %v", err)
	}
}

// TestOpenCached: the cached highstate is accepted expired, but never with
// a bad signature, another signer or for another minion.
func TestOpenCached(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	now := time.Now().UTC()
	old := &job.Job{JID: job.NewJID(now), Minion: "web1", Fun: "state.highstate", Lows: json.RawMessage(`[]`),
		Issued: now.Add(-72 * time.Hour), Expires: now.Add(-71 * time.Hour)}
	sign := func(k nkeys.KeyPair, j *job.Job) []byte {
		data, err := job.Sign(k, j)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	good := sign(kp, old)
	if _, err := job.Open(good, pub, "web1", now); !errors.Is(err, job.ErrExpired) {
		t.Fatalf("the test job should be expired for a job: %v", err)
	}
	if j, err := openCached(good, pub, "web1", now); err != nil || j.JID != old.JID {
		t.Errorf("expired cached highstate refused: %v", err)
	}
	var env job.Signed
	if err := json.Unmarshal(good, &env); err != nil {
		t.Fatal(err)
	}
	env.Signature[0] ^= 1
	tampered, _ := json.Marshal(env)
	forOther := *old
	forOther.Minion = "web2"
	future := *old
	future.Issued, future.Expires = now.Add(time.Hour), now.Add(2*time.Hour)
	for name, c := range map[string]struct {
		data []byte
		want error
	}{
		"tampered":      {tampered, job.ErrBadSignature},
		"other signer":  {sign(other, old), job.ErrWrongSigner},
		"other minion":  {sign(kp, &forOther), job.ErrWrongMinion},
		"issued later":  {sign(kp, &future), job.ErrIssuedInFuture},
		"not a job":     {[]byte("{}"), job.ErrUnsigned},
		"truncated":     {good[:len(good)/2], job.ErrMalformed},
		"empty payload": {[]byte(`{"payload":"","sig":"AA==","signer":"` + pub + `"}`), job.ErrBadSignature},
	} {
		if _, err := openCached(c.data, pub, "web1", now); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func TestRestrict(t *testing.T) {
	lows := twoFiles(t, "/r")
	out, err := restrict(lows, []string{"b"})
	if err != nil {
		t.Fatal(err)
	}
	var kept []sls.Low
	if err := json.Unmarshal(out, &kept); err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || kept[0].ID != "b" || len(kept[0].Reqs) != 0 {
		t.Errorf("restrict to b: %+v (its requisite on a, left out, must go)", kept)
	}
	out, _ = restrict(lows, []string{"a", "b"})
	kept = nil
	_ = json.Unmarshal(out, &kept)
	if len(kept) != 2 || len(kept[1].Reqs) != 1 {
		t.Errorf("restrict to a and b: %+v (b keeps its requisite on a)", kept)
	}
}

// TestScheduleSources: the schedule is the configuration file's entries,
// plus the pillar's of the cached highstate (the file's win on a name),
// plus schedule.add's, minus schedule.delete's, which last across restarts.
func TestScheduleSources(t *testing.T) {
	ms := newMaster(t, false)
	dir := t.TempDir()
	cfgFile := filepath.Join(t.TempDir(), "minion.yaml")
	if err := os.WriteFile(cfgFile, []byte("schedule:\n  cfg:\n    function: test.ping\n    hours: 1\n  both:\n    function: test.ping\n    hours: 2\n  bad:\n    function: test.ping\n    minutes: -1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := ms.minionConfig("web1", dir)
	cfg.ConfigFile = cfgFile
	mn, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "web1")
	r := runIt(t, mn)
	j := ms.newJob("web1", "state.highstate", nil, nil)
	j.Lows, j.Pillar = json.RawMessage("[]"), map[string]any{"schedule": map[string]any{
		"both": map[string]any{"function": "test.ping", "minutes": 5},
		"pil":  map[string]any{"function": "test.ping", "minutes": 5},
	}}
	ms.publish(j)
	ms.waitReturn(j.JID, "web1")
	names := func(m *Minion) map[string]time.Duration {
		out := map[string]time.Duration{}
		for _, st := range m.sched.runner.List() {
			out[st.Entry.Name] = st.Entry.Every
		}
		return out
	}
	got := names(mn)
	if len(got) != 3 || got["cfg"] != time.Hour || got["both"] != 2*time.Hour || got["pil"] != 5*time.Minute {
		t.Fatalf("schedule %v, want cfg and both from the file, pil from pillar", got)
	}
	list := mn.scheduleAPI().List()
	if errs, _ := list["errors"].([]string); len(errs) != 1 || !strings.Contains(errs[0], `minion.yaml:8: schedule entry "bad"`) {
		t.Errorf("schedule.list errors %v", list["errors"])
	}
	api := mn.scheduleAPI()
	if err := api.Add("added", map[string]any{"function": "test.ping", "seconds": 30}); err != nil {
		t.Fatal(err)
	}
	if err := api.Add("wrong", map[string]any{"function": "test.ping", "seconds": -3}); err == nil || !strings.Contains(err.Error(), `"wrong"`) {
		t.Errorf("schedule.add of a bad entry: %v", err)
	}
	if err := api.Delete("cfg"); err != nil {
		t.Fatal(err)
	}
	if err := api.Delete("cfg"); err == nil {
		t.Error("deleted cfg twice")
	}
	r.stop(t)

	// Restarted, the minion keeps what was added and deleted.
	mn2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runIt(t, mn2)
	waitFor(t, 10*time.Second, "the restarted minion's schedule", func() bool { return len(names(mn2)) == 3 })
	got = names(mn2)
	if _, ok := got["cfg"]; ok || got["added"] != 30*time.Second || got["pil"] != 5*time.Minute {
		t.Errorf("schedule after restart %v, want added and without cfg", got)
	}
}
