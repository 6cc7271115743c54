package service

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/grains"
	"github.com/brinecm/brine/pkg/pkgmgr/debtest"
	"github.com/brinecm/brine/pkg/systest"
)

func TestServiceFunctions(t *testing.T) {
	systest.RequireCommands(t, "start-stop-daemon", "update-rc.d")
	debtest.InstallDeb(t, debtest.Daemon(t, "1.0-1"))
	ctx := context.Background()
	g, err := grains.Collect(ctx, "minion1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g["init"] == "systemd" {
		t.Skip("the packaged test daemon has a sysv init script only")
	}
	rt := &modules.Runtime{ID: "minion1", Grains: g}
	name := debtest.DaemonName
	steps := []struct {
		fun  string
		want any
	}{
		{"service.available", true},
		{"service.status", false},
		{"service.enabled", true},
		{"service.start", true},
		{"service.status", true},
		{"service.reload", true},
		{"service.restart", true},
		{"service.status", true},
		{"service.stop", true},
		{"service.status", false},
	}
	for i, s := range steps {
		got, err := modules.Call(ctx, rt, s.fun, []any{name}, nil)
		if err != nil || got != s.want {
			t.Fatalf("step %d: %s = %v, %v; want %v", i, s.fun, got, err, s.want)
		}
	}
	all, err := modules.Call(ctx, rt, "service.get_all", nil, nil)
	if err != nil || !slices.Contains(all.([]any), any(name)) {
		t.Errorf("get_all = %v, %v", all, err)
	}
	if ok, err := modules.Call(ctx, rt, "service.available", []any{"brine-test-nope"}, nil); err != nil || ok != false {
		t.Errorf("available(nope) = %v, %v", ok, err)
	}
	_, err = modules.Call(ctx, rt, "service.start", []any{"brine-test-nope"}, nil)
	if err == nil || !strings.Contains(err.Error(), "/etc/init.d/brine-test-nope: no such file or directory") {
		t.Errorf("start(nope): %v", err)
	}
}
