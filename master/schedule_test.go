package master

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/wire"
	"github.com/brinecm/brine/proto/brinepb"
)

// scheduleTree writes a state tree whose motd carries the minion's pillar
// secret, and a pillar that gives web1 alone a secret.
func scheduleTree(t *testing.T) config.Master {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"srv/top.sls":       "base:\n  '*':\n    - motd\n  'broken*':\n    - broken\n",
		"srv/motd.sls":      "motd:\n  file.managed:\n    - name: /tmp/brine-motd\n    - contents: \"{{ pillar.get('secret', 'none') }}\"\n",
		"srv/broken.sls":    "broken:\n  file.nowhere:\n    - name: /tmp/x\n",
		"pillar/top.sls":    "base:\n  'web1':\n    - secret\n",
		"pillar/secret.sls": "secret: s3cret\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return config.Master{FileRoots: config.Roots{filepath.Join(dir, "srv")}, PillarRoots: config.Roots{filepath.Join(dir, "pillar")}}
}

func compileRequest(t *testing.T, fun string) []byte {
	t.Helper()
	b, err := json.Marshal(wire.FileRequest{Op: wire.OpCompile, Fun: fun})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCompileForMinion: a minion asking for its compiled highstate gets
// its own states and pillar, signed by the master's key; another minion
// asking on its own subject never gets the first one's pillar; a recipe
// that does not compile is answered with its errors.
func TestCompileForMinion(t *testing.T) {
	tm, mns := startFileMaster(t, scheduleTree(t), "web1", "web2", "broken1")
	now := time.Now()
	for id, secret := range map[string]string{"web1": "s3cret", "web2": ""} {
		resp := fileRequest(t, mns[id], compileRequest(t, "state.highstate"))
		if resp.Error != "" {
			t.Fatalf("%s: %s", id, resp.Error)
		}
		j, err := job.Open(resp.Data, tm.PublicKey(), id, now)
		if err != nil {
			t.Fatalf("%s: the compiled highstate does not open as a job from this master: %v", id, err)
		}
		var lows []sls.Low
		if err := json.Unmarshal(j.Lows, &lows); err != nil || len(lows) != 1 || lows[0].ID != "motd" {
			t.Fatalf("%s: lows %s (%v)", id, j.Lows, err)
		}
		if got, _ := j.Pillar["secret"].(string); got != secret || j.Fun != "state.highstate" || j.Minion != id {
			t.Errorf("%s: job %s for %s with pillar %v, want secret %q", id, j.Fun, j.Minion, j.Pillar, secret)
		}
		if _, err := job.Open(resp.Data, tm.PublicKey(), "web3", now); err == nil {
			t.Errorf("%s's compiled highstate opens for another minion", id)
		}
	}
	if resp := fileRequest(t, mns["broken1"], compileRequest(t, "state.highstate")); len(resp.CompileErrors) == 0 ||
		!strings.Contains(strings.Join(resp.CompileErrors, "\n"), "nowhere") || len(resp.Data) > 0 {
		t.Errorf("broken recipe: %+v", resp)
	}
	if resp := fileRequest(t, mns["web1"], compileRequest(t, "cmd.run")); !strings.Contains(resp.Error, "only state.highstate") || len(resp.Data) > 0 {
		t.Errorf("compile of cmd.run: %+v", resp)
	}
}

// TestOriginFiled: the first return of a job a minion ran on its own
// files that job in the job cache with its origin, once; returns without
// a known origin file nothing.
func TestOriginFiled(t *testing.T) {
	tm, mns := startFileMaster(t, config.Master{}, "web1")
	mn := mns["web1"]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send := func(jid, origin string) {
		t.Helper()
		b, _ := json.Marshal(job.Return{JID: jid, Minion: "web1", Fun: "state.highstate", Return: json.RawMessage(`{}`),
			Success: true, Origin: origin, Started: time.Now().UTC(), Finished: time.Now().UTC()})
		if err := bus.PublishReturn(ctx, mn.js, jid, "web1", b); err != nil {
			t.Fatal(err)
		}
	}
	scheduled := job.NewJID(time.Now())
	send(scheduled, job.OriginSchedule)
	send(scheduled, job.OriginSchedule) // sent again after a lost acknowledgement
	plain, odd := job.NewJID(time.Now()), job.NewJID(time.Now())
	send(plain, "")
	send(odd, "made-up")
	var jobs []*brinepb.JobSummary
	waitFor(t, "the scheduled job in the job cache", func() bool {
		var err error
		jobs, err = tm.listJobs(ctx, 0)
		return err == nil && len(jobs) > 0
	})
	// The other two returns went through the same subscription before
	// the last one: none of them was filed.
	last := job.NewJID(time.Now())
	send(last, job.OriginDrift)
	waitFor(t, "the drift job in the job cache", func() bool {
		jobs, _ = tm.listJobs(ctx, 0)
		return len(jobs) >= 2
	})
	got := map[string]*brinepb.JobSummary{}
	for _, j := range jobs {
		got[j.Jid] = j
	}
	s := got[scheduled]
	if len(jobs) != 2 || s == nil || got[last] == nil {
		t.Fatalf("job cache holds %v, want %s and %s alone", jobs, scheduled, last)
	}
	if s.Origin != job.OriginSchedule || s.Target != "web1" || s.Fun != "state.highstate" || s.Returned != 1 ||
		len(s.Minions) != 1 || s.Minions[0] != "web1" || got[last].Origin != job.OriginDrift {
		t.Errorf("filed jobs %v", jobs)
	}
}

// TestMasterSchedule: the master's schedule publishes its function to its
// target as the CLI would, with origin schedule; a bad entry is skipped.
func TestMasterSchedule(t *testing.T) {
	var doc struct {
		Schedule yaml.Node `yaml:"schedule"`
	}
	if err := yaml.Unmarshal([]byte(`schedule:
  ping:
    function: test.ping
    seconds: 1
    target: web*
  notarget:
    function: test.ping
    seconds: 1
`), &doc); err != nil {
		t.Fatal(err)
	}
	cfg := config.Master{Schedule: doc.Schedule}
	tm, mns := startFileMaster(t, cfg, "web1")
	// web1 answers its jobs as a minion does: here, it only returns.
	sub, err := mns["web1"].nc.Subscribe(bus.DeliverSubject("web1"), func(msg *nats.Msg) {
		j, err := job.Open(msg.Data, tm.PublicKey(), "web1", time.Now())
		if err != nil {
			t.Errorf("scheduled job: %v", err)
			return
		}
		if msg.Reply != "" {
			_ = msg.Ack()
		}
		b, _ := json.Marshal(job.Return{JID: j.JID, Minion: "web1", Fun: j.Fun, Return: json.RawMessage("true"), Success: true})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := bus.PublishReturn(ctx, mns["web1"].js, j.JID, "web1", b); err != nil {
			t.Errorf("return: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var jobs []*brinepb.JobSummary
	waitFor(t, "two scheduled jobs returned by web1", func() bool {
		jobs, _ = tm.listJobs(context.Background(), 0)
		n := 0
		for _, j := range jobs {
			if j.Origin == job.OriginSchedule && j.Fun == "test.ping" && j.Target == "web*" && j.Returned == 1 {
				n++
			}
		}
		return n >= 2
	})
	for _, j := range jobs {
		if j.Origin != job.OriginSchedule || j.Target != "web*" {
			t.Errorf("job %v: not from the schedule's ping entry", j)
		}
	}
}
