package result

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func ptr(b bool) *bool { return &b }

// TestDecodeOrdersByRunNum decodes Salt's keyed JSON, whose object order
// means nothing, into the run order __run_num__ gives.
func TestDecodeOrdersByRunNum(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "highstate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var h Highstate
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("decode testdata/highstate.json: %v", err)
	}
	want := Highstate{
		{Key: "file_|-motd_|-/etc/motd_|-managed", ID: "motd", RunNum: 0, SLS: "base", Changes: map[string]any{"diff": "+hello"},
			Comment: "File /etc/motd updated", Duration: 1.25, Name: "/etc/motd", Result: ptr(true), StartTime: "10:00:00.100000"},
		{Key: "pkg_|-nginx_|-nginx_|-installed", ID: "nginx", RunNum: 1, SLS: "web", Changes: map[string]any{},
			Comment: "The following packages would be installed: nginx", Duration: 40, Name: "nginx", StartTime: "10:00:00.200000"},
		{Key: "service_|-nginx_|-nginx_|-running", ID: "nginx", RunNum: 2, SLS: "web", Changes: map[string]any{},
			Comment: "The service nginx is already running", Duration: 12.5, Name: "nginx", Result: ptr(true), StartTime: "10:00:00.300000"},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", h, want)
	}
}

// TestEncode checks the encoding is Salt's: an object keyed by result key,
// in run order, with changes always an object.
func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		h    Highstate
		want string
	}{
		{"empty run", Highstate{}, `{}`},
		{"nil changes encode as an empty object", Highstate{{Key: "test_|-a_|-a_|-nop", ID: "a", Name: "a", Result: ptr(true)}},
			`{"test_|-a_|-a_|-nop":{"__id__":"a","__run_num__":0,"__sls__":null,"changes":{},"comment":"","duration":0,"name":"a","result":true,"start_time":""}}`},
		{"__sls__ is the SLS, null without one (state.single), as in Salt", Highstate{
			{Key: "test_|-a_|-a_|-nop", ID: `"__sls__":""`, SLS: "web", Result: ptr(true)},
			{Key: "test_|-b_|-b_|-nop", ID: `"__sls__":""`, Result: ptr(true)},
		}, `{"test_|-a_|-a_|-nop":{"__id__":"\"__sls__\":\"\"","__run_num__":0,"__sls__":"web","changes":{},"comment":"","duration":0,"name":"","result":true,"start_time":""},` +
			`"test_|-b_|-b_|-nop":{"__id__":"\"__sls__\":\"\"","__run_num__":0,"__sls__":null,"changes":{},"comment":"","duration":0,"name":"","result":true,"start_time":""}}`},
		{"run order, not key order", Highstate{
			{Key: "z_|-b_|-b_|-f", ID: "b", RunNum: 0, Result: ptr(false)},
			{Key: "a_|-a_|-a_|-f", ID: "a", RunNum: 1},
		}, `{"z_|-b_|-b_|-f":{"__id__":"b","__run_num__":0,"__sls__":null,"changes":{},"comment":"","duration":0,"name":"","result":false,"start_time":""},` +
			`"a_|-a_|-a_|-f":{"__id__":"a","__run_num__":1,"__sls__":null,"changes":{},"comment":"","duration":0,"name":"","result":null,"start_time":""}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.h)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("encoded\n%s\nwant\n%s", b, tt.want)
			}
		})
	}
}

// TestRoundTrip checks a run encoded and decoded again is the same run.
func TestRoundTrip(t *testing.T) {
	h := Highstate{
		{Key: "file_|-motd_|-/etc/motd_|-managed", ID: "motd", RunNum: 0, Changes: map[string]any{"diff": "+x"}, Result: ptr(true)},
		{Key: "cmd_|-go_|-true_|-run", ID: "go", RunNum: 1, Changes: map[string]any{}, Result: ptr(false), Comment: "failed"},
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var got Highstate
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Errorf("round trip\n%+v\nwant\n%+v", got, h)
	}
}

func TestDecodeError(t *testing.T) {
	tests := []struct{ name, in string }{
		{"a list, not an object", `[{"__id__":"a"}]`},
		{"a result that is not an object", `{"test_|-a_|-a_|-nop":"ok"}`},
		{"result of the wrong type", `{"test_|-a_|-a_|-nop":{"result":"yes"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Highstate
			err := json.Unmarshal([]byte(tt.in), &h)
			if err == nil {
				t.Fatalf("decoded %s into %+v, want an error", tt.in, h)
			}
			if !strings.Contains(err.Error(), "decode highstate") {
				t.Errorf("error %q does not say a highstate was being decoded", err)
			}
		})
	}
}

func TestFunction(t *testing.T) {
	tests := []struct{ key, want string }{
		{"file_|-motd_|-/etc/motd_|-managed", "file.managed"},
		{"docker_container_|-web_|-web_|-running", "docker_container.running"},
		{"not a key", ""},
		{"", ""},
	}
	for _, tt := range tests {
		r := State{Key: tt.key}
		if got := r.Function(); got != tt.want {
			t.Errorf("Function() of %q = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestFailed(t *testing.T) {
	tests := []struct {
		name string
		h    Highstate
		want bool
	}{
		{"empty run", nil, false},
		{"all succeeded", Highstate{{Result: ptr(true)}, {Result: ptr(true)}}, false},
		{"test mode null counts as not failed", Highstate{{Result: nil}, {Result: ptr(true)}}, false},
		{"one failed", Highstate{{Result: ptr(true)}, {Result: ptr(false)}}, true},
	}
	for _, tt := range tests {
		if got := tt.h.Failed(); got != tt.want {
			t.Errorf("%s: Failed() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
