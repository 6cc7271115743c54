package initsys

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fakeRunner answers commands from a table and records them; the systemd
// provider is tested for the commands it runs and how it reads the answers.
type fakeRunner struct {
	answers map[string]Output // "systemctl is-active --quiet -- x.service" -> output
	calls   []string
}

func (f *fakeRunner) Run(_ context.Context, name string, args ...string) (Output, error) {
	cmd := strings.Join(append([]string{name}, args...), " ")
	f.calls = append(f.calls, cmd)
	out, ok := f.answers[cmd]
	if !ok {
		return Output{}, errors.New("unexpected command: " + cmd)
	}
	return out, nil
}

func TestSystemdCommands(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		answers map[string]Output
		do      func(p *Systemd) (any, error)
		want    any
		err     string
	}{
		{"running", map[string]Output{"systemctl is-active --quiet -- nginx.service": {}},
			func(p *Systemd) (any, error) { return p.Running(ctx, "nginx") }, true, ""},
		{"not running", map[string]Output{"systemctl is-active --quiet -- nginx.service": {Code: 3}},
			func(p *Systemd) (any, error) { return p.Running(ctx, "nginx") }, false, ""},
		{"unit suffix kept", map[string]Output{"systemctl is-active --quiet -- web.socket": {}},
			func(p *Systemd) (any, error) { return p.Running(ctx, "web.socket") }, true, ""},
		{"enabled", map[string]Output{"systemctl is-enabled -- nginx.service": {Stdout: "enabled\n"}},
			func(p *Systemd) (any, error) { return p.Enabled(ctx, "nginx") }, true, ""},
		{"disabled", map[string]Output{"systemctl is-enabled -- nginx.service": {Stdout: "disabled\n", Code: 1}},
			func(p *Systemd) (any, error) { return p.Enabled(ctx, "nginx") }, false, ""},
		{"available", map[string]Output{"systemctl show --property=LoadState --value -- nginx.service": {Stdout: "loaded\n"}},
			func(p *Systemd) (any, error) { return nil, p.Available(ctx, "nginx") }, nil, ""},
		{"not found", map[string]Output{"systemctl show --property=LoadState --value -- nope.service": {Stdout: "not-found\n"}},
			func(p *Systemd) (any, error) { return nil, p.Available(ctx, "nope") }, nil, "unit nope.service could not be found"},
		{"masked", map[string]Output{"systemctl show --property=LoadState --value -- x.service": {Stdout: "masked\n"}},
			func(p *Systemd) (any, error) { return nil, p.Available(ctx, "x") }, nil, "unit x.service is masked"},
		{"start", map[string]Output{"systemctl start -- nginx.service": {}},
			func(p *Systemd) (any, error) { return nil, p.Control(ctx, "nginx", Start) }, nil, ""},
		{"start fails with systemctl's message", map[string]Output{"systemctl start -- nginx.service": {Code: 1,
			Stderr: "Job for nginx.service failed because the control process exited with error code.\n"}},
			func(p *Systemd) (any, error) { return nil, p.Control(ctx, "nginx", Start) }, nil,
			"systemctl: Job for nginx.service failed because the control process exited with error code."},
		{"reload", map[string]Output{"systemctl reload -- nginx.service": {}},
			func(p *Systemd) (any, error) { return nil, p.Control(ctx, "nginx", Reload) }, nil, ""},
		{"enable", map[string]Output{"systemctl enable -- nginx.service": {}},
			func(p *Systemd) (any, error) { return nil, p.SetEnabled(ctx, "nginx", true) }, nil, ""},
		{"disable", map[string]Output{"systemctl disable -- nginx.service": {}},
			func(p *Systemd) (any, error) { return nil, p.SetEnabled(ctx, "nginx", false) }, nil, ""},
		{"list", map[string]Output{"systemctl list-unit-files --type=service --no-legend --no-pager --plain": {Stdout: "" +
			"ssh.service enabled enabled\ngetty@.service enabled enabled\ncron.service enabled enabled\n"}},
			func(p *Systemd) (any, error) { return p.List(ctx) }, []string{"cron", "ssh"}, ""},
		{"option-like name", nil,
			func(p *Systemd) (any, error) { return nil, p.Control(ctx, "--force", Stop) }, nil, `invalid service name "--force"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRunner{answers: tt.answers}
			got, err := tt.do(&Systemd{Runner: f})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if len(f.calls) != 1 {
				t.Errorf("calls = %v, want exactly one", f.calls)
			}
		})
	}
}

func TestNotFoundIsNotAvailable(t *testing.T) {
	f := &fakeRunner{answers: map[string]Output{"systemctl show --property=LoadState --value -- nope.service": {Stdout: "not-found\n"}}}
	var na *NotAvailableError
	err := (&Systemd{Runner: f}).Available(context.Background(), "nope")
	if !errors.As(err, &na) || na.Name != "nope" || err.Error() != "service nope is not available: unit nope.service could not be found" {
		t.Errorf("err = %v, want a NotAvailableError", err)
	}
}

func TestForGrains(t *testing.T) {
	tests := []struct {
		init, want string
	}{{"systemd", "systemd"}, {"sysvinit", "sysv"}, {"process_api", "sysv"}, {"", "sysv"}}
	for _, tt := range tests {
		p, err := ForGrains(map[string]any{"init": tt.init})
		if err != nil || p.Name() != tt.want {
			t.Errorf("init %q: %v, %v; want %s", tt.init, p, err, tt.want)
		}
	}
	if _, err := ForGrains(map[string]any{"init": "runit"}); err == nil {
		t.Error("runit: no error")
	}
}
