package drift

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/wire"
)

// TestEvents checks the bus payloads the minion publishes.
func TestEvents(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := Batch{IDs: []string{"motd", "web"}, Reasons: map[string]string{"motd": "/etc/motd written", "web": "container web stopped (died)"}}
	ok := true
	cases := []struct {
		tag  string
		data any
		want string
	}{
		{wire.TagDriftDetected, b.Detected(),
			`{"states":[{"id":"motd","reason":"/etc/motd written"},{"id":"web","reason":"container web stopped (died)"}]}`},
		{wire.TagDriftCorrected, Corrected{JID: "20260102030405123456", DurationMS: 12.5, States: []CorrectedState{
			{ID: "motd", Reason: "/etc/motd written", Result: &ok, Changes: map[string]any{"diff": "-a\n+b"}}}},
			`{"duration_ms":12.5,"jid":"20260102030405123456","states":[{"changes":{"diff":"-a\n+b"},"id":"motd","reason":"/etc/motd written","result":true}]}`},
		{wire.TagDriftFlapping, Flap{ID: "motd", Count: 5, Window: 10 * time.Minute, Reason: "/etc/motd written"}.Flapping(),
			`{"count":5,"id":"motd","reason":"/etc/motd written","window_s":600}`},
	}
	for _, c := range cases {
		t.Run(c.tag, func(t *testing.T) {
			ev, err := Event("m1", c.tag, at, c.data)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Tag != c.tag || ev.Source != "m1" || !ev.Time.Equal(at) {
				t.Errorf("event %+v", ev)
			}
			got, _ := json.Marshal(ev.Data)
			if string(got) != c.want {
				t.Errorf("data %s\nwant %s", got, c.want)
			}
		})
	}
	if _, err := Event("m1", wire.TagDriftDetected, at, []string{"not an object"}); err == nil {
		t.Error("a payload that is not an object was accepted")
	}
}
