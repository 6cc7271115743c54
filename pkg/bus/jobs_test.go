package bus

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestJobsReachOnlyTheirMinion(t *testing.T) {
	f := newFixture(t, "")
	a := mustConnect(t, f.srv, f.aID, f.aKey, true)
	aJobs := subscribe(t, a.nc, DeliverSubject(f.aID))

	if err := PublishJob(f.ctx, f.js, f.aID, []byte("job-for-a"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := PublishJob(f.ctx, f.js, f.bID, []byte("job-for-b"), time.Minute); err != nil {
		t.Fatal(err)
	}
	m := aJobs.next(t, 3*time.Second)
	if string(m.Data) != "job-for-a" {
		t.Fatalf("minion a got %q, want its own job", m.Data)
	}
	if err := m.Respond(nil); err != nil { // an empty reply on the ack subject is an ack
		t.Fatal(err)
	}
	aJobs.quiet(t, 300*time.Millisecond)

	// The acknowledged job is gone from the work queue; b's waits for b.
	waitConsumer(t, f, f.aID, func(ci *jetstream.ConsumerInfo) bool { return ci.NumAckPending == 0 && ci.NumPending == 0 })
	waitConsumer(t, f, f.bID, func(ci *jetstream.ConsumerInfo) bool { return ci.NumPending == 1 })

	// b was offline: it gets its job when it subscribes.
	b := mustConnect(t, f.srv, f.bID, f.bKey, true)
	bJobs := subscribe(t, b.nc, DeliverSubject(f.bID))
	m = bJobs.next(t, 3*time.Second)
	if string(m.Data) != "job-for-b" {
		t.Fatalf("minion b got %q, want its own job", m.Data)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	if a.errs.count() != 0 || b.errs.count() != 0 {
		t.Fatalf("allowed operations raised errors: a %v, b %v", a.errs.errs, b.errs.errs)
	}
}

func TestJobTTLExpires(t *testing.T) {
	f := newFixture(t, "")
	if err := PublishJob(f.ctx, f.js, f.aID, []byte("short-lived"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := PublishJob(f.ctx, f.js, f.aID, []byte("long-lived"), time.Hour); err != nil {
		t.Fatal(err)
	}
	waitConsumer(t, f, f.aID, func(ci *jetstream.ConsumerInfo) bool { return ci.NumPending == 1 })

	a := mustConnect(t, f.srv, f.aID, f.aKey, true)
	jobs := subscribe(t, a.nc, DeliverSubject(f.aID))
	if m := jobs.next(t, 3*time.Second); string(m.Data) != "long-lived" {
		t.Fatalf("got %q, want only the job that has not expired", m.Data)
	}
	jobs.quiet(t, 300*time.Millisecond)
}

func TestPublishJobRejectsBadInput(t *testing.T) {
	f := newFixture(t, "")
	tests := []struct {
		name string
		id   string
		ttl  time.Duration
	}{
		{"ttl under a second", f.aID, 500 * time.Millisecond},
		{"wildcard id", "a.*", time.Minute},
		{"master id", MasterID, time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := PublishJob(f.ctx, f.js, tc.id, []byte("x"), tc.ttl); err == nil {
				t.Fatal("published")
			}
		})
	}
}

func TestConsumerLifecycle(t *testing.T) {
	f := newFixture(t, "")
	// Idempotent set-up and consumer creation.
	if err := SetupStreams(f.ctx, f.js, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := EnsureMinionConsumer(f.ctx, f.js, f.aID); err != nil {
		t.Fatal(err)
	}
	ci := consumerInfo(t, f, f.aID)
	if ci.Config.DeliverSubject != DeliverSubject(f.aID) || ci.Config.FilterSubject != JobSubject(f.aID) || ci.Config.AckPolicy != jetstream.AckExplicitPolicy {
		t.Fatalf("consumer config: %+v", ci.Config)
	}
	st, err := f.js.Stream(f.ctx, ReturnStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().Config.MaxAge; got != 2*time.Hour {
		t.Fatalf("returns MaxAge %s after update, want 2h", got)
	}
	if _, err := f.js.KeyValue(f.ctx, GrainsBucket); err != nil {
		t.Fatalf("grains bucket: %v", err)
	}

	if err := RemoveMinionConsumer(f.ctx, f.js, f.aID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.js.PushConsumer(f.ctx, JobStream, ConsumerName(f.aID)); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("consumer still there: %v", err)
	}
	if err := RemoveMinionConsumer(f.ctx, f.js, f.aID); err != nil {
		t.Fatalf("removing a missing consumer: %v", err)
	}
}

func TestReturnsGrainsFilesAndReplies(t *testing.T) {
	f := newFixture(t, "")
	a := mustConnect(t, f.srv, f.aID, f.aKey, true)
	js, err := jetstream.New(a.nc)
	if err != nil {
		t.Fatal(err)
	}

	// A return is a JetStream publish: acknowledged, stored once.
	for range 2 {
		if err := PublishReturn(f.ctx, js, "20260101120000000001", f.aID, []byte(`{"ret":true}`)); err != nil {
			t.Fatalf("minion return: %v", err)
		}
	}
	st, err := f.js.Stream(f.ctx, ReturnStream)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetLastMsgForSubject(f.ctx, ReturnSubject("20260101120000000001", f.aID))
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != `{"ret":true}` {
		t.Fatalf("stored return %q", msg.Data)
	}
	if info, _ := st.Info(f.ctx); info.State.Msgs != 1 {
		t.Fatalf("%d returns stored, want 1 (the duplicate is dropped)", info.State.Msgs)
	}

	// Grains and events reach the master.
	grains := subscribe(t, f.admin.nc, AllGrains)
	events := subscribe(t, f.admin.nc, AllEvents)
	if err := a.nc.Publish(GrainsSubject(f.aID), []byte(`{"os":"Debian"}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.nc.Publish(EventSubject(f.aID, "state.drift"), []byte("drift")); err != nil {
		t.Fatal(err)
	}
	if id, ok := SubjectID(grains.next(t, 2*time.Second).Subject); !ok || id != f.aID {
		t.Fatalf("grains from %q", id)
	}
	if id, tag, ok := ParseEventSubject(events.next(t, 2*time.Second).Subject); !ok || id != f.aID || tag != "state.drift" {
		t.Fatalf("event from %q tag %q", id, tag)
	}

	// File server: the minion asks on its own subject, the answer comes to its own inbox.
	fsSub, err := f.admin.nc.Subscribe(AllFiles, func(m *nats.Msg) {
		id, _ := SubjectID(m.Subject)
		_ = m.Respond([]byte("contents for " + id))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fsSub.Unsubscribe()
	if err := f.admin.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	reply, err := a.nc.Request(FileSubject(f.aID), []byte("salt://motd"), 2*time.Second)
	if err != nil {
		t.Fatalf("file request: %v", err)
	}
	if string(reply.Data) != "contents for "+f.aID {
		t.Fatalf("file reply %q", reply.Data)
	}

	// The master may send the minion a job directly, without the store.
	direct := subscribe(t, a.nc, DeliverSubject(f.aID))
	if err := f.admin.nc.Publish(DeliverSubject(f.aID), []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if m := direct.next(t, 2*time.Second); string(m.Data) != "ping" {
		t.Fatalf("direct job %q", m.Data)
	}
	if a.errs.count() != 0 {
		t.Fatalf("allowed operations raised errors: %v", a.errs.errs)
	}
}

func waitConsumer(t *testing.T, f *fixture, id string, ok func(*jetstream.ConsumerInfo) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var ci *jetstream.ConsumerInfo
	for time.Now().Before(deadline) {
		if ci = consumerInfo(t, f, id); ok(ci) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("consumer of %s: pending %d, ack pending %d", id, ci.NumPending, ci.NumAckPending)
}

func consumerInfo(t *testing.T, f *fixture, id string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := f.js.PushConsumer(f.ctx, JobStream, ConsumerName(id))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := c.Info(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ci
}
