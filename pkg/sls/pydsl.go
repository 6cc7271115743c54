package sls

import (
	"bytes"
	"context"
	_ "embed" // the pydsl bootstrap
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/brinecm/brine/pkg/jinja"
)

// pydslBootstrap is the Python module that gives a #!pydsl SLS pydsl's API
// and prints what it declares as JSON.
//
//go:embed pydsl.py
var pydslBootstrap string

// pydslMaxOutput bounds what one pydsl render prints (its states as JSON,
// and separately what the SLS writes to stderr).
const pydslMaxOutput = 64 << 20

// errPyDSLOff is the error of a pydsl render where pydsl is not allowed.
var errPyDSLOff = errors.New("the pydsl renderer runs Python with brine's rights on the host that renders, and is off: " +
	"set pydsl: True in the master configuration (the minion's for brine call --local; --pydsl for brine test render) to allow it")

// errNoPython is the error of a pydsl render on a host without python3.
var errNoPython = errors.New("the pydsl renderer needs python3 on the host that renders; install python3")

// isPyDSL reports whether src is a pydsl SLS: its first line is a
// renderer shebang whose first renderer is pydsl.
func isPyDSL(src []byte) bool {
	if !bytes.HasPrefix(src, []byte("#!")) {
		return false
	}
	line, _, _ := bytes.Cut(src[2:], []byte("\n"))
	first, _, _ := strings.Cut(string(line), "|")
	return strings.TrimSpace(first) == "pydsl"
}

// pydslJob is what the bootstrap reads on stdin.
type pydslJob struct {
	Source  string         `json:"source"`
	File    string         `json:"file"`
	SLS     string         `json:"sls"`
	Grains  map[string]any `json:"grains"`
	Pillar  map[string]any `json:"pillar"`
	Opts    map[string]any `json:"opts"`
	Saltenv string         `json:"saltenv"`
	Salt    []string       `json:"salt"`
}

// pydslDecl is one ID declaration the SLS made: its ID, the SLS line that
// created it and its body ({module: [function, {arg: value}, ...]}).
type pydslDecl struct {
	ID   string
	Line int
	Body json.RawMessage
}

// UnmarshalJSON reads the bootstrap's [id, line, body] triple.
func (d *pydslDecl) UnmarshalJSON(b []byte) error {
	var t []json.RawMessage
	if err := json.Unmarshal(b, &t); err != nil {
		return err
	}
	if len(t) != 3 {
		return fmt.Errorf("want [id, line, body], got %d items", len(t))
	}
	if err := json.Unmarshal(t[0], &d.ID); err != nil {
		return err
	}
	if err := json.Unmarshal(t[1], &d.Line); err != nil {
		return err
	}
	d.Body = t[2]
	return nil
}

// pydslResult is what the bootstrap prints.
type pydslResult struct {
	States  []pydslDecl `json:"states"`
	Extend  []pydslDecl `json:"extend"`
	Include [][2]any    `json:"include"`
	Error   string      `json:"error"`
	Line    int         `json:"line"`
}

// pydsl renders the pydsl SLS name (read from file) with the host's
// python3 and returns its states as YAML, each ID declaration on the line
// of the SLS that created it, so that compile errors name that line.
func (r *run) pydsl(name, file string, src []byte) ([]byte, bool) {
	at := Pos{File: file, Line: 1}
	if line, _, _ := bytes.Cut(src, []byte("\n")); strings.Contains(string(line), "|") {
		r.errs.add(at, "", "the pydsl renderer runs alone in brine: write #!pydsl, not %q", strings.TrimSpace(string(line)))
		return nil, false
	}
	if !r.c.cfg.PyDSL {
		r.errs.add(at, "", "%v", errPyDSLOff)
		return nil, false
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		r.errs.add(at, "", "%v", errNoPython)
		return nil, false
	}
	r.pillarNeeded()
	job, err := json.Marshal(pydslJob{Source: string(src), File: file, SLS: name, Grains: r.c.cfg.Grains,
		Pillar: r.pillar, Opts: r.c.cfg.Opts, Saltenv: r.c.cfg.Saltenv, Salt: r.c.functions()})
	if err != nil {
		r.errs.add(at, "", "pydsl: pass grains, pillar and opts to python3: %v", err)
		return nil, false
	}
	limit := r.c.cfg.Limits.RenderTime
	if limit <= 0 {
		limit = jinja.DefaultMaxRenderTime
	}
	ctx, cancel := context.WithTimeout(r.ctx, limit)
	defer cancel()
	// -I: no user site, no PYTHON* variables, no current directory on the
	// module path; -B: no bytecode files.
	cmd := exec.CommandContext(ctx, python, "-I", "-B", "-c", pydslBootstrap)
	cmd.Stdin = bytes.NewReader(job)
	stdout, stderr := &capped{max: pydslMaxOutput}, &capped{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("stopped after %s (jinja_max_render_time): %w", limit, ctx.Err())
		}
		r.errs.add(at, "", "pydsl: python3: %v%s", err, stderr.tail())
		return nil, false
	}
	if stdout.over {
		r.errs.add(at, "", "pydsl: the states python3 printed are larger than %d bytes", pydslMaxOutput)
		return nil, false
	}
	var res pydslResult
	if err := json.Unmarshal(stdout.b.Bytes(), &res); err != nil {
		r.errs.add(at, "", "pydsl: read the states python3 printed: %v%s", err, stderr.tail())
		return nil, false
	}
	if res.Error != "" {
		r.errs.add(Pos{File: file, Line: res.Line}, "", "pydsl: %s", res.Error)
		return nil, false
	}
	return res.yaml(), true
}

// yaml writes the result as a YAML mapping (JSON values in flow style),
// each entry on the line the SLS made it, or the first line after the
// entry before it.
func (res *pydslResult) yaml() []byte {
	var b bytes.Buffer
	line := 1 // the line b's next byte is on
	at := func(want int) {
		for line < want {
			b.WriteByte('\n')
			line++
		}
	}
	key := func(s string) string {
		k, _ := json.Marshal(s) // a JSON string is a YAML double-quoted scalar
		return string(k)
	}
	end := func() {
		b.WriteByte('\n')
		line++
	}
	if len(res.Include) > 0 {
		first, _ := res.Include[0][1].(float64)
		at(int(first))
		names := make([]string, len(res.Include))
		for i, inc := range res.Include {
			s, _ := inc[0].(string)
			names[i] = key(s)
		}
		b.WriteString("include: [" + strings.Join(names, ", ") + "]")
		end()
	}
	for _, d := range res.States {
		at(d.Line)
		b.WriteString(key(d.ID) + ": ")
		b.Write(d.Body)
		end()
	}
	if len(res.Extend) > 0 {
		at(res.Extend[0].Line)
		b.WriteString("extend:")
		end()
		for _, d := range res.Extend {
			at(d.Line)
			b.WriteString("  " + key(d.ID) + ": ")
			b.Write(d.Body)
			end()
		}
	}
	return b.Bytes()
}

// capped is a buffer that keeps the first max bytes written to it and
// drops the rest, so that the writer is never blocked.
type capped struct {
	b    bytes.Buffer
	max  int
	over bool
}

// Write keeps what fits below max.
func (c *capped) Write(p []byte) (int, error) {
	room := c.max - c.b.Len()
	if len(p) > room {
		c.over = true
		c.b.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.b.Write(p)
}

// tail is the end of what was written, for an error message.
func (c *capped) tail() string {
	s := strings.TrimSpace(c.b.String())
	if s == "" {
		return ""
	}
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return ": " + s
}
