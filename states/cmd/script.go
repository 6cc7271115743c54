package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("cmd.script", states.Func[ScriptArgs]{
		Doc: "Downloads a script (source, or name: salt://...) through the minion's file " +
			"client and runs it with args, as cmd.run runs a command (cwd, env, runas, shell, " +
			"timeout, stdin, success_retcodes, stateful). template: jinja renders it first.",
		Apply:       script,
		ModWatch:    script,
		OwnRunCheck: true,
	})
}

// ScriptArgs are cmd.script's arguments: cmd.run's, plus where the script
// comes from and its arguments.
type ScriptArgs struct {
	RunArgs
	// Source is the script's URL; without it, the name's first word is.
	Source string `arg:"source"`
	// Args are the script's arguments, split as a shell splits them;
	// without them, the rest of the name is.
	Args     string `arg:"args"`
	Template string `arg:"template"`
}

// script is cmd.script.
func script(ctx context.Context, c *states.Call, a *ScriptArgs) states.Outcome {
	source, args := a.Source, a.Args
	if source == "" {
		source, args, _ = strings.Cut(strings.TrimSpace(c.Name), " ")
		if a.Args != "" {
			args = a.Args
		}
	}
	if c.Test {
		o := states.WouldChange(fmt.Sprintf("Command '%s' would have been executed", c.Name), nil)
		if a.Stateful {
			o.Comment = ""
		}
		return o
	}
	if c.Env == nil {
		return states.Failedf("Unable to cache script %s: no file client in this run", source)
	}
	body, err := c.Env.Source(ctx, source)
	if err != nil {
		return states.Failedf("Unable to cache script %s from saltenv 'base': %v", source, err)
	}
	if a.Template != "" {
		if body, err = c.Env.Render(ctx, a.Template, source, body, nil); err != nil {
			return states.Failedf("Unable to render script %s with %s: %v", source, a.Template, err)
		}
	}
	dir, err := os.MkdirTemp("", "brine-script-")
	if err != nil {
		return states.Failedf("creating a directory for script %s: %v", source, err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, filepath.Base(source))
	if err := os.WriteFile(path, body, 0o700); err != nil {
		return states.Failedf("writing script %s: %v", source, err)
	}
	if a.Runas != "" {
		if err := chownFor(dir, path, a.Runas); err != nil {
			return states.Failedf("handing script %s to %s: %v", source, a.Runas, err)
		}
	}
	line := shellQuote(path)
	if args != "" {
		line += " " + args
	}
	o := execute(ctx, line, &a.RunArgs)
	if o.Changes != nil && o.Comment == "" {
		o.Comment = fmt.Sprintf("Command '%s' run", c.Name)
	}
	if a.Stateful {
		return reinterpret(o)
	}
	return o
}

// chownFor hands the script's directory and file to user, so that a
// script run as another user can be read and run by it.
func chownFor(dir, path, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("uid %q of %s: %w", u.Uid, name, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("gid %q of %s: %w", u.Gid, name, err)
	}
	for _, p := range []string{dir, path} {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// reinterpret is Salt's stateful command protocol: the command's output
// says whether it changed anything, as a JSON object or as a last line of
// name=value pairs ("changed=yes comment='...'"); a comment given there is
// the state's comment, and without changed=yes the state has no changes.
func reinterpret(o states.Outcome) states.Outcome {
	ran := o.Changes
	o.Changes, o.Comment = nil, ""
	out, _ := ran["stdout"].(string)
	if out == "" {
		o.Comment, _ = ran["stderr"].(string)
		return o
	}
	data := map[string]any{}
	isJSON := json.Unmarshal([]byte(out), &data) == nil
	stdout := ""
	if !isJSON {
		if strings.HasPrefix(strings.TrimSpace(out), "{") || strings.HasPrefix(strings.TrimSpace(out), "[") {
			return states.Failed("script JSON output must be a JSON object (e.g., {})!", nil)
		}
		last := strings.TrimRight(out, "\n")
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			stdout, last = last[:i], last[i+1:]
		}
		words, err := splitWords(last)
		if err != nil {
			return states.Failed("Failed parsing script output! Stdout must be JSON or a line of name=value pairs.", ran)
		}
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if !ok || strings.Contains(v, "=") {
				return states.Failed("Failed parsing script output! Stdout must be JSON or a line of name=value pairs.", ran)
			}
			data[k] = v
		}
	}
	if c, ok := data["comment"]; ok {
		o.Comment = fmt.Sprint(c)
		delete(data, "comment")
	}
	if !isTrue(data["changed"]) {
		return o
	}
	for k, v := range ran {
		if _, set := data[k]; !set {
			data[k] = v
		}
	}
	data["stdout"] = stdout
	o.Changes = data
	return o
}

// isTrue is Salt's reading of changed: yes, true, 1 or a non-zero number.
func isTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case float64:
		return x != 0
	case string:
		switch strings.ToLower(x) {
		case "yes", "true", "1":
			return true
		}
		n, err := strconv.Atoi(x)
		return err == nil && n != 0
	}
	return false
}

// splitWords splits a line as a POSIX shell splits words (quotes and
// backslashes, no expansion).
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' {
				esc = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			esc, in = true, true
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 || esc {
		return nil, fmt.Errorf("unterminated quote or escape in %q", s)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}
