package drift

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/brinecm/brine/pkg/ovsx"
)

// ovsMonitor follows the Open vSwitch database through the OVSDB
// JSON-RPC "monitor" method (RFC 7047) on the server's unix socket: the
// server sends an "update" for every committed change to the monitored
// columns, so nothing is polled. The columns are the ones the ovs_bridge
// and ovs_port states manage, so what ovs-vswitchd itself writes (ofport,
// statistics, status) and a bridge's port list wake nothing.
type ovsMonitor struct {
	w       *Watcher
	socket  string
	bridges map[string][]Target
	ports   map[string][]Target
	all     []Target
	done    <-chan struct{}

	mu      sync.Mutex
	conn    net.Conn // nil while reconnecting
	seq     int
	waiting map[string]chan struct{}
	names   map[string]map[string]string // table -> row uuid -> name
}

// monitorID names brine's monitor in the server's updates.
const monitorID = "brine-drift"

// monitoredColumns are the columns watched per table.
var monitoredColumns = map[string][]string{
	"Bridge":    {"name", "datapath_type", "fail_mode", "stp_enable", "other_config", "external_ids"},
	"Port":      {"name", "tag", "interfaces"},
	"Interface": {"name", "type", "options"},
}

// rpcMessage is any JSON-RPC 1.0 message OVSDB sends or answers.
type rpcMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
}

// rowUpdate is one row of an OVSDB table-updates object.
type rowUpdate struct {
	Old map[string]json.RawMessage `json:"old"`
	New map[string]json.RawMessage `json:"new"`
}

type tableUpdates map[string]map[string]rowUpdate

func startOVS(ctx context.Context, w *Watcher, g *generation, ts []Target) (source, error) {
	m := &ovsMonitor{w: w, socket: ovsx.New().Socket, bridges: map[string][]Target{}, ports: map[string][]Target{},
		all: ts, done: ctx.Done(), waiting: map[string]chan struct{}{}}
	for _, t := range ts {
		if t.Kind == KindBridge {
			m.bridges[t.Name] = append(m.bridges[t.Name], t)
		} else {
			m.ports[t.Name] = append(m.ports[t.Name], t)
		}
	}
	dec, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		m.run(ctx, dec)
	}()
	return m, nil
}

// connect dials the server and starts the monitor; the initial contents
// fill the name cache.
func (m *ovsMonitor) connect(ctx context.Context) (*json.Decoder, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", m.socket)
	if err != nil {
		return nil, fmt.Errorf("connect to OVSDB at %s: %w", m.socket, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req := map[string]any{}
	for table, cols := range monitoredColumns {
		req[table] = map[string]any{"columns": cols}
	}
	msg := map[string]any{"id": "monitor", "method": "monitor", "params": []any{"Open_vSwitch", monitorID, req}}
	if err := json.NewEncoder(conn).Encode(msg); err != nil {
		conn.Close()
		return nil, fmt.Errorf("OVSDB monitor request: %w", err)
	}
	dec := json.NewDecoder(conn)
	for {
		var r rpcMessage
		if err := dec.Decode(&r); err != nil {
			conn.Close()
			return nil, fmt.Errorf("OVSDB monitor: read the answer: %w", err)
		}
		if r.Method == "echo" {
			m.answerEcho(conn, r)
			continue
		}
		if string(r.ID) != `"monitor"` {
			continue
		}
		if len(r.Error) > 0 && string(r.Error) != "null" {
			conn.Close()
			return nil, fmt.Errorf("OVSDB monitor refused: %s", r.Error)
		}
		var tu tableUpdates
		if err := json.Unmarshal(r.Result, &tu); err != nil {
			conn.Close()
			return nil, fmt.Errorf("OVSDB monitor: bad answer: %w", err)
		}
		m.mu.Lock()
		m.names = map[string]map[string]string{}
		for table := range monitoredColumns {
			m.names[table] = map[string]string{}
		}
		for table, rows := range tu {
			for uuid, row := range rows {
				if n, ok := rowName(row.New); ok {
					m.names[table][uuid] = n
				}
			}
		}
		m.conn = conn
		m.mu.Unlock()
		return dec, nil
	}
}

// run reads updates until ctx ends, reconnecting when the server goes
// away; after a reconnection every target is re-checked, since what
// changed meanwhile is unknown.
func (m *ovsMonitor) run(ctx context.Context, dec *json.Decoder) {
	backoff := 100 * time.Millisecond
	for {
		err := m.read(ctx, dec)
		m.mu.Lock()
		if m.conn != nil {
			m.conn.Close()
			m.conn = nil
		}
		for id, ch := range m.waiting {
			close(ch)
			delete(m.waiting, id)
		}
		m.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		m.w.log.Warn("OVSDB monitor lost: reconnecting", "err", err)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			if dec, err = m.connect(ctx); err == nil {
				break
			}
		}
		backoff = 100 * time.Millisecond
		for _, t := range m.all {
			m.w.hit(hit{id: t.ID, reason: "OVSDB monitor reconnected: re-checking " + t.Name, at: time.Now()})
		}
	}
}

// read handles messages until the connection fails.
func (m *ovsMonitor) read(ctx context.Context, dec *json.Decoder) error {
	m.mu.Lock()
	conn := m.conn
	m.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	for {
		var r rpcMessage
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("read OVSDB monitor: %w", err)
		}
		switch {
		case r.Method == "echo":
			m.answerEcho(conn, r)
		case r.Method == "update":
			var params []json.RawMessage
			var tu tableUpdates
			if err := json.Unmarshal(r.Params, &params); err != nil || len(params) != 2 {
				return fmt.Errorf("OVSDB monitor: malformed update %s", r.Params)
			}
			if err := json.Unmarshal(params[1], &tu); err != nil {
				return fmt.Errorf("OVSDB monitor: malformed update: %w", err)
			}
			m.update(tu)
		case r.Method == "" && len(r.ID) > 0:
			var id string
			if json.Unmarshal(r.ID, &id) == nil {
				m.mu.Lock()
				if ch, ok := m.waiting[id]; ok {
					close(ch)
					delete(m.waiting, id)
				}
				m.mu.Unlock()
			}
		}
	}
}

// answerEcho keeps the connection alive: the server drops clients that
// do not answer its echo requests.
func (m *ovsMonitor) answerEcho(conn net.Conn, r rpcMessage) {
	params := r.Params
	if len(params) == 0 {
		params = json.RawMessage("[]")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = json.NewEncoder(conn).Encode(rpcMessage{ID: r.ID, Result: params, Error: json.RawMessage("null")})
}

// update turns one table-updates object into hits.
func (m *ovsMonitor) update(tu tableUpdates) {
	at := time.Now()
	for _, table := range slices.Sorted(maps.Keys(tu)) {
		for uuid, row := range tu[table] {
			m.mu.Lock()
			name, ok := rowName(row.New)
			if !ok {
				name, ok = rowName(row.Old)
			}
			if !ok {
				name = m.names[table][uuid]
			}
			what := "changed (" + strings.Join(slices.Sorted(maps.Keys(row.Old)), ", ") + ")"
			switch {
			case row.New == nil:
				what = "deleted"
				delete(m.names[table], uuid)
			case row.Old == nil:
				what = "created"
				m.names[table][uuid] = name
			default:
				m.names[table][uuid] = name
			}
			m.mu.Unlock()
			targets := m.ports[name]
			if table == "Bridge" {
				targets = m.bridges[name]
			}
			for _, t := range targets {
				m.w.hit(hit{id: t.ID, reason: fmt.Sprintf("%s %s %s", strings.ToLower(table), name, what), at: at})
			}
		}
	}
}

// rowName reads a row's name column.
func rowName(row map[string]json.RawMessage) (string, bool) {
	raw, ok := row["name"]
	if !ok {
		return "", false
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

// barrier sends an echo on the monitor's connection: the server answers
// in order, after the updates of the transactions it committed before.
func (m *ovsMonitor) barrier(ctx context.Context) error {
	m.mu.Lock()
	if m.conn == nil {
		m.mu.Unlock()
		return nil // reconnecting: everything is re-checked then anyway
	}
	m.seq++
	id := "barrier-" + strconv.Itoa(m.seq)
	ch := make(chan struct{})
	m.waiting[id] = ch
	raw, _ := json.Marshal(id)
	err := json.NewEncoder(m.conn).Encode(rpcMessage{ID: raw, Method: "echo", Params: json.RawMessage("[]")})
	m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("drift: OVSDB barrier: %w", err)
	}
	select {
	case <-ch:
		return nil
	case <-m.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drift: waiting for the OVSDB monitor: %w", ctx.Err())
	}
}
