package bus

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func TestSubjects(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{JobSubject("db1"), "brine.job.db1"},
		{JobSubject("web1.example.com"), "brine.job.web1~example~com"},
		{DeliverSubject("db1"), "brine.deliver.db1"},
		{ReturnSubject("20260101120000000001", "db1"), "brine.ret.20260101120000000001.db1"},
		{ReturnSubject("J", "web1.example.com"), "brine.ret.J.web1~example~com"},
		{ReturnsFor("J"), "brine.ret.J.*"},
		{EventSubject("db1", "state.failed"), "brine.event.db1.state.failed"},
		{EventSubject(MasterID, "key.accepted"), "brine.event.master.key.accepted"},
		{GrainsSubject("db1"), "brine.grains.db1"},
		{FileSubject("db1"), "brine.fs.db1"},
		{AuthSubject("a.b"), "brine.auth.a~b"},
		{InboxPrefix("a.b"), "_INBOX_a~b"},
		{ConsumerName("a.b"), "minion_a~b"},
		{GrainsKey("a.b"), "a~b"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestParseSubjects(t *testing.T) {
	for _, id := range []string{"db1", "web1.example.com", "a-b_c"} {
		for _, subject := range []string{JobSubject(id), DeliverSubject(id), GrainsSubject(id), FileSubject(id), AuthSubject(id)} {
			if got, ok := SubjectID(subject); !ok || got != id {
				t.Errorf("SubjectID(%q) = %q, %v", subject, got, ok)
			}
		}
		if jid, got, ok := ParseReturnSubject(ReturnSubject("J42", id)); !ok || jid != "J42" || got != id {
			t.Errorf("ParseReturnSubject(%q) = %q, %q, %v", ReturnSubject("J42", id), jid, got, ok)
		}
		if got, tag, ok := ParseEventSubject(EventSubject(id, "state.drift")); !ok || got != id || tag != "state.drift" {
			t.Errorf("ParseEventSubject = %q, %q, %v", got, tag, ok)
		}
	}
	for _, bad := range []string{"brine.grains.", "brine.grains.a.b", "brine.other.a", "brine.ret.J", "brine.ret.J.a.b", "brine.ret..a", "brine.event.a", "brine.event..x"} {
		_, ok1 := SubjectID(bad)
		_, _, ok2 := ParseReturnSubject(bad)
		_, _, ok3 := ParseEventSubject(bad)
		if ok1 || ok2 || ok3 {
			t.Errorf("%q parsed: id %v, return %v, event %v", bad, ok1, ok2, ok3)
		}
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"db1", true},
		{"web1.example.com", true},
		{"Node_7-b", true},
		{"1host", true},
		{"", false},
		{MasterID, false},
		{"a.*", false},
		{"a>", false},
		{"a b", false},
		{"a~b", false},
		{".a", false},
		{"a.", false},
		{"a..b", false},
		{"-a", false},
		{"_a", false},
		{"é", false},
		{string(make([]byte, maxIDLen+1)), false},
	}
	for _, tc := range tests {
		if err := ValidID(tc.id); (err == nil) != tc.ok {
			t.Errorf("ValidID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

func TestPermissionsOfTwoMinionsDoNotOverlap(t *testing.T) {
	// An id that is a dotted extension of another must not reach the other's
	// subjects, and the reverse.
	ids := []string{"a", "a.b", "b.a"}
	for _, owner := range ids {
		p := minionPermissions(owner)
		for _, pattern := range append(p.Publish.Allow, p.Subscribe.Allow...) {
			if !server.IsValidSubject(pattern) {
				t.Errorf("%s: invalid permission subject %q", owner, pattern)
			}
			for _, other := range ids {
				if other == owner {
					continue
				}
				for _, subject := range []string{
					ReturnSubject("J", other), EventSubject(other, "x.y"), GrainsSubject(other),
					FileSubject(other), DeliverSubject(other), InboxPrefix(other) + ".x", ackPrefix(other) + "1.1.1.1.0",
				} {
					if server.SubjectMatchesFilter(subject, pattern) {
						t.Errorf("%s's permission %q covers %s's subject %q", owner, pattern, other, subject)
					}
				}
			}
		}
	}
}

func TestConnLimit(t *testing.T) {
	tests := []struct {
		fds  uint64
		want int
	}{
		{20000, 18000},
		{4096, 3584},
		{1024, 512},
		{100, 50},
		{1 << 30, 1 << 20},
	}
	for _, tc := range tests {
		if got := connLimit(tc.fds); got != tc.want {
			t.Errorf("connLimit(%d) = %d, want %d", tc.fds, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n, base := range map[int]time.Duration{1: reconnectBase, 2: 2 * reconnectBase, 3: 4 * reconnectBase, 40: reconnectMax} {
		for range 20 {
			if d := backoff(n); d < base || d > base+base/2 {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, d, base, base+base/2)
			}
		}
	}
}

func TestOwnInbox(t *testing.T) {
	for _, c := range []struct {
		id, reply string
		want      bool
	}{
		{"web1", "_INBOX_web1.abc.1", true},
		{"web1.example.com", "_INBOX_web1~example~com.x", true},
		{"web1", "_INBOX_web2.abc", false},
		{"web1", "_INBOX_web1", false},
		{"web1", "_INBOX_web1.", false},
		{"web1", "_INBOX_web10.abc", false},
		{"web1", "$JS.API.STREAM.DELETE.BRINE_RETURNS", false},
		{"web1", "brine.grains.web2", false},
		{"web1", "_INBOX_web1.*", false},
		{"web1", "_INBOX_web1.>", false},
		{"web1", "_INBOX_web1." + strings.Repeat("x", 300), false},
		{"web1", "", false},
	} {
		if got := OwnInbox(c.id, c.reply); got != c.want {
			t.Errorf("OwnInbox(%q, %q) = %v, want %v", c.id, c.reply, got, c.want)
		}
	}
}
