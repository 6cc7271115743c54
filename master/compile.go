package master

import (
	"context"
	"encoding/json"
	"time"

	"github.com/brinecm/brine/modules/state"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/wire"
)

// compileRequestTime bounds one compile a minion asks for: the compile's
// own render limits and recipe calls come first, this is a backstop.
const compileRequestTime = 5 * time.Minute

// compileFor answers a minion's wire.OpCompile request: the state run it
// names (state.highstate, state.apply, state.sls), compiled for that
// minion alone with its own grains and pillar, as a job signed like every
// job, which the minion may cache and apply again while the master is
// away. The minion is the one the request's subject names: the bus lets a
// minion ask only on its own, so no minion gets another's pillar. A recipe
// that does not compile is answered with its errors.
func (m *Master) compileFor(id string, req *wire.FileRequest) *wire.FileResponse {
	if !state.CompiledOnMaster(req.Fun) {
		return &wire.FileResponse{Error: "bad request: compile " + clip(req.Fun) + ": only state.highstate, state.apply and state.sls are compiled for a minion"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), compileRequestTime)
	defer cancel()
	now := time.Now()
	rr := &runRequest{target: id, fun: req.Fun, args: req.Args, kwargs: req.Kwargs, ttl: time.Duration(m.opts.JobTTL)}
	jid := job.NewJID(now)
	j, ret := m.prepare(ctx, rr, jid, id, now, sls.NewTemplateCache())
	if ret != nil {
		resp := &wire.FileResponse{Error: ret.Error}
		if ret.Error == CompileFailed {
			_ = json.Unmarshal(ret.Return, &resp.CompileErrors)
		}
		m.log.Warn("compile for minion failed", "minion", id, "fun", req.Fun, "err", ret.Error)
		return resp
	}
	signed, err := job.Sign(m.key, j)
	if err != nil {
		return &wire.FileResponse{Error: "sign compiled states: " + err.Error()}
	}
	m.log.Info("compiled states for a minion's own run", "minion", id, "fun", req.Fun, "jid", jid)
	return &wire.FileResponse{Data: signed}
}
