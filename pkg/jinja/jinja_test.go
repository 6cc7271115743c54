package jinja

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

const tree = "testdata/tree"

// fmtCall answers a salt function with its name and arguments.
func fmtCall(_ context.Context, fun string, args []any, kwargs map[string]any) (any, error) {
	if strings.HasPrefix(fun, "fail.") {
		return nil, errors.New("boom")
	}
	if fun == "grains.get" && len(args) == 1 && args[0] == "os" {
		return "Debian", nil
	}
	return fmt.Sprintf("%s%v%v", fun, args, kwargs), nil
}

func testVars() map[string]any {
	return map[string]any{
		"grains": map[string]any{"os": "Debian", "os_family": "Debian", "id": "web1", "ipv4": []any{"10.0.0.1", "127.0.0.1"}},
		"pillar": map[string]any{
			"web": map[string]any{"port": 8080, "users": []any{"ann", "bob"}},
			"app": map[string]any{"user": "svc"},
			"a:b": "literal",
		},
		"name": "brine",
	}
}

func render(t *testing.T, env *Env, src string) (string, error) {
	t.Helper()
	out, err := env.Render(context.Background(), "web/test.sls", []byte(src), testVars())
	return string(out), err
}

func TestNeedsRender(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"", false},
		{"pkg.installed:\n  - name: vim\n", false},
		{"data: {a: 1}", false},
		{"trailing {", false},
		{"{ {", false},
		{"{{ x }}", true},
		{"a: b\n{% if x %}", true},
		{"{# comment #}", true},
		{"text {x} {%", true},
	} {
		if got := NeedsRender([]byte(tc.src)); got != tc.want {
			t.Errorf("NeedsRender(%q) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

func TestRender(t *testing.T) {
	env := New(Options{Loader: dirLoader(tree), Call: fmtCall})
	for _, tc := range []struct {
		name, src, want string
	}{
		{"plain", "a: b\n", "a: b\n"},
		{"expression", "{{ 1 + 2 }} {{ name ~ '!' }}", "3 brine!"},
		{"if", "{% if grains.os == 'Debian' %}apt{% else %}yum{% endif %}", "apt"},
		{"for", "{% for u in pillar.web.users %}{{ loop.index }}:{{ u }} {% endfor %}", "1:ann 2:bob "},
		{"set", "{% set x = 'v' %}{{ x }}", "v"},
		{"filters", "{{ none_here | default('d') }} {{ name | upper }} {{ 'AB' | lower }} {{ pillar.web.users | join(',') }} {{ 'a-b' | replace('-', '_') }} {{ pillar.web.users | length }}", "d BRINE ab ann,bob a_b 2"},
		{"grains item", "{{ grains['os'] }}", "Debian"},
		{"grains attribute", "{{ grains.os }}", "Debian"},
		{"grains list index", "{{ grains.ipv4[0] }} {{ grains.get('ipv4:1') }}", "10.0.0.1 127.0.0.1"},
		{"pillar get nested", "{{ pillar.get('web:port', 80) }}", "8080"},
		{"pillar get default", "{{ pillar.get('web:missing', 'def') }}", "def"},
		{"pillar get default kwarg", "{{ pillar.get('nope', default='kw') }}", "kw"},
		{"pillar get literal colon key", "{{ pillar.get('a:b') }}", "literal"},
		{"pillar get delimiter", "{{ pillar.get('web/port', delimiter='/') }}", "8080"},
		{"pillar get missing is none", "{{ pillar.get('nope') is none }}", "True"},
		{"pillar nested items", "{{ pillar['web']['port'] }} {{ pillar.web.port }}", "8080 8080"},
		{"pillar items", "{% for k, v in pillar.items() %}{{ k }};{% endfor %}", "a:b;app;web;"},
		{"pillar keys values", "{{ pillar.keys() | join(',') }} {{ grains.values() | length }}", "a:b,app,web 4"},
		{"in", "{{ 'web' in pillar }} {{ 'x' in pillar }}", "True False"},
		{"salt no args", "{{ salt['test.ping']() }}", "test.ping[]map[]"},
		{"salt args", "{{ salt['cmd.run']('echo hi') }}", "cmd.run[echo hi]map[]"},
		{"salt kwargs", "{{ salt['pillar.get']('a:b', 'x', merge=True) }}", "pillar.get[a:b x]map[merge:true]"},
		{"salt result", "{% if salt['grains.get']('os') == 'Debian' %}yes{% endif %}", "yes"},
		{"salt attribute form", "{{ salt.cmd.run('ls', cwd='/') }}", "cmd.run[ls]map[cwd:/]"},
		{"salt dict arg", "{{ salt['x.y'](pillar.app) }}", "x.y[map[user:svc]]map[]"},
		{"macro", "{% macro m(a, b='2') %}{{ a }}-{{ b }}{% endmacro %}{{ m('1') }} {{ m('1', b='3') }}", "1-2 1-3"},
		{"from import with context", "{% from 'web/map.jinja' import nginx with context %}{{ nginx.pkg }} {{ nginx.port }}", "nginx 8080"},
		{"from import without context still sees grains", "{% from 'web/map.jinja' import nginx %}{{ nginx.conf }}", "/etc/nginx/nginx.conf"},
		{"from import alias and macro", "{% from 'web/map.jinja' import listen as l, nginx %}{{ l(nginx.port) }}", "listen 8080;"},
		{"import as", "{% import 'x/macros.jinja' as m %}{{ m.greet('you') }} {{ m.greeting }}", "hello you hello"},
		{"import sees locals with context", "{% set greeting = 'outer' %}{% import 'x/macros.jinja' as m with context %}{{ m.greet('x') }}", "hello x"},
		{"relative import", "{% from 'x/rel.jinja' import rel %}{{ rel }}", "hello from rel"},
		{"salt:// names", "{% from 'salt://x/macros.jinja' import greeting %}{{ greeting }}", "hello"},
		{"include", "a {% include 'x/part.sls' %}b", "a part-web1\nb"},
		{"include sees locals", "{% set grains = {'id': 'local'} %}{% include 'x/part.sls' %}", "part-local\n"},
		{"include ignore missing", "a{% include 'x/none.sls' ignore missing %}b", "ab"},
		{"import_yaml", "{% import_yaml 'x/defaults.yaml' as d %}{{ d.user }} {{ d.ports | join('/') }} {{ d[1] }}", "svc 80/443 one"},
		{"import_json", "{% import_json 'x/data.json' as j %}{{ j.name }} {{ j.replicas }}", "app 3"},
		{"import_text", "{% import_text 'x/motd.txt' as m %}{{ m | trim }}", "Welcome {{ not rendered }}"},
		{"dict update", "{% set d = {'a': 1} %}{% do d.update({'b': 2}) %}{{ d.b }} {{ d | length }}", "2 2"},
		{"dict setdefault and pop", "{% set d = {'a': 1} %}{% do d.setdefault('c', 3) %}{{ d.pop('a') }} {{ d | json }}", `1 {"c": 3}`},
		{"update yaml data", "{% import_yaml 'x/defaults.yaml' as d %}{% do d.update(pillar.app) %}{{ d.user }}", "svc"},
		{"keeps trailing newline", "{{ name }}\n", "brine\n"},
		{"comment", "a{# gone #}b", "ab"},
		{"range", "{{ range(3) | join(',') }} {{ range(1, 7, 2) | join(',') }} {{ range(3, 0, -1) | join(',') }} {{ range(0) | length }}", "0,1,2 1,3,5 3,2,1 0"},
		{"whitespace control", "{%- if true -%}\n  x\n{%- endif %}", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := render(t, env, tc.src)
			if err != nil {
				t.Fatalf("Render(%q): %v", tc.src, err)
			}
			if got != tc.want {
				t.Errorf("Render(%q)\n got %q\nwant %q", tc.src, got, tc.want)
			}
		})
	}
}

func TestRenderSLSWithMap(t *testing.T) {
	env := New(Options{Loader: dirLoader(tree), Call: fmtCall})
	src, err := dirLoader(tree).ReadFile("web/init.sls")
	if err != nil {
		t.Fatal(err)
	}
	out, err := env.Render(context.Background(), "web/init.sls", src, testVars())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- name: nginx\n", "- name: /etc/nginx/nginx.conf\n", `- contents: "listen 8080;"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSaltFilters(t *testing.T) {
	env := New(Options{})
	for _, tc := range []struct {
		name, src, want string
	}{
		{"json", "{{ {'b': [1, 'x'], 'a': none, 'c': true} | json }}", `{"a": null, "b": [1, "x"], "c": true}`},
		{"json indent", "{{ [1] | json(indent=2) }}", "[\n  1\n]"},
		{"json no html escape", "{{ '<a&b>' | json }}", `"<a&b>"`},
		{"json pillar", "{{ pillar.app | json }}", `{"user": "svc"}`},
		{"tojson", "{{ {'a': 1} | tojson }}", `{"a": 1}`},
		{"yaml flow", "{{ {'b': [1, 2], 'a': 'x y'} | yaml }}", "{a: x y, b: [1, 2]}"},
		{"yaml block", "{{ {'a': [1]} | yaml(False) }}", "a:\n  - 1"},
		{"yaml scalar", "{{ 'plain' | yaml }}", "plain"},
		{"yaml_encode quotes", "{{ 'foo: bar' | yaml_encode }}", "'foo: bar'"},
		{"yaml_encode plain", "{{ 'foo' | yaml_encode }} {{ true | yaml_encode }} {{ 3 | yaml_encode }}", "foo true 3"},
		{"yaml_dquote", `{{ 'say "hi"' | yaml_dquote }}`, `"say \"hi\""`},
		{"yaml_squote", "{{ \"it's\" | yaml_squote }}", `'it''s'`},
		{"load_yaml", "{% set d = 'a: [1, 2]\n1: x' | load_yaml %}{{ d.a[1] }} {{ d[1] }}", "2 x"},
		{"load_json", `{% set d = '{"a": {"b": 5}}' | load_json %}{{ d.a.b }}`, "5"},
		{"regex_match groups", "{{ 'abcd' | regex_match('^(.*)BC(.*)$', ignorecase=True) | join('|') }}", "a|d"},
		{"regex_match anchored", "{{ 'xabc' | regex_match('abc') is none }}", "True"},
		{"regex_search", "{{ 'xabc' | regex_search('a(b)c') | first }}", "b"},
		{"regex_search none", "{{ 'xyz' | regex_search('a') is none }}", "True"},
		{"regex_search multiline", "{{ 'a\nb1' | regex_search('^b(\\\\d)$', multiline=True) | first }}", "1"},
		{"regex_replace", "{{ 'a1b22' | regex_replace('(\\\\d+)', '<\\\\1>') }}", "a<1>b<22>"},
		{"regex_replace dollar", "{{ 'ab' | regex_replace('b', '$x') }}", "a$x"},
		{"unique", "{{ [1, 2, 1, 3] | unique | join(',') }}", "1,2,3"},
		{"sequence scalar", "{{ 'a' | sequence | length }}", "1"},
		{"sequence list", "{{ ['a', 'b'] | sequence | length }}", "2"},
		{"to_bool", "{{ 'Yes' | to_bool }} {{ 'no' | to_bool }} {{ 0 | to_bool }} {{ [1] | to_bool }}", "True False False True"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := render(t, env, tc.src)
			if err != nil {
				t.Fatalf("Render(%q): %v", tc.src, err)
			}
			if got != tc.want {
				t.Errorf("Render(%q)\n got %q\nwant %q", tc.src, got, tc.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	withAll := New(Options{Loader: dirLoader(tree), Call: fmtCall})
	bare := New(Options{})
	for _, tc := range []struct {
		name     string
		env      *Env
		src      string
		wantName string
		wantLine int
		wantMsg  string
	}{
		{"unknown filter", withAll, "a\nb\n{{ 'x' | foo }}", "web/test.sls", 3, "unknown filter 'foo'"},
		{"syntax error", withAll, "a\n{{ 1 + }}", "web/test.sls", 2, "syntax error"},
		{"unclosed block", withAll, "a\nb\n{% if true %}", "web/test.sls", 3, "syntax error"},
		{"empty tag", withAll, "a\n{% if %}", "web/test.sls", 2, "syntax error"},
		{"failing salt call", withAll, "a\n{{ salt['fail.now']('x') }}", "web/test.sls", 2, "salt['fail.now']: boom"},
		{"bad salt name", withAll, "{{ salt['nodot']() }}", "web/test.sls", 1, "function names have the form 'module.function'"},
		{"error in imported file", withAll, "{% from 'x/bad.jinja' import ok %}", "x/bad.jinja", 2, "salt['fail.now']: boom"},
		{"missing include", withAll, "\n{% include 'x/none.sls' %}", "web/test.sls", 2, "x/none.sls"},
		{"missing import name", withAll, "{% from 'x/macros.jinja' import nope %}", "web/test.sls", 1, `x/macros.jinja does not define "nope"`},
		{"outside tree", withAll, "{% include '../../etc/passwd' %}", "web/test.sls", 1, "outside the state tree"},
		{"recursive include", withAll, "{% include 'x/loop.sls' %}", "x/loop.sls", 1, "nesting deeper than"},
		{"recursive macro", withAll, "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "web/test.sls", 1, "macro f: nesting deeper than"},
		{"bad import_yaml", withAll, "{% import_yaml 'x/bad.yaml' as y %}", "x/bad.yaml", 1, "invalid YAML"},
		{"dict containing itself", withAll, "{% set x = {'a': 1} %}\n{% do x.update({'b': [x]}) %}{{ x }}", "web/test.sls", 2, "a dict cannot contain itself"},
		{"list containing itself", withAll, "{% set l = [] %}\n{% do l.append([1, [l]]) %}", "web/test.sls", 2, "a list cannot contain itself"},
		{"list extended with itself", withAll, "{% set l = [1] %}{% do l.extend([l]) %}", "web/test.sls", 1, "a list cannot contain itself"},
		{"expression nested too deeply", withAll, "{{ " + strings.Repeat("(", 500) + "1" + strings.Repeat(")", 500) + " }}", "web/test.sls", 1, "nested more than 200 levels"},
		{"undefined variable", withAll, "a\n\n{{ nope }}", "web/test.sls", 3, "Jinja variable 'nope' is undefined"},
		{"raise", withAll, "ok\n{{ raise('custom failure') }}", "web/test.sls", 2, "custom failure"},
		{"no loader", bare, "{% include 'x/part.sls' %}", "web/test.sls", 1, "no template loader configured"},
		{"no salt", bare, "{{ salt['test.ping']() }}", "web/test.sls", 1, "salt functions are not available"},
		{"range too long", withAll, "{% for i in range(1000000) %}{% endfor %}", "web/test.sls", 1, "more than 100000 items"},
		{"bad filter argument", withAll, "{{ 'x' | regex_search('(') }}", "web/test.sls", 1, "regex_search"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := render(t, tc.env, tc.src)
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("Render(%q) = %q, %v; want an *Error", tc.src, out, err)
			}
			if te.Name != tc.wantName || te.Line != tc.wantLine || !strings.Contains(te.Msg, tc.wantMsg) {
				t.Errorf("Render(%q) error = %#v (%v)\nwant name %q line %d msg containing %q", tc.src, te, te, tc.wantName, tc.wantLine, tc.wantMsg)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		err  Error
		want string
	}{
		{Error{Name: "web/init.sls", Line: 3, Msg: "unknown filter 'foo'"}, "web/init.sls:3: unknown filter 'foo'"},
		{Error{Name: "web/init.sls", Msg: "failed"}, "web/init.sls: failed"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// countingLoader counts reads per name.
type countingLoader struct {
	mu    sync.Mutex
	reads map[string]int
}

func (c *countingLoader) ReadFile(name string) ([]byte, error) {
	c.mu.Lock()
	c.reads[name]++
	c.mu.Unlock()
	return dirLoader(tree).ReadFile(name)
}

func TestCacheReadsOncePerName(t *testing.T) {
	loader := &countingLoader{reads: map[string]int{}}
	env := New(Options{Loader: loader, Call: fmtCall})
	src := "{% from 'web/map.jinja' import nginx with context %}{% include 'x/part.sls' %}" +
		"{% import_yaml 'x/defaults.yaml' as d %}{% include 'x/none.sls' ignore missing %}{{ nginx.pkg }} {{ d.user }}"
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			out, err := env.Render(context.Background(), fmt.Sprintf("web/s%d.sls", i%5), []byte(src), testVars())
			if err == nil && !strings.HasSuffix(string(out), "nginx svc") {
				err = fmt.Errorf("unexpected output %q", out)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{"web/map.jinja": 1, "x/part.sls": 1, "x/defaults.yaml": 1, "x/none.sls": 1}
	for name, n := range want {
		if loader.reads[name] != n {
			t.Errorf("%s read %d times, want %d", name, loader.reads[name], n)
		}
	}
	if len(loader.reads) != len(want) {
		t.Errorf("reads = %v, want only %v", loader.reads, want)
	}
}

func TestRenderSameNameNewSource(t *testing.T) {
	env := New(Options{})
	for _, src := range []string{"{{ 1 }}", "{{ 2 }}", "{{ 1 }}"} {
		out, err := env.Render(context.Background(), "a.sls", []byte(src), nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := src[3:4]; string(out) != want {
			t.Errorf("Render(%q) = %q, want %q", src, out, want)
		}
	}
}

type ctxKey struct{}

func TestCallGetsContextAndPlainArgs(t *testing.T) {
	var gotCtx any
	var gotArgs []any
	var gotKwargs map[string]any
	env := New(Options{Call: func(ctx context.Context, fun string, args []any, kwargs map[string]any) (any, error) {
		gotCtx, gotArgs, gotKwargs = ctx.Value(ctxKey{}), args, kwargs
		return nil, nil
	}})
	ctx := context.WithValue(context.Background(), ctxKey{}, "run-1")
	_, err := env.Render(ctx, "a.sls", []byte("{{ salt['m.f'](1, 'two', [3], pillar.app, flag=true, d={'k': 'v'}) }}"), testVars())
	if err != nil {
		t.Fatal(err)
	}
	if gotCtx != "run-1" {
		t.Errorf("CallFunc context value = %v, want run-1", gotCtx)
	}
	wantArgs := fmt.Sprint([]any{1, "two", []any{3}, map[string]any{"user": "svc"}})
	if fmt.Sprint(gotArgs) != wantArgs {
		t.Errorf("args = %v, want %v", gotArgs, wantArgs)
	}
	if _, ok := gotArgs[3].(map[string]any); !ok {
		t.Errorf("dict argument is %T, want map[string]any", gotArgs[3])
	}
	if fmt.Sprint(gotKwargs) != "map[d:map[k:v] flag:true]" {
		t.Errorf("kwargs = %v", gotKwargs)
	}
}

func TestCancelledContext(t *testing.T) {
	env := New(Options{Call: fmtCall})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := env.Render(ctx, "a.sls", []byte("{{ 1 }}"), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Render with cancelled context: %v, want context.Canceled", err)
	}
}

func TestSaltAnswersIn(t *testing.T) {
	funcs := func() []string { return []string{"test.ping", "cmd.run"} }
	for _, c := range []struct {
		src, want string
		funcs     func() []string
	}{
		{"{{ 'test.ping' in salt }}", "True", funcs},
		{"{{ 'nonexistent_module.function' in salt }}", "False", funcs},
		{"{{ 'nonexistent_module.function' not in salt }}", "True", funcs},
		{"{{ 1 in salt }}", "False", funcs},
		{"{{ salt | list }}", "['cmd.run', 'test.ping']", funcs},
		{"{{ salt | length }}", "2", funcs},
		{"{% for f in salt %}{{ f }};{% endfor %}", "cmd.run;test.ping;", funcs},
		{"{{ 'test.ping' in salt }}", "False", nil},
		{"{{ salt | length }}", "0", nil},
	} {
		env := New(Options{Call: fmtCall, Functions: c.funcs})
		out, err := env.Render(context.Background(), "a.sls", []byte(c.src), nil)
		if err != nil {
			t.Errorf("Render(%q): %v", c.src, err)
			continue
		}
		if string(out) != c.want {
			t.Errorf("Render(%q) = %q, want %q", c.src, out, c.want)
		}
	}
}
