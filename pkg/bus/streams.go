package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Retention limits of the streams.
const (
	// MaxJobAge bounds how long any job waits for its minion, whatever its TTL.
	MaxJobAge = 7 * 24 * time.Hour
	// EventsMaxAge is how long events are kept (less when returns are kept less).
	EventsMaxAge = 24 * time.Hour
	// JobAckWait is how long a minion has to acknowledge a delivered job
	// before it is delivered again.
	JobAckWait = 30 * time.Second
	// dupWindow is the return stream's duplicate window. No return carries
	// a message id (one minion could set another's), so it guards nothing;
	// a return published twice replaces itself instead (one message per
	// subject, and only its minion may publish on that subject).
	dupWindow = 2 * time.Minute
	// EventMaxSize is the largest event the bus keeps.
	EventMaxSize = 64 << 10
	// GrainsMaxSize is the largest grains document the bus keeps.
	GrainsMaxSize = 1 << 20
)

// Disk limits of the streams and buckets at most: the oldest messages go
// once a stream is full, so no minion can fill the master's disk. They
// shrink to fit when JetStream has less room (see fitLimits).
const (
	JobsMaxBytes    = 1 << 30
	ReturnsMaxBytes = 4 << 30
	EventsMaxBytes  = 512 << 20
	GrainsMaxBytes  = 512 << 20
	JobInfoMaxBytes = 256 << 20
)

// SetupStreams creates or updates the job, return and event streams and the
// grains bucket; it is idempotent. returnsMaxAge is the job cache retention
// (0 keeps returns forever).
func SetupStreams(ctx context.Context, js jetstream.JetStream, returnsMaxAge time.Duration) error {
	return SetupReplicatedStreams(ctx, js, returnsMaxAge, 1)
}

// SetupReplicatedStreams is SetupStreams for a cluster: each stream and
// bucket keeps replicas copies (on as many servers), or more when it has
// more already: a master that sees fewer servers for a while never scales
// the fleet's streams down.
func SetupReplicatedStreams(ctx context.Context, js jetstream.JetStream, returnsMaxAge time.Duration, replicas int) error {
	if replicas < 1 {
		return fmt.Errorf("set up streams: %d replicas", replicas)
	}
	if returnsMaxAge < 0 {
		return fmt.Errorf("set up streams: negative job cache retention %s", returnsMaxAge)
	}
	eventsAge := EventsMaxAge
	if returnsMaxAge > 0 && returnsMaxAge < eventsAge {
		eventsAge = returnsMaxAge
	}
	dups := dupWindow
	if returnsMaxAge > 0 && returnsMaxAge < dups {
		dups = returnsMaxAge
	}
	lim := fitLimits(ctx, js)
	streams := []jetstream.StreamConfig{
		{
			Name:        JobStream,
			Description: "brine jobs waiting for their minion",
			Subjects:    []string{AllJobs},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.WorkQueuePolicy,
			MaxAge:      MaxJobAge,
			AllowMsgTTL: true,
			MaxMsgSize:  MaxPayload,
			MaxBytes:    lim.jobs,
			Discard:     jetstream.DiscardNew,
		},
		{
			Name:        ReturnStream,
			Description: "brine job cache: every minion's return",
			Subjects:    []string{AllReturns},
			Storage:     jetstream.FileStorage,
			MaxAge:      returnsMaxAge,
			Duplicates:  dups,
			MaxMsgSize:  MaxPayload,
			MaxBytes:    lim.returns,
			Discard:     jetstream.DiscardOld,
			// One return per job and minion: a minion sending its return
			// again after a lost acknowledgement replaces it.
			MaxMsgsPerSubject: 1,
		},
		{
			Name:        EventStream,
			Description: "brine minion and master events",
			Subjects:    []string{AllLogged},
			Storage:     jetstream.FileStorage,
			MaxAge:      eventsAge,
			MaxMsgSize:  EventMaxSize,
			MaxBytes:    lim.events,
			Discard:     jetstream.DiscardOld,
		},
	}
	for _, cfg := range streams {
		cfg.Replicas = KeepReplicas(ctx, js, cfg.Name, replicas)
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("set up stream %s: %w", cfg.Name, err)
		}
	}
	_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:       GrainsBucket,
		Description:  "brine: latest grains of each minion",
		History:      1,
		Storage:      jetstream.FileStorage,
		MaxValueSize: GrainsMaxSize,
		MaxBytes:     lim.grains,
		Replicas:     KeepReplicas(ctx, js, "KV_"+GrainsBucket, replicas),
	})
	if err != nil {
		return fmt.Errorf("set up bucket %s: %w", GrainsBucket, err)
	}
	return nil
}

// KeepReplicas is the replica count to create or update stream name with:
// replicas, or more when the stream has more already.
func KeepReplicas(ctx context.Context, js jetstream.JetStream, name string, replicas int) int {
	if s, err := js.Stream(ctx, name); err == nil {
		return max(replicas, s.CachedInfo().Config.Replicas)
	}
	return replicas
}

// limits are the disk limits SetupStreams gives the streams and buckets.
type limits struct{ jobs, returns, events, grains, jobInfo int64 }

// fitLimits scales the disk limits down when JetStream's storage limit
// cannot hold them all (with a tenth to spare), since JetStream refuses a
// stream whose limit it cannot reserve. Without an answer it keeps them.
func fitLimits(ctx context.Context, js jetstream.JetStream) limits {
	lim := limits{JobsMaxBytes, ReturnsMaxBytes, EventsMaxBytes, GrainsMaxBytes, JobInfoMaxBytes}
	info, err := js.AccountInfo(ctx)
	if err != nil || info.Limits.MaxStore <= 0 {
		return lim
	}
	total := lim.jobs + lim.returns + lim.events + lim.grains + lim.jobInfo
	room := info.Limits.MaxStore - info.Limits.MaxStore/10
	if total <= room {
		return lim
	}
	scale := func(n int64) int64 { return max(int64(float64(n)*float64(room)/float64(total)), 1<<20) }
	return limits{scale(lim.jobs), scale(lim.returns), scale(lim.events), scale(lim.grains), scale(lim.jobInfo)}
}

// JobInfoLimit is the disk limit of a master's job information bucket,
// scaled as SetupStreams scales the others.
func JobInfoLimit(ctx context.Context, js jetstream.JetStream) int64 {
	return fitLimits(ctx, js).jobInfo
}

// EnsureMinionConsumer creates (or updates) minion id's durable push consumer:
// it delivers the jobs published on JobSubject(id) to DeliverSubject(id)
// while the minion is subscribed, and keeps them while it is not.
func EnsureMinionConsumer(ctx context.Context, js jetstream.JetStream, id string) error {
	if err := ValidID(id); err != nil {
		return fmt.Errorf("create job consumer: %w", err)
	}
	_, err := js.CreateOrUpdatePushConsumer(ctx, JobStream, jetstream.ConsumerConfig{
		Durable:        ConsumerName(id),
		Description:    "jobs of minion " + id,
		DeliverSubject: DeliverSubject(id),
		FilterSubject:  JobSubject(id),
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        JobAckWait,
	})
	if err != nil {
		return fmt.Errorf("create job consumer for %s: %w", id, err)
	}
	return nil
}

// RemoveMinionConsumer deletes minion id's job consumer; a missing consumer is no error.
func RemoveMinionConsumer(ctx context.Context, js jetstream.JetStream, id string) error {
	err := js.DeleteConsumer(ctx, JobStream, ConsumerName(id))
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("remove job consumer for %s: %w", id, err)
	}
	return nil
}

// PublishJob stores a signed job for minion id; it disappears after ttl (at
// least one second) if the minion has not taken it by then.
func PublishJob(ctx context.Context, js jetstream.JetStream, id string, signed []byte, ttl time.Duration) error {
	if err := ValidID(id); err != nil {
		return fmt.Errorf("publish job: %w", err)
	}
	if ttl < time.Second {
		return fmt.Errorf("publish job for %s: ttl %s is under one second", id, ttl)
	}
	if _, err := js.Publish(ctx, JobSubject(id), signed, jetstream.WithMsgTTL(ttl)); err != nil {
		return fmt.Errorf("publish job for %s: %w", id, err)
	}
	return nil
}

// PublishReturn stores minion id's return for job jid in the job cache and
// waits for the server's acknowledgement; a return published twice (after a
// lost acknowledgement) replaces the first, so it is stored once.
func PublishReturn(ctx context.Context, js jetstream.JetStream, jid, id string, data []byte) error {
	_, err := js.Publish(ctx, ReturnSubject(jid, id), data)
	if err != nil {
		return fmt.Errorf("publish return of %s for job %s: %w", id, jid, err)
	}
	return nil
}
