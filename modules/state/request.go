package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/states"
)

// requestFile is where staged state requests are kept, under the minion's
// data dir (Salt keeps them in its cachedir as req_state.p).
const requestFile = "state_requests.json"

// defaultRequest is the name of a request staged without one.
const defaultRequest = "default"

// stagedRequest is one request staged by state.request: the run to make
// and the test run that showed what it would change.
type stagedRequest struct {
	Mods    []string         `json:"mods"`
	Kwargs  map[string]any   `json:"kwargs"`
	TestRun result.Highstate `json:"test_run"`
}

// requestArgs are state.request's: the SLS files, the request's name and
// the run's keyword arguments (those of state.apply).
type requestArgs struct {
	Name   string         `arg:"name"`
	Mods   []string       `arg:"mods"`
	Kwargs map[string]any `arg:"*"`
}

// requestNameArgs are state.check_request's and state.clear_request's.
type requestNameArgs struct {
	Name string `arg:"name"`
}

// runRequestArgs are state.run_request's: the request and keyword
// arguments that override the staged ones.
type runRequestArgs struct {
	Name   string         `arg:"name"`
	Kwargs map[string]any `arg:"*"`
}

func init() {
	modules.Register("state.request", modules.Func[requestArgs]{
		Doc: "Test-run the named SLS files (the highstate when none) and stage the run for state.run_request: " +
			"state.request web name=deploy.",
		Params: []string{"mods..."},
		Call:   request,
	})
	modules.Register("state.check_request", modules.Func[requestNameArgs]{
		Doc:    "Show the staged state requests, or the one named: mods, kwargs and the test run.",
		Params: []string{"name"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *requestNameArgs) (any, error) {
			reqs, err := loadRequests(requestPath(rt))
			if err != nil {
				return nil, err
			}
			if a.Name == "" {
				return requestsData(reqs), nil
			}
			r, ok := reqs[a.Name]
			if !ok {
				return nil, fmt.Errorf("no state request named %q is staged (state.check_request lists them)", a.Name)
			}
			return requestData(r), nil
		},
	})
	modules.Register("state.clear_request", modules.Func[requestNameArgs]{
		Doc:    "Drop the staged state requests, or the one named; False when that one is not staged.",
		Params: []string{"name"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *requestNameArgs) (any, error) {
			path := requestPath(rt)
			if a.Name == "" {
				if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return nil, fmt.Errorf("clear the state requests: %w", err)
				}
				return true, nil
			}
			reqs, err := loadRequests(path)
			if err != nil {
				return nil, err
			}
			if _, ok := reqs[a.Name]; !ok {
				return false, nil
			}
			delete(reqs, a.Name)
			return true, saveRequests(path, reqs)
		},
	})
	modules.Register("state.run_request", modules.Func[runRequestArgs]{
		Doc:    "Apply the state request staged by state.request (name default: default) and clear it; {} when none is staged.",
		Params: []string{"name"},
		Call:   runRequest,
	})
}

// requestPath is the minion's staged requests file: under data_dir of the
// configuration, else the default minion data dir.
func requestPath(rt *modules.Runtime) string {
	dir, _ := rt.Opts["data_dir"].(string)
	if dir == "" {
		dir = config.DefaultMinionDataDir
	}
	return filepath.Join(dir, requestFile)
}

// request test-runs the SLS files and stages the run under its name.
func request(ctx context.Context, rt *modules.Runtime, a *requestArgs) (any, error) {
	kwargs := maps.Clone(a.Kwargs)
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	kwargs["test"] = true
	ra, err := requestRunArgs(a.Mods, kwargs)
	if err != nil {
		return nil, fmt.Errorf("state.request: %w", err)
	}
	path := requestPath(rt)
	reqs, err := loadRequests(path)
	if err != nil {
		return nil, err
	}
	ret, err := run(ctx, rt, ra)
	if err != nil {
		return nil, err
	}
	name := a.Name
	if name == "" {
		name = defaultRequest
	}
	reqs[name] = stagedRequest{Mods: splitMods(a.Mods), Kwargs: kwargs, TestRun: ret}
	if err := saveRequests(path, reqs); err != nil {
		return nil, err
	}
	return ret, nil
}

// runRequest applies a staged request, with a's keyword arguments over
// the staged ones and test mode off unless a asks for it, and clears it.
func runRequest(ctx context.Context, rt *modules.Runtime, a *runRequestArgs) (any, error) {
	path := requestPath(rt)
	reqs, err := loadRequests(path)
	if err != nil {
		return nil, err
	}
	name := a.Name
	if name == "" {
		name = defaultRequest
	}
	r, ok := reqs[name]
	if !ok {
		return map[string]any{}, nil
	}
	kwargs := maps.Clone(r.Kwargs)
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	delete(kwargs, "test")
	maps.Copy(kwargs, a.Kwargs)
	ra, err := requestRunArgs(r.Mods, kwargs)
	if err != nil {
		return nil, fmt.Errorf("state.run_request %s: %w", name, err)
	}
	ret, err := run(ctx, rt, ra)
	if err != nil {
		return nil, err
	}
	delete(reqs, name)
	if err := saveRequests(path, reqs); err != nil {
		return nil, err
	}
	return ret, nil
}

// requestRunArgs decodes a request's keyword arguments as state.apply's.
func requestRunArgs(mods []string, kwargs map[string]any) (*runArgs, error) {
	var ra runArgs
	if err := states.Decode(kwargs, &ra); err != nil {
		return nil, err
	}
	ra.Mods = slices.Clone(mods)
	return &ra, nil
}

// loadRequests reads the staged requests; none when the file is absent.
func loadRequests(path string) (map[string]stagedRequest, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]stagedRequest{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the staged state requests: %w", err)
	}
	reqs := map[string]stagedRequest{}
	if err := json.Unmarshal(b, &reqs); err != nil {
		return nil, fmt.Errorf("read the staged state requests in %s: %w (state.clear_request removes them)", path, err)
	}
	return reqs, nil
}

// saveRequests writes the staged requests (0600, replaced atomically), or
// removes the file when none are left.
func saveRequests(path string, reqs map[string]stagedRequest) error {
	if len(reqs) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("clear the state requests: %w", err)
		}
		return nil
	}
	b, err := json.Marshal(reqs)
	if err != nil {
		return fmt.Errorf("encode the state requests: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("stage the state request: %w", err)
	}
	f, err := os.CreateTemp(dir, requestFile+".*")
	if err != nil {
		return fmt.Errorf("stage the state request: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("stage the state request in %s: %w", path, werr)
	}
	return nil
}

// requestsData is the staged requests as state.check_request returns them.
func requestsData(reqs map[string]stagedRequest) map[string]any {
	out := make(map[string]any, len(reqs))
	for name, r := range reqs {
		out[name] = requestData(r)
	}
	return out
}

// requestData is one staged request as Salt shows it.
func requestData(r stagedRequest) map[string]any {
	mods := make([]any, len(r.Mods))
	for i, m := range r.Mods {
		mods[i] = m
	}
	return map[string]any{"mods": mods, "kwargs": r.Kwargs, "test_run": r.TestRun}
}
