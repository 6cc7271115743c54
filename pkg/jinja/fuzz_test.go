package jinja

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// dirLoader reads templates from a directory on disk.
type dirLoader string

func (d dirLoader) ReadFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), filepath.FromSlash(name)))
}

// echoCall answers every salt function with its name, failing for fail.*.
func echoCall(_ context.Context, fun string, args []any, kwargs map[string]any) (any, error) {
	if filepath.Ext(fun) == ".now" {
		return nil, errors.New("boom")
	}
	return map[string]any{"fun": fun, "args": args, "kwargs": kwargs}, nil
}

func FuzzRender(f *testing.F) {
	for _, seed := range []string{
		"",
		"plain text",
		"{{ grains.os }} {{ pillar.get('web:port', 80) }}",
		"{% for k, v in pillar.items() %}{{ k }}={{ v }}\n{% endfor %}",
		"{% from 'web/map.jinja' import nginx with context %}{{ nginx | json }}",
		"{% import_yaml 'x/defaults.yaml' as d %}{{ d | yaml }}",
		"{% include 'x/part.sls' %}{{ salt['test.ping']() }}",
		"{% macro m(a, b=2) %}{{ a ~ b }}{% endmacro %}{{ m(1) }}",
		"{% set x = {'a': [1, 2]} %}{% do x.update({'b': 3}) %}{{ x | tojson }}",
		"{{ 'a,b' | regex_search('(a),(b)') }}{{ 'x' | yaml_dquote }}{{ '[1]' | load_yaml }}",
		"{% if %}", "{{", "{% for %}{% endif %}", "{{ 1 / 0 }}", "{{ salt['x'] }}",
	} {
		f.Add(seed)
	}
	env := New(Options{Loader: dirLoader("testdata/tree"), Call: echoCall})
	vars := map[string]any{
		"grains": map[string]any{"os": "Debian", "os_family": "Debian", "id": "web1"},
		"pillar": map[string]any{"web": map[string]any{"port": 8080}},
	}
	f.Fuzz(func(t *testing.T, src string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := env.Render(ctx, "fuzz.sls", []byte(src), vars)
		if err != nil {
			var te *Error
			if !errors.As(err, &te) && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error is not a *Error: %T %v", err, err)
			}
			if out != nil {
				t.Fatalf("output %q with error %v", out, err)
			}
		}
	})
}

func BenchmarkRenderMap(b *testing.B) {
	src, err := os.ReadFile("testdata/tree/web/init.sls")
	if err != nil {
		b.Fatal(err)
	}
	vars := map[string]any{
		"grains": map[string]any{"os": "Debian", "os_family": "Debian", "id": "web1"},
		"pillar": map[string]any{"web": map[string]any{"port": 8080}},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		env := New(Options{Loader: dirLoader("testdata/tree"), Call: echoCall})
		for range 100 {
			if _, err := env.Render(ctx, "web/init.sls", src, vars); err != nil {
				b.Fatal(err)
			}
		}
	}
}
