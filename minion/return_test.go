package minion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/job"
)

// markerRE matches the end of a cut string and captures how much was cut.
var markerRE = regexp.MustCompile(`\.\.\.\[truncated (\d+) bytes\]$`)

// TestOversizedReturnIsTruncated: cmd.run_all printing 9 MB, through the
// real minion and the embedded bus, reaches the job cache cut to fit, with
// its stdout marked and the rest intact; a small return after it arrives
// too (nothing waits behind the big one).
func TestOversizedReturnIsTruncated(t *testing.T) {
	ms := newMaster(t, false)
	mn, err := New(ms.minionConfig("web1", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "web1")
	runIt(t, mn)

	big := ms.newJob("web1", "cmd.run_all", []any{"head -c 9000000 /dev/zero | tr '\\0' x; echo oops >&2; exit 3"}, nil)
	ms.publish(big)
	small := ms.newJob("web1", "cmd.run", []any{"echo after"}, nil)
	ms.publish(small)

	r := ms.waitReturn(big.JID, "web1")
	if !r.Truncated {
		t.Error("return not marked truncated")
	}
	var out struct {
		Stdout  string `json:"stdout"`
		Stderr  string `json:"stderr"`
		Retcode int    `json:"retcode"`
	}
	if err := json.Unmarshal(r.Return, &out); err != nil {
		t.Fatalf("truncated return is not the function's result: %v", err)
	}
	if out.Stderr != "oops" || out.Retcode != 3 {
		t.Errorf("short fields changed: stderr %q retcode %d", out.Stderr, out.Retcode)
	}
	mk := markerRE.FindStringSubmatch(out.Stdout)
	if mk == nil {
		t.Fatalf("stdout (%d bytes) does not end with the truncation marker: ...%q", len(out.Stdout), out.Stdout[max(0, len(out.Stdout)-60):])
	}
	kept := out.Stdout[:len(out.Stdout)-len(mk[0])]
	if strings.Trim(kept, "x") != "" || len(kept) == 0 {
		t.Errorf("kept part of stdout is not the command's output")
	}
	if cut := fmt.Sprint(9000000 - len(kept)); mk[1] != cut {
		t.Errorf("marker says %s bytes cut, %s were", mk[1], cut)
	}
	if r2 := ms.waitReturn(small.JID, "web1"); string(r2.Return) != `"after"` || r2.Truncated {
		t.Errorf("later return %s (truncated %v)", r2.Return, r2.Truncated)
	}
}

// TestRefusedReturnDoesNotBlock: a return the job cache refuses for good
// (here: the returns stream takes no message over 16 KiB) is replaced by a
// failure return saying why, and the returns after it still arrive.
func TestRefusedReturnDoesNotBlock(t *testing.T) {
	ms := newMaster(t, false)
	ctx := context.Background()
	s, err := ms.js.Stream(ctx, bus.ReturnStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgSize = 16 << 10
	if _, err := ms.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	mn, err := New(ms.minionConfig("web1", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "web1")
	runIt(t, mn)

	big := ms.newJob("web1", "cmd.run", []any{"head -c 20000 /dev/zero | tr '\\0' x"}, nil)
	ms.publish(big)
	small := ms.newJob("web1", "cmd.run", []any{"echo after"}, nil)
	ms.publish(small)

	r := ms.waitReturn(big.JID, "web1")
	if r.Success || r.Retcode != retError || !strings.Contains(r.Error, "could not be delivered") ||
		!strings.Contains(r.Error, "message size exceeds maximum") {
		t.Errorf("refused return replaced by %+v", r)
	}
	if r.Started.IsZero() {
		t.Error("the failure return lost the job's times")
	}
	if r2 := ms.waitReturn(small.JID, "web1"); string(r2.Return) != `"after"` {
		t.Errorf("later return %s", r2.Return)
	}
}

// TestRefusedForGood: the errors publishing a return can meet, as the real
// client reports them.
func TestRefusedForGood(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"over the server's payload limit", fmt.Errorf("publish: %w", nats.ErrMaxPayload), true},
		{"over the stream's size limit", fmt.Errorf("publish: %w", jetstream.ErrStreamMessageExceedsMaximum), true},
		{"bad request", &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeBadRequest}, true},
		{"no stream yet", jetstream.ErrNoStreamResponse, false},
		{"stream not found", jetstream.ErrStreamNotFound, false},
		{"timeout", context.DeadlineExceeded, false},
		{"connection closed", nats.ErrConnectionClosed, false},
		{"other", errors.New("boom"), false},
	}
	for _, c := range cases {
		if got := refusedForGood(c.err); got != c.want {
			t.Errorf("%s: refusedForGood(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// TestShrinkReturn: cut returns fit the limit, stay valid JSON with their
// keys in order, and mark every cut string; a return made of something
// else than long strings cannot be cut.
func TestShrinkReturn(t *testing.T) {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	highstate := fmt.Sprintf(`{"cmd_|-b_|-run_|-run":{"comment":"ok","changes":{"stdout":%s,"stderr":"e"},"result":true,"__run_num__":0},`+
		`"file_|-a_|-/a_|-managed":{"comment":%s,"changes":{},"result":false,"__run_num__":1}}`, q(long("y", 300000)), q(long("z", 200000)))
	cases := []struct {
		name    string
		ret     string // the Return
		errMsg  string
		limit   int
		wantErr bool
		keys    []string // top-level keys, in order
	}{
		{name: "one long string", ret: q(long("x", 500000)), limit: 100000},
		{name: "highstate", ret: highstate, limit: 100000, keys: []string{"cmd_|-b_|-run_|-run", "file_|-a_|-/a_|-managed"}},
		{name: "escaped characters", ret: q(long("<\n\x01é", 100000)), limit: 50000},
		{name: "invalid utf-8", ret: `"` + long("\xff", 100000) + `"`, limit: 50000},
		{name: "long error", ret: "null", errMsg: long("e", 400000), limit: 10000},
		{name: "numbers", ret: "[" + strings.TrimSuffix(long("12345,", 100000), ",") + "]", limit: 100000, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ret := &job.Return{JID: "j1", Minion: "web1", Fun: "cmd.run", Return: json.RawMessage(c.ret), Error: c.errMsg}
			data, err := json.Marshal(ret)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) <= c.limit {
				t.Fatalf("case too small: %d bytes", len(data))
			}
			got, err := shrinkReturn(ret, data, c.limit)
			if c.wantErr {
				if err == nil {
					t.Fatalf("shrank to %d bytes, want an error", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > c.limit {
				t.Errorf("%d bytes, limit %d", len(got), c.limit)
			}
			var back job.Return
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if !back.Truncated || back.JID != "j1" {
				t.Errorf("return %+v", back)
			}
			var v any
			if err := json.Unmarshal(back.Return, &v); err != nil {
				t.Fatalf("Return not JSON: %v", err)
			}
			cut := 0
			var walk func(any)
			walk = func(v any) {
				switch v := v.(type) {
				case string:
					if markerRE.MatchString(v) {
						cut++
					}
				case map[string]any:
					for _, x := range v {
						walk(x)
					}
				case []any:
					for _, x := range v {
						walk(x)
					}
				}
			}
			walk(v)
			if markerRE.MatchString(back.Error) {
				cut++
			}
			if cut == 0 {
				t.Error("no string carries the truncation marker")
			}
			if c.keys != nil {
				dec := json.NewDecoder(strings.NewReader(string(back.Return)))
				var order []string
				dec.Token() // {
				for dec.More() {
					k, _ := dec.Token()
					order = append(order, k.(string))
					var skip json.RawMessage
					if err := dec.Decode(&skip); err != nil {
						t.Fatal(err)
					}
				}
				if strings.Join(order, " ") != strings.Join(c.keys, " ") {
					t.Errorf("keys %q, want %q", order, c.keys)
				}
				hs := v.(map[string]any)
				if cmt := hs["file_|-a_|-/a_|-managed"].(map[string]any)["result"]; cmt != false {
					t.Errorf("result changed to %v", cmt)
				}
			}
		})
	}
}
