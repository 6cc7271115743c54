package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/brinecm/brine/proto/brinepb"
)

// floodClient is a master whose event stream sends n numbered events as
// fast as they are read, then nothing until the request ends.
type floodClient struct {
	brinepb.MasterClient
	n    int
	pad  string
	sent chan struct{} // closed when the n-th event was read from the stream
}

type floodStream struct {
	grpc.ClientStream
	c   *floodClient
	ctx context.Context
	i   int
}

func (f *floodClient) Events(ctx context.Context, _ *brinepb.EventsRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[brinepb.Event], error) {
	return &floodStream{c: f, ctx: ctx}, nil
}

func (s *floodStream) Recv() (*brinepb.Event, error) {
	if s.i == s.c.n {
		close(s.c.sent)
		<-s.ctx.Done()
		return nil, s.ctx.Err()
	}
	s.i++
	data := fmt.Appendf(nil, `{"seq":%d,"pad":%q}`, s.i, s.c.pad)
	return &brinepb.Event{Tag: "job.ret", Source: "m1", DataJson: data, TimeUnixMs: time.Now().UnixMilli()}, nil
}

// TestEventsSlowClient opens /api/events and does not read while the
// master's stream sends far more than the client's buffer and the socket
// hold: the view must read the whole stream regardless (the master is not
// held back), and the client, when it reads, gets events in order with an
// "events skipped" marker in every gap that counts exactly the events
// missing there.
func TestEventsSlowClient(t *testing.T) {
	const n = 4 * EventBuffer * 4 // with 2 KB each: 64 MB, well over the buffer and the socket's
	c := &floodClient{n: n, pad: strings.Repeat("x", 2048), sent: make(chan struct{})}
	dir := t.TempDir()
	tok, err := NewToken(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{DataDir: dir, Client: c, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	select {
	case <-c.sent:
	case <-ctx.Done():
		t.Fatal("the view stopped reading the master's event stream while its client did not read")
	}

	rd := bufio.NewReader(resp.Body)
	var got, skipped, markers, last int
	var kind string
	for got+skipped < n {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d events and %d skipped of %d: %v", got, skipped, n, err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "event: skipped":
			kind = "skipped"
		case strings.HasPrefix(line, "data: ") && kind == "skipped":
			var m struct{ Skipped int }
			if err := json.Unmarshal([]byte(line[6:]), &m); err != nil || m.Skipped <= 0 {
				t.Fatalf("skipped marker %q: %v", line, err)
			}
			skipped += m.Skipped
			markers++
			kind = ""
		case strings.HasPrefix(line, "data: "):
			var ev struct {
				Tag  string
				Data struct{ Seq int }
			}
			if err := json.Unmarshal([]byte(line[6:]), &ev); err != nil {
				t.Fatalf("event %.100q: %v", line, err)
			}
			// Every event is the next one, or follows a marker that
			// counts exactly the ones in between.
			if ev.Data.Seq != got+skipped+1 || ev.Data.Seq <= last {
				t.Fatalf("event %d after %d shown and %d skipped (last %d): a gap without its marker", ev.Data.Seq, got, skipped, last)
			}
			last = ev.Data.Seq
			got++
		}
	}
	if skipped == 0 || markers == 0 {
		t.Fatalf("%d events shown of %d, none skipped: the client was not slow", got, n)
	}
	if got < EventBuffer {
		t.Errorf("%d events shown, want at least the buffer's %d", got, EventBuffer)
	}
	t.Logf("%d events shown, %d skipped under %d markers", got, skipped, markers)
}
