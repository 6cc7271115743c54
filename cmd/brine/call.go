package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/grains"
	"github.com/brinecm/brine/pkg/output"
	"github.com/brinecm/brine/pkg/sls"
)

type callFlags struct {
	local       bool
	fileRoots   []string
	pillarRoots []string
	config      string
	id          string
	out         string
	noColor     bool
	verbose     bool
	logLevel    string
}

func newCallCommand() *cobra.Command {
	var f callFlags
	cmd := &cobra.Command{
		Use:   "call --local [flags] FUNCTION [ARG...] [key=value...]",
		Short: "Run a function on this host, as salt-call does",
		Long: `Run an execution function on this host. With --local, recipes are rendered
here from --file-root and --pillar-root, exactly like salt-call --local.

Exit status: 0 when every state succeeded (or the function returned),
2 when the run happened and some state failed, 1 on a usage or compile error.`,
		Example: `  brine call --local test.ping
  brine call --local --file-root ./srv state.apply web test=True
  brine call --local state.single file.managed /tmp/motd contents='hello'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, args)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.local, "local", false, "render and run here, without a master")
	fl.StringArrayVar(&f.fileRoots, "file-root", nil, "state tree directory (repeatable; default "+config.DefaultFileRoot+")")
	fl.StringArrayVar(&f.pillarRoots, "pillar-root", nil, "pillar tree directory (repeatable; default "+config.DefaultPillarRoot+")")
	fl.StringVar(&f.config, "config", config.DefaultMinionPath, "minion configuration file")
	fl.StringVar(&f.id, "id", "", "minion id (default: the configuration's id, else the host name)")
	outputFlagsTo(fl, &f.out, &f.noColor, &f.verbose)
	fl.StringVar(&f.logLevel, "log-level", "warning", "log level: debug, info, warning, error")
	return cmd
}

func (f *callFlags) run(cmd *cobra.Command, args []string) error {
	// A call is a short-lived process: trade memory for less collection work.
	debug.SetGCPercent(400)
	if !f.local {
		return &exitStatus{code: exitError, err: errors.New("brine call needs --local: calls through a master are not available yet")}
	}
	log, err := newLogger(cmd.ErrOrStderr(), f.logLevel)
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	fun, pos, kw, err := parseCallArgs(args)
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	cfg, err := config.LoadMinion(f.config)
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	rt, err := f.runtime(cmd, cfg, log)
	if err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	data, callErr := modules.Call(cmd.Context(), rt, fun, pos, kw)
	code := exitOK
	var compileErrs sls.Errors
	switch {
	case errors.As(callErr, &compileErrs):
		lines := make(output.CompileErrors, len(compileErrs))
		for i, e := range compileErrs {
			lines[i] = e.Error()
		}
		data, code = lines, exitError
	case callErr != nil:
		return &exitStatus{code: exitError, err: callErr}
	}
	// A state run with a failed state, or a test run with a failed test.
	if f, ok := data.(interface{ Failed() bool }); ok && f.Failed() {
		code = exitStateFailed
	}
	w := cmd.OutOrStdout()
	opts := output.Options{Color: !f.noColor && os.Getenv("NO_COLOR") == "" && isTerminal(w), Verbose: f.verbose}
	if err := output.Write(w, f.out, output.Return{Minion: "local", Data: data}, opts); err != nil {
		return &exitStatus{code: exitError, err: err}
	}
	if code != exitOK {
		return &exitStatus{code: code}
	}
	return nil
}

// runtime builds the local minion's runtime from flags over configuration.
func (f *callFlags) runtime(cmd *cobra.Command, cfg *config.Minion, log *slog.Logger) (*modules.Runtime, error) {
	if f.id != "" {
		cfg.ID = f.id
	}
	if cfg.ID == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("find minion id: %w", err)
		}
		cfg.ID = host
	}
	if len(f.fileRoots) > 0 {
		cfg.FileRoots = f.fileRoots
	}
	if len(cfg.FileRoots) == 0 {
		cfg.FileRoots = []string{config.DefaultFileRoot}
	}
	if len(f.pillarRoots) > 0 {
		cfg.PillarRoots = f.pillarRoots
	}
	if len(cfg.PillarRoots) == 0 {
		cfg.PillarRoots = []string{config.DefaultPillarRoot}
	}
	g, err := grains.Collect(cmd.Context(), cfg.ID, cfg.Grains)
	if err != nil {
		return nil, fmt.Errorf("collect grains: %w", err)
	}
	return &modules.Runtime{ID: cfg.ID, Grains: g, FileRoots: cfg.FileRoots, PillarRoots: cfg.PillarRoots,
		Opts: cfg.Map(), Log: log, FileEnvs: cfg.FileEnvs, PillarEnvs: cfg.PillarEnvs}, nil
}

// outputFlagsTo adds --out, --no-color and --state-verbose.
func outputFlagsTo(fl *pflag.FlagSet, out *string, noColor, verbose *bool) {
	fl.StringVar(out, "out", "", "output format: "+strings.Join(output.Formats(), ", ")+" (default highstate)")
	fl.BoolVar(noColor, "no-color", false, "never colour the output")
	fl.BoolVar(verbose, "state-verbose", true, "highstate output: also print states that succeeded without changes")
}

// outputFlags adds --out alone.
func outputFlags(cmd *cobra.Command, out *string) {
	cmd.Flags().StringVar(out, "out", "", "output format: "+strings.Join(output.Formats(), ", ")+" (default highstate)")
}

// isKwarg reports whether a starts with an identifier and "=": key=value.
func isKwarg(a string) bool {
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c == '=':
			return i > 0
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return false
}

// parseCallArgs splits FUNCTION [ARG...] [key=value...]; values are read as
// YAML, as Salt does (test=True is a boolean, pillar='{a: 1}' a mapping).
func parseCallArgs(args []string) (string, []any, map[string]any, error) {
	fun := args[0]
	if !strings.Contains(fun, ".") {
		return "", nil, nil, fmt.Errorf("%q is not a function: expected module.function, e.g. test.ping", fun)
	}
	var pos []any
	kw := map[string]any{}
	for _, a := range args[1:] {
		if isKwarg(a) {
			k, v, _ := strings.Cut(a, "=")
			val, err := yamlValue(v)
			if err != nil {
				return "", nil, nil, fmt.Errorf("argument %s: %w", k, err)
			}
			kw[k] = val
			continue
		}
		val, err := yamlValue(a)
		if err != nil {
			return "", nil, nil, fmt.Errorf("argument %q: %w", a, err)
		}
		pos = append(pos, val)
	}
	return fun, pos, kw, nil
}

func yamlValue(s string) (any, error) {
	if s == "" {
		return "", nil
	}
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return s, nil // not YAML: a plain string, as Salt keeps it
	}
	switch v.(type) {
	case map[string]any, []any, bool, int, float64, nil:
		return v, nil
	}
	return s, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warning", "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, fmt.Errorf("log level %q: expected debug, info, warning or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
