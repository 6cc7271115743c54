package jinja

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// idKey carries a minion id in a render's context.
type idKey struct{}

// minionCall answers salt['who.ami']() with the id the Env was made for,
// failing when the render's context belongs to another minion.
func minionCall(id string) CallFunc {
	return func(ctx context.Context, fun string, _ []any, _ map[string]any) (any, error) {
		if got := ctx.Value(idKey{}); got != id {
			return nil, fmt.Errorf("%s: called with the context of %v, want %s", fun, got, id)
		}
		return "call-" + id, nil
	}
}

// TestSharedCacheNoCrossTalk renders one shared template (with an import
// with context, import_yaml, a macro, a loop, an include and salt calls)
// concurrently for many minions, each with its own Env, grains, pillar,
// opts, salt function and context, and checks that each output is that
// minion's own and that the template was parsed once for all of them.
func TestSharedCacheNoCrossTalk(t *testing.T) {
	const name = "shared/minion.sls"
	src, err := os.ReadFile(filepath.Join(tree, name))
	if err != nil {
		t.Fatal(err)
	}
	cache := NewCache()
	type minion struct {
		id, family, conf, user string
		port                   int
		users                  []any
	}
	var minions []minion
	for i := range 60 {
		m := minion{id: fmt.Sprintf("m%02d", i), family: "Debian", conf: "/etc/nginx/nginx.conf",
			user: fmt.Sprintf("svc%d", i), port: 8000 + i, users: []any{fmt.Sprintf("u%d", i), "common"}}
		if i%2 == 1 {
			m.family, m.conf = "RedHat", "/etc/nginx/conf.d/default.conf"
		}
		minions = append(minions, m)
	}
	envs := make([]*Env, len(minions))
	outs := make([]string, len(minions))
	errs := make([]error, len(minions))
	var wg sync.WaitGroup
	for i, m := range minions {
		envs[i] = New(Options{Loader: dirLoader(tree), Call: minionCall(m.id), Cache: cache})
		wg.Go(func() {
			vars := map[string]any{
				"grains": map[string]any{"id": m.id, "os_family": m.family},
				"pillar": map[string]any{"web": map[string]any{"port": m.port}, "app": map[string]any{"user": m.user}, "users": m.users},
				"opts":   map[string]any{"tag": "opt-" + m.id},
			}
			ctx := context.WithValue(context.Background(), idKey{}, m.id)
			out, err := envs[i].Render(ctx, name, src, vars)
			outs[i], errs[i] = string(out), err
		})
	}
	wg.Wait()
	for i, m := range minions {
		if errs[i] != nil {
			t.Errorf("%s: %v", m.id, errs[i])
			continue
		}
		want := fmt.Sprintf("id=%s;os=%s;conf=%s;port=%d;user=%s;salt=call-%s;opts=opt-%s;\nU%s,COMMON,\npart for %s\n\n",
			m.id, m.family, m.conf, m.port, m.user, m.id, m.id, strings.TrimPrefix(m.users[0].(string), "u"), m.id)
		if outs[i] != want {
			t.Errorf("%s: output\n%q\nwant\n%q", m.id, outs[i], want)
		}
	}
	first, err := envs[0].parse(envs[0].source(name, src))
	if err != nil {
		t.Fatal(err)
	}
	for i, env := range envs[1:] {
		if got, _ := env.parse(env.source(name, src)); got != first {
			t.Fatalf("%s parsed its own copy of %s, want the shared one", minions[i+1].id, name)
		}
	}
	for _, n := range []string{name, "web/map.jinja", "x/defaults.yaml", "shared/part.sls"} {
		if got := len(cache.files[n]); got != 1 {
			t.Errorf("cache holds %d entries for %s, want 1", got, n)
		}
	}
}

// TestSharedCacheLimitsPerRender renders one shared template concurrently
// for minions with different limits and contexts: a limit hit or a
// cancellation in one minion's render must not touch another's.
func TestSharedCacheLimitsPerRender(t *testing.T) {
	const src = "{% for i in range(pillar.n) %}x{% endfor %}|{{ 'y' | center(pillar.w) }}|{{ 'ab' * pillar.k }}"
	cache := NewCache()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name      string
		opts      Options
		ctx       context.Context
		wantLimit string // "" when the render must succeed
		wantErr   error
	}{
		{"steps limit", Options{MaxSteps: 100}, context.Background(), LimitSteps, nil},
		{"output limit", Options{MaxOutputBytes: 1000}, context.Background(), LimitOutput, nil},
		{"time limit", Options{MaxRenderTime: time.Nanosecond}, context.Background(), LimitTime, nil},
		{"cancelled", Options{}, cancelled, "", context.Canceled},
		{"defaults", Options{}, context.Background(), "", nil},
		{"roomy", Options{MaxSteps: 5000, MaxOutputBytes: 1 << 20}, context.Background(), "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]any{"pillar": map[string]any{"n": 2000, "w": 1500, "k": 600}}
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					opts := tc.opts
					opts.Cache = cache
					out, err := New(opts).Render(tc.ctx, "limits.sls", []byte(src), vars)
					var le *LimitError
					switch {
					case tc.wantLimit != "":
						if !errors.As(err, &le) || le.Limit != tc.wantLimit {
							t.Errorf("Render = %d bytes, %v; want a %s limit error", len(out), err, tc.wantLimit)
						}
					case tc.wantErr != nil:
						if !errors.Is(err, tc.wantErr) {
							t.Errorf("Render = %d bytes, %v; want %v", len(out), err, tc.wantErr)
						}
					case err != nil:
						t.Errorf("Render: %v", err)
					default:
						parts := strings.Split(string(out), "|")
						if len(parts) != 3 {
							t.Fatalf("Render = %.60q..., want 3 parts", out)
						}
						loops, centred, repeated := parts[0], parts[1], parts[2]
						if loops != strings.Repeat("x", 2000) || len(centred) != 1500 || strings.TrimSpace(centred) != "y" || repeated != strings.Repeat("ab", 600) {
							t.Errorf("Render = %d bytes %.60q..., want 2000 x's, 'y' centred in 1500, 600 'ab'", len(out), out)
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// mapLoader serves templates from memory.
type mapLoader map[string]string

func (m mapLoader) ReadFile(name string) ([]byte, error) {
	s, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("read %s: %w", name, os.ErrNotExist)
	}
	return []byte(s), nil
}

// TestSharedCacheNeverStale checks that Envs sharing a Cache but seeing
// different sources under one name (a file changed during the run) each
// render their own source, for templates given to Render, imported, and
// extended.
func TestSharedCacheNeverStale(t *testing.T) {
	cache := NewCache()
	for _, tc := range []struct {
		name   string
		loader mapLoader
		src    string
		want   string
	}{
		{"given v1", nil, "one {{ 1 }}", "one 1"},
		{"given v2", nil, "two {{ 2 }}", "two 2"},
		{"given v1 again", nil, "one {{ 1 }}", "one 1"},
		{"import v1", mapLoader{"m.jinja": "{% set v = 'first' %}"}, "{% from 'm.jinja' import v %}{{ v }}", "first"},
		{"import v2", mapLoader{"m.jinja": "{% set v = 'second' %}"}, "{% from 'm.jinja' import v %}{{ v }}", "second"},
		{"extends v1", mapLoader{"base.jinja": "A{% block b %}{% endblock %}"}, "{% extends 'base.jinja' %}{% block b %}x{% endblock %}", "Ax"},
		{"extends v2", mapLoader{"base.jinja": "B{% block b %}{% endblock %}"}, "{% extends 'base.jinja' %}{% block b %}x{% endblock %}", "Bx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := New(Options{Loader: tc.loader, Cache: cache})
			out, err := env.Render(context.Background(), "same.sls", []byte(tc.src), nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("Render = %q, want %q", out, tc.want)
			}
		})
	}
}
