package master

import (
	"context"
	"encoding/json"
	"errors"
	"path"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/keys"
	"github.com/brinecm/brine/pkg/wire"
	"github.com/brinecm/brine/proto/brinepb"
)

// api serves the CLI.
type api struct {
	brinepb.UnimplementedMasterServer
	m *Master
}

// Run publishes a job and streams returns.
func (a *api) Run(req *brinepb.RunRequest, stream brinepb.Master_RunServer) error {
	err := a.m.Publish(stream.Context(), req, stream.Send)
	var bad badRequest
	switch {
	case err == nil:
		return nil
	case errors.As(err, &bad):
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

// ListJobs lists the job cache.
func (a *api) ListJobs(ctx context.Context, req *brinepb.ListJobsRequest) (*brinepb.ListJobsResponse, error) {
	jobs, err := a.m.listJobs(ctx, int(req.Limit))
	if err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	return &brinepb.ListJobsResponse{Jobs: jobs}, nil
}

// GetJob returns one cached job.
func (a *api) GetJob(ctx context.Context, req *brinepb.GetJobRequest) (*brinepb.GetJobResponse, error) {
	resp, err := a.m.getJob(ctx, req.Jid)
	switch {
	case errors.Is(err, errBadJID):
		return nil, status.Error(codes.InvalidArgument, err.Error())
	case err != nil:
		return nil, status.Error(codes.NotFound, err.Error())
	}
	return resp, nil
}

// ListKeys lists minion keys.
func (a *api) ListKeys(context.Context, *brinepb.ListKeysRequest) (*brinepb.ListKeysResponse, error) {
	var out []*brinepb.Key
	for _, k := range a.m.keys.List() {
		out = append(out, &brinepb.Key{Id: k.ID, PublicKey: k.PublicKey, State: string(k.State), Fingerprint: keys.Fingerprint(k.PublicKey)})
	}
	return &brinepb.ListKeysResponse{Keys: out}, nil
}

// KeyAction accepts, rejects or deletes keys.
func (a *api) KeyAction(_ context.Context, req *brinepb.KeyActionRequest) (*brinepb.KeyActionResponse, error) {
	var ids []string
	var err error
	switch req.Action {
	case "accept":
		err = a.m.keys.Accept(req.Id)
		ids = []string{req.Id}
	case "accept_all":
		ids, err = a.m.keys.AcceptAll()
	case "reject":
		err = a.m.keys.Reject(req.Id)
		ids = []string{req.Id}
	case "delete":
		err = a.m.keys.Delete(req.Id)
		ids = []string{req.Id}
	default:
		return nil, status.Errorf(codes.InvalidArgument, "unknown key action %q: accept, accept_all, reject or delete", req.Action)
	}
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return &brinepb.KeyActionResponse{Ids: ids}, nil
}

// Events streams the event bus.
func (a *api) Events(req *brinepb.EventsRequest, stream brinepb.Master_EventsServer) error {
	ch := make(chan *nats.Msg, 4096)
	sub, err := a.m.nc.ChanSubscribe(bus.AllLogged, ch)
	if err != nil {
		return status.Error(codes.Unavailable, err.Error())
	}
	defer sub.Unsubscribe()
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case msg := <-ch:
			// The source and tag are the subject's: only a master
			// publishes logged events, and it names the sender there.
			source, tag, ok := bus.ParseLoggedEventSubject(msg.Subject)
			var ev wire.Event
			if !ok || json.Unmarshal(msg.Data, &ev) != nil {
				continue
			}
			if req.TagGlob != "" {
				if ok, _ := path.Match(req.TagGlob, tag); !ok {
					continue
				}
			}
			data, _ := json.Marshal(ev.Data)
			if err := stream.Send(&brinepb.Event{Tag: tag, Source: source, DataJson: data, TimeUnixMs: ev.Time.UnixMilli()}); err != nil {
				return err
			}
		}
	}
}

// ListMinions lists the accepted minions with their cached grains.
func (a *api) ListMinions(context.Context, *brinepb.ListMinionsRequest) (*brinepb.ListMinionsResponse, error) {
	var out []*brinepb.MinionInfo
	for _, k := range a.m.keys.List() {
		if k.State != keys.Accepted {
			continue
		}
		grains, err := json.Marshal(a.m.grainsOf(k.ID))
		if err != nil {
			return nil, status.Errorf(codes.Internal, "encode the grains of %s: %v", k.ID, err)
		}
		out = append(out, &brinepb.MinionInfo{Id: k.ID, GrainsJson: grains, Connected: a.m.connected(k.ID)})
	}
	return &brinepb.ListMinionsResponse{Minions: out}, nil
}
