package master

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/wire"
)

// The tests in this file attack a real master, on its real embedded bus,
// as an accepted minion would with nothing but its own key. Each one is a
// reproduction of a way one minion once could crash the master, wipe its
// job store, forge another minion's results or spoof its events.

// alive checks that the master still serves: its connection is up, and
// minion m2's fresh grains reach its cache.
func (tm *testMaster) alive(t *testing.T, m2 *testMinion, marker string) {
	t.Helper()
	if !tm.nc.IsConnected() {
		t.Fatalf("the master lost its bus connection: %v", tm.nc.LastError())
	}
	b, _ := json.Marshal(map[string]any{"marker": marker})
	m2.publish(t, bus.GrainsSubject(m2.id), "", b, nil)
	waitFor(t, "m2's grains with "+marker, func() bool {
		return tm.grains.get(m2.id)["marker"] == marker
	})
}

// TestMinionMessagesCannotCrashTheMaster: every kind of body on every
// subject a minion may publish to leaves the master serving.
func TestMinionMessagesCannotCrashTheMaster(t *testing.T) {
	tm := startTestMaster(t, config.Master{}, "")
	m1, m2 := tm.acceptedMinion(t, "m1"), tm.acceptedMinion(t, "m2")
	bodies := [][]byte{
		[]byte("null"), []byte("[]"), []byte(`"x"`), []byte("1"), []byte("{"), nil,
		[]byte(`{"id": null}`), []byte(`{"tag": 5, "data": "x", "time": "yesterday"}`),
		[]byte(`{"op": "read", "path": null}`), []byte(strings.Repeat("[", 100000)),
		[]byte(`{"grains": ` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + "}"),
	}
	subjects := []string{
		bus.GrainsSubject(m1.id),
		bus.EventSubject(m1.id, "start"),
		bus.EventSubject(m1.id, "job.started"),
		bus.FileSubject(m1.id),
		bus.ReturnSubject(job.NewJID(time.Now()), m1.id),
	}
	for i, subject := range subjects {
		for _, body := range bodies {
			m1.publish(t, subject, "", body, nil)
		}
		tm.alive(t, m2, "after "+subject+string(rune('a'+i)))
	}
	if got := tm.grains.get(m1.id); got != nil && got["id"] != m1.id {
		t.Errorf("m1's grains do not carry its id: %.200v", got)
	}
}

func TestDecodeGrains(t *testing.T) {
	for _, c := range []struct {
		body string
		ok   bool
	}{
		{`{"os": "Debian"}`, true},
		{`{}`, true},
		{`null`, false},
		{`[]`, false},
		{`"x"`, false},
		{`{`, false},
		{`{"pad": "` + strings.Repeat("x", bus.GrainsMaxSize) + `"}`, false},
	} {
		g, err := decodeGrains([]byte(c.body))
		if (err == nil) != c.ok || (err == nil && g == nil) {
			t.Errorf("decodeGrains(%.40q): %v, %v; want ok=%v", c.body, g != nil, err, c.ok)
		}
	}
}

// TestReplySubjectsCannotActForTheMaster: a minion choosing reply subjects
// that name the JetStream API or another minion's subjects gets nothing
// done with the master's rights, on any subject it may publish to.
func TestReplySubjectsCannotActForTheMaster(t *testing.T) {
	tm := startTestMaster(t, config.Master{}, "")
	m1, m2 := tm.acceptedMinion(t, "m1"), tm.acceptedMinion(t, "m2")
	tm.alive(t, m2, "before")
	ctx := context.Background()
	now := time.Now()
	jid := job.NewJID(now)
	if err := tm.saveJobInfo(ctx, jid, &runRequest{fun: "test.ping", target: "m2"}, []string{m2.id}, now); err != nil {
		t.Fatal(err)
	}
	genuine, _ := json.Marshal(job.Return{JID: jid, Minion: m2.id, Fun: "test.ping", Return: json.RawMessage(`true`), Success: true})
	if err := bus.PublishReturn(ctx, m2.js, jid, m2.id, genuine); err != nil {
		t.Fatal(err)
	}
	logged := make(chan *nats.Msg, 64)
	sub, err := tm.nc.ChanSubscribe(bus.LoggedEventSubject(bus.MasterID, ">"), logged)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	replies := []string{
		bus.ReturnSubject(jid, m2.id),
		bus.LoggedEventSubject(bus.MasterID, wire.TagKey),
		bus.JobSubject(m2.id),
		"$JS.API.STREAM.DELETE." + bus.ReturnStream,
		"$JS.API.STREAM.DELETE.KV_" + jobInfoBucket,
		"$JS.API.STREAM.PURGE." + bus.JobStream,
		"$JS.API.CONSUMER.DELETE." + bus.JobStream + "." + bus.ConsumerName(m2.id),
		bus.GrainsSubject(m2.id),
		"$KV." + bus.GrainsBucket + "." + strings.Repeat("x", 4000),
	}
	fileReq, _ := json.Marshal(wire.FileRequest{Op: wire.OpMasterKey})
	grains, _ := json.Marshal(map[string]any{"os": "Debian"})
	event, _ := json.Marshal(wire.Event{Tag: "start"})
	for _, reply := range replies {
		m1.publish(t, bus.FileSubject(m1.id), reply, fileReq, nil)
		m1.publish(t, bus.GrainsSubject(m1.id), reply, grains, nil)
		m1.publish(t, bus.EventSubject(m1.id, "start"), reply, event, nil)
		m1.publish(t, bus.AuthSubject(m1.id), reply, []byte("{}"), nil)
		// JetStream acknowledges a return on its reply subject.
		m1.publish(t, bus.ReturnSubject(job.NewJID(time.Now()), m1.id), reply, []byte(`{}`), nil)
	}
	// A job acknowledgement is answered on its reply subject too.
	ack := "$JS.ACK." + bus.JobStream + "." + bus.ConsumerName(m1.id) + ".1.1.1.1700000000000000000.0"
	for _, reply := range replies {
		m1.publish(t, ack, reply, nil, nil)
	}
	tm.alive(t, m2, "after")
	resp, err := tm.getJob(ctx, jid)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Returns) != 1 || string(resp.Returns[0].ReturnJson) != "true" {
		t.Errorf("m2's return was replaced: %v", resp.Returns)
	}
	select {
	case msg := <-logged:
		t.Errorf("an event was logged as the master's: %s %q", msg.Subject, msg.Data)
	default:
	}
	for _, stream := range []string{bus.ReturnStream, bus.JobStream, bus.EventStream, "KV_" + jobInfoBucket, "KV_" + bus.GrainsBucket} {
		if _, err := tm.js.Stream(ctx, stream); err != nil {
			t.Errorf("stream %s: %v", stream, err)
		}
	}
	if _, err := tm.js.PushConsumer(ctx, bus.JobStream, bus.ConsumerName(m2.id)); err != nil {
		t.Errorf("m2's job consumer: %v", err)
	}
	if g := tm.grains.get(m2.id); g["os"] != nil {
		t.Errorf("m2's grains were overwritten: %v", g)
	}
	lister, err := tm.grains.kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range lister.Keys() {
		if _, ok := bus.GrainsKeyID(k); !ok {
			t.Errorf("a key was planted in the grains bucket: %.40s...", k)
		}
	}
}

// TestPoisonedBucketsAreSkipped: entries no master would write (keys too
// long for a request, bodies that are not grains) are skipped with a log
// line: the master starts, lists its jobs and keeps its connection, and a
// job id too long for a request is refused before it reaches the bus.
func TestPoisonedBucketsAreSkipped(t *testing.T) {
	dir := t.TempDir()
	tm := startTestMaster(t, config.Master{}, dir)
	ctx := context.Background()
	long := strings.Repeat("k", 4000)
	if _, err := tm.grains.kv.Put(ctx, long, []byte(`{"os":"x"}`)); err != nil {
		t.Fatal(err)
	}
	for key, value := range map[string]string{"m9": "null", "m8": "[1]", "m7": `{"os":"Debian"}`} {
		if _, err := tm.grains.kv.Put(ctx, key, []byte(value)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tm.jobInfo.Put(ctx, long, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := tm.stop(); err != nil {
		t.Fatal(err)
	}

	tm = startTestMaster(t, config.Master{}, dir)
	if g := tm.grains.get("m7"); g["os"] != "Debian" || g["id"] != "m7" {
		t.Errorf("good grains entry: %v", g)
	}
	for _, id := range []string{"m8", "m9"} {
		if g := tm.grains.get(id); g != nil {
			t.Errorf("bad grains entry %s loaded: %v", id, g)
		}
	}
	if _, err := tm.listJobs(ctx, 0); err != nil {
		t.Fatalf("list jobs: %v", err)
	}
	_, err := tm.getJob(ctx, strings.Repeat("j", 5000))
	if !errors.Is(err, errBadJID) {
		t.Fatalf("a 5000-character job id: %v, want errBadJID", err)
	}
	if _, err := tm.listJobs(ctx, 0); err != nil || !tm.nc.IsConnected() {
		t.Fatalf("after the long job id: list %v, connected %v", err, tm.nc.IsConnected())
	}
}

// TestReturnsCannotBeForged: m1 sends a return that claims to be m2's and
// carries the message id m2's would have. The job cache keeps it as m1's,
// and m2's own return is stored, not dropped as a duplicate.
func TestReturnsCannotBeForged(t *testing.T) {
	tm := startTestMaster(t, config.Master{}, "")
	m1, m2 := tm.acceptedMinion(t, "m1"), tm.acceptedMinion(t, "m2")
	ctx := context.Background()
	now := time.Now()
	jid := job.NewJID(now)
	if err := tm.saveJobInfo(ctx, jid, &runRequest{fun: "test.ping", target: "*"}, []string{m1.id, m2.id}, now); err != nil {
		t.Fatal(err)
	}
	ret := func(minion, text string) []byte {
		b, _ := json.Marshal(job.Return{JID: jid, Minion: minion, Fun: "test.ping", Return: json.RawMessage(`"` + text + `"`), Success: true})
		return b
	}
	hdr := nats.Header{}
	hdr.Set(jetstream.MsgIDHeader, jid+"."+m2.id)
	if _, err := m1.js.PublishMsg(ctx, &nats.Msg{Subject: bus.ReturnSubject(jid, m1.id), Data: ret(m2.id, "FORGED BY m1"), Header: hdr}); err != nil {
		t.Fatal(err)
	}
	if err := bus.PublishReturn(ctx, m2.js, jid, m2.id, ret(m2.id, "genuine")); err != nil {
		t.Fatal(err)
	}
	// A return sent again after a lost acknowledgement is stored once.
	if err := bus.PublishReturn(ctx, m2.js, jid, m2.id, ret(m2.id, "genuine")); err != nil {
		t.Fatal(err)
	}
	resp, err := tm.getJob(ctx, jid)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range resp.Returns {
		if _, dup := got[r.Minion]; dup {
			t.Errorf("two returns of %s", r.Minion)
		}
		got[r.Minion] = string(r.ReturnJson)
	}
	if got[m2.id] != `"genuine"` || got[m1.id] != `"FORGED BY m1"` || len(got) != 2 {
		t.Fatalf("job cache: %v; want m2's genuine return, and m1's forgery filed as m1's", got)
	}
}

// TestEventsCannotBeSpoofed: an event's source and tag are the ones its
// subject names; a minion cannot speak for the master or another minion,
// and what it sends is bounded in size and rate.
func TestEventsCannotBeSpoofed(t *testing.T) {
	tm := startTestMaster(t, config.Master{}, "")
	m1, m2 := tm.acceptedMinion(t, "m1"), tm.acceptedMinion(t, "m2")
	logged := make(chan *nats.Msg, 1<<16)
	sub, err := tm.nc.ChanSubscribe(bus.AllLogged, logged)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := tm.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	spoof, _ := json.Marshal(wire.Event{Tag: wire.TagKey, Source: bus.MasterID, Data: map[string]any{"id": m2.id, "state": "rejected"}})
	m1.publish(t, bus.EventSubject(m1.id, wire.TagKey), "", spoof, nil)
	for _, subject := range []string{bus.LoggedEventSubject(bus.MasterID, wire.TagKey), bus.LoggedEventSubject(m2.id, wire.TagKey)} {
		m1.publish(t, subject, "", spoof, nil)
	}
	select {
	case msg := <-logged:
		source, tag, ok := bus.ParseLoggedEventSubject(msg.Subject)
		var ev wire.Event
		if !ok || json.Unmarshal(msg.Data, &ev) != nil || source != m1.id || tag != wire.TagKey || ev.Source != m1.id {
			t.Fatalf("logged %s %s: want it from m1", msg.Subject, msg.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("m1's event was not logged")
	}
	waitFor(t, "the permission violations", func() bool {
		n := 0
		for _, err := range m1.errs.all() {
			if errors.Is(err, nats.ErrPermissionViolation) {
				n++
			}
		}
		return n >= 2
	})

	// 1,000 events of 1 MB, then 5,000 small ones: the first are refused
	// by the bus's size limit, the others logged at m1's rate, and the
	// event store stays small.
	big := make([]byte, 1<<20)
	for range 1000 {
		if err := m1.nc.Publish(bus.EventSubject(m1.id, "flood"), big); err != nil {
			break // the connection refuses payloads over its limit: also fine
		}
	}
	small, _ := json.Marshal(wire.Event{Tag: "flood", Data: map[string]any{"pad": strings.Repeat("x", 1000)}})
	for range 5000 {
		m1.publish(t, bus.EventSubject(m1.id, "flood"), "", small, nil)
	}
	tm.alive(t, m2, "after the flood")
	s, err := tm.js.Stream(context.Background(), bus.EventStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(bus.LoggedEventSubject(m1.id, "flood")))
	if err != nil {
		t.Fatal(err)
	}
	n := info.State.Subjects[bus.LoggedEventSubject(m1.id, "flood")]
	if n == 0 || n > eventBurst+eventRate*60 {
		t.Fatalf("%d of m1's 6,000 flood events logged; want some, at most its burst and rate", n)
	}
	if info.State.Bytes > 16<<20 {
		t.Fatalf("event store holds %d bytes after the flood", info.State.Bytes)
	}
	// m2 was not slowed: its own event is logged.
	ev, _ := json.Marshal(wire.Event{Tag: "start"})
	m2.publish(t, bus.EventSubject(m2.id, "start"), "", ev, nil)
	waitFor(t, "m2's event", func() bool {
		for {
			select {
			case msg := <-logged:
				if src, _, _ := bus.ParseLoggedEventSubject(msg.Subject); src == m2.id {
					return true
				}
			default:
				return false
			}
		}
	})
}

// TestRenderLimitsFromConfig: the master's jinja_max_* keys reach its
// compiles, and a recipe over one fails naming the key to raise.
func TestRenderLimitsFromConfig(t *testing.T) {
	tree := t.TempDir()
	for name, text := range map[string]string{
		"top.sls":  "base:\n  '*':\n    - loop\n",
		"loop.sls": "{% for i in range(100) %}\ns{{ i }}:\n  test.nop: []\n{% endfor %}\n",
	} {
		if err := os.WriteFile(filepath.Join(tree, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		steps   int
		wantErr string
	}{
		{0, ""},
		{10, "over the limit of 10 loop iterations, macro calls and includes per render (raise jinja_max_steps)"},
	} {
		tm := startTestMaster(t, config.Master{FileRoots: config.Roots{tree}, JinjaMaxSteps: c.steps}, "")
		_, err := modules.Call(context.Background(), tm.runtimeFor("m1"), "state.show_sls", []any{"loop"}, nil)
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("jinja_max_steps %d: %v, want %q", c.steps, err, c.wantErr)
		}
		if err := tm.stop(); err != nil {
			t.Fatal(err)
		}
	}
}
