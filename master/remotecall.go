package master

// Calls a recipe makes while the master renders it.
//
// The master renders each minion's recipes, but a salt['mod.fun'](...) call
// in a template runs on that minion, as in Salt, never on the master: the
// arguments often come from grains the minion reports itself, so a master
// that ran them would run whatever a minion puts in its grains, as root.
// Only the functions marked modules.Func.Pure answer on the master, from
// data it holds about the minion and nothing of its own host: grains.get,
// grains.item, grains.items, grains.ls (the master's cache of the minion's
// grains), mine.get (the master's cache of the fleet's grains), test.echo
// (its argument), and state.show_sls, state.show_highstate,
// state.show_lowstate, state.show_top (the master's state tree, rendered
// with the same rules). The compiler itself answers pillar.get,
// pillar.item(s), pillar.raw and config.get from the minion's pillar,
// options and grains. Everything else is sent to the minion as a signed job
// and its return given to the template; when the minion cannot answer, the
// compile fails and nothing runs anywhere in its place.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/modules/state"
	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/target"
	"github.com/brinecm/brine/pkg/wire"
)

// remoteCall returns the modules.Runtime.Remote of minion id's runtime: it
// runs a template's call on that minion and returns the minion's answer.
func (m *Master) remoteCall(id string) func(ctx context.Context, fun string, args []any, kwargs map[string]any) (any, error) {
	return func(ctx context.Context, fun string, args []any, kwargs map[string]any) (any, error) {
		return m.callOn(ctx, id, fun, args, kwargs)
	}
}

// callOn sends minion id a signed job for one call of fun and waits, at
// most jinja_call_timeout, for its return. Read-only functions go straight
// to a connected minion's delivery subject; the others through its durable
// job subject, kept no longer than the wait. An offline minion, a timeout
// or a failed call is an error naming the minion and why; the template
// engine adds the function ("salt['cmd.run']: must run on minion web1,
// which is not connected ...").
func (m *Master) callOn(ctx context.Context, id, fun string, args []any, kwargs map[string]any) (any, error) {
	if state.CompiledOnMaster(fun) {
		return nil, fmt.Errorf("%s is a state run, which cannot be called from a recipe: apply it as a job of its own, or include its SLS", fun)
	}
	timeout := time.Duration(m.opts.JinjaCallTimeout)
	if timeout == 0 {
		timeout = config.DefaultJinjaCallTimeout
	}
	if timeout < 0 {
		return nil, fmt.Errorf("jinja_call_timeout %s is negative: set it to how long a compile may wait for a minion, like 30s", timeout)
	}
	if !m.connected(id) {
		return nil, fmt.Errorf("must run on minion %s, which is not connected (a recipe's calls run on its minion, never on the master): start the minion, or compile without this call", id)
	}
	now := time.Now()
	jid := job.NewJID(now)
	signed, err := job.Sign(m.key, &job.Job{JID: jid, Minion: id, Fun: fun, Args: args, Kwargs: kwargs,
		Issued: now, Expires: now.Add(timeout)})
	if err != nil {
		return nil, fmt.Errorf("on minion %s: %w", id, err)
	}
	sub, err := m.nc.SubscribeSync(bus.ReturnSubject(jid, id))
	if err != nil {
		return nil, fmt.Errorf("on minion %s: subscribe to its return: %w", id, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := m.saveJobInfo(ctx, jid, &runRequest{target: id, kind: target.List, fun: fun, args: args, kwargs: kwargs}, []string{id}, now); err != nil {
		return nil, fmt.Errorf("on minion %s: %w", id, err)
	}
	m.event(wire.TagJobNew, map[string]any{"jid": jid, "fun": fun, "target": id, "minions": []string{id}})
	m.log.Info("recipe call sent to its minion", "minion", id, "fun", fun, "jid", jid)
	if e, ok := modules.Lookup(fun); ok && e.ReadOnly && m.srv != nil {
		err = m.nc.Publish(bus.DeliverSubject(id), signed)
	} else {
		err = bus.PublishJob(ctx, m.js, id, signed, max(timeout, time.Second))
	}
	if err != nil {
		return nil, fmt.Errorf("on minion %s: send the job: %w", id, err)
	}

	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		msg, err := sub.NextMsgWithContext(wctx)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil, fmt.Errorf("on minion %s (job %s): %w", id, jid, ctx.Err())
		case errors.Is(err, context.DeadlineExceeded):
			return nil, fmt.Errorf("minion %s did not answer within %s (job %s): raise jinja_call_timeout if the call takes longer", id, timeout, jid)
		default:
			return nil, fmt.Errorf("on minion %s: wait for its return: %w", id, err)
		}
		var r job.Return
		if err := json.Unmarshal(msg.Data, &r); err != nil || r.JID != jid || r.Minion != id {
			m.log.Warn("bad return to a recipe call", "minion", id, "jid", jid, "err", err)
			continue
		}
		if !r.Success {
			return nil, fmt.Errorf("failed on minion %s: %s", id, r.Error)
		}
		v, err := decodeValue(r.Return)
		if err != nil {
			return nil, fmt.Errorf("on minion %s: decode its answer: %w", id, err)
		}
		return v, nil
	}
}

// decodeValue decodes a function's JSON result for a template: whole
// numbers become ints (as the function returned them), others float64.
func decodeValue(data []byte) (any, error) {
	if len(data) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return numbers(v), nil
}

// numbers replaces every json.Number in v by an int or a float64.
func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = numbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = numbers(x)
		}
	}
	return v
}
