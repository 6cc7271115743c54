package master

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/ratelimit"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/wire"
)

// File server limits. A minion fetches the files of a run one at a time, so
// a few requests in flight and a thousand a second leave every honest run
// untouched, while one minion's flood cannot hold more than its share of the
// workers. A refused request is answered "rate limited" so that its run
// fails at once, but a minion that keeps being refused is flooding: its
// excess requests are dropped unanswered, so that answering them does not
// delay everybody else's.
const (
	fileWorkers      = 32   // requests served at once, all minions together
	fileInFlight     = 8    // requests admitted and not yet answered, per minion
	fileAdmitted     = 4096 // requests admitted and not yet answered, all minions together
	fileRate         = 1000 // requests a second a minion may make, on average
	fileBurst        = 2000 // requests a minion may make at once after a quiet spell
	fileRefusals     = 10   // refusals a second a minion is told of, on average; the rest are dropped
	fileRefusalBurst = 20   // refusals a minion may be told of at once
	maxFileRequest   = 4096 // bytes of one request
	maxFilePath      = 1024 // bytes of a requested path
	compileWorkers   = 8    // compiles minions asked for (wire.OpCompile) going on at once, all minions together
)

// errOutsideRoot is the error for a file that resolves outside its file root.
var errOutsideRoot = errors.New("is a symlink that leads outside the file root (set follow_symlinks_outside_root: True in the master configuration to serve it)")

// fileServer answers minions' requests for state tree files and for the
// master's job signing key. It serves the state tree only: pillar never
// leaves the master except inside the job of the minion it belongs to.
//
// The subscription's goroutine only checks and admits requests; workers
// read the files. Each minion may have fileInFlight requests admitted and
// fileRate a second, so one minion's flood is refused while another's
// request still finds a free worker.
type fileServer struct {
	roots  []string            // the base environment's file roots
	envs   map[string][]string // the other environments' file roots
	follow bool                // serve symlinks that leave their root
	work   chan struct{}       // one token per busy worker
	// compiles holds one token per compile going on (wire.OpCompile).
	compiles chan struct{}

	requests *ratelimit.Limiter // per minion
	refusals *ratelimit.Limiter // refusals answered, per minion

	mu       sync.Mutex
	inFlight map[string]int // admitted and not yet answered, per minion
	admitted int            // the same, all minions together

	refused atomic.Int64 // requests refused by the limits, answered or not
}

func newFileServer(c config.Master) *fileServer {
	return &fileServer{
		roots:    c.FileRoots,
		envs:     c.FileEnvs,
		follow:   c.FollowSymlinksOutsideRoot,
		work:     make(chan struct{}, fileWorkers),
		compiles: make(chan struct{}, compileWorkers),
		requests: ratelimit.New(fileRate, fileBurst),
		refusals: ratelimit.New(fileRefusals, fileRefusalBurst),
		inFlight: map[string]int{},
	}
}

// handler returns the subscription handler of bus.AllFiles. It never
// blocks on a file: it drops requests it must not answer, refuses excess
// ones at once, and hands the rest to the workers.
func (f *fileServer) handler(m *Master) nats.MsgHandler {
	return func(msg *nats.Msg) {
		id, ok := bus.SubjectID(msg.Subject)
		if !ok || !bus.OwnInbox(id, msg.Reply) {
			m.dropped("file request", id, "reply subject outside the minion's inbox", "reply", clip(msg.Reply))
			return
		}
		if why, answer := f.admit(id, time.Now()); why != "" {
			n := f.refused.Add(1)
			m.dropped("file request", id, why, "refused_total", n)
			if answer {
				f.respond(m, msg, id, &wire.FileResponse{Error: why})
			}
			return
		}
		go func() {
			// A compile may wait long for its recipe's calls: compiles
			// take workers of their own, so that they never hold up the
			// file reads of state runs.
			pool := f.work
			if isCompile(msg.Data) {
				pool = f.compiles
			}
			pool <- struct{}{}
			resp := f.serve(m, id, msg.Data)
			<-pool
			f.release(id)
			f.respond(m, msg, id, resp)
		}()
	}
}

// admit counts a request of minion id against its limits; it returns why
// the request is refused, or "", and whether to answer the refusal.
func (f *fileServer) admit(id string, now time.Time) (why string, answer bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.inFlight[id] >= fileInFlight:
		why = fmt.Sprintf(wire.RateLimited+"%d requests of this minion are already being served; retry once they are answered", fileInFlight)
	case f.admitted >= fileAdmitted:
		why = wire.RateLimited + "the file server is busy; retry later"
	case !f.requests.AllowAt(id, now):
		why = fmt.Sprintf(wire.RateLimited+"more than %d requests a second from this minion; retry later", fileRate)
	default:
		f.inFlight[id]++
		f.admitted++
		return "", false
	}
	return why, f.refusals.AllowAt(id, now)
}

// release ends an admitted request of minion id.
func (f *fileServer) release(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inFlight[id]--; f.inFlight[id] <= 0 {
		delete(f.inFlight, id)
	}
	f.admitted--
}

// serve answers one admitted request.
func (f *fileServer) serve(m *Master, id string, data []byte) *wire.FileResponse {
	if len(data) > maxFileRequest {
		return &wire.FileResponse{Error: fmt.Sprintf("bad request: %d bytes, the file server accepts at most %d", len(data), maxFileRequest)}
	}
	var req wire.FileRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return &wire.FileResponse{Error: "bad request: " + err.Error()}
	}
	switch req.Op {
	case wire.OpMasterKey:
		return &wire.FileResponse{PublicKey: m.pub}
	case wire.OpCompile:
		return m.compileFor(id, &req)
	case wire.OpRead, wire.OpList:
		roots, err := f.rootsOf(req.Saltenv)
		if err != nil {
			return &wire.FileResponse{Error: err.Error()}
		}
		var resp wire.FileResponse
		if req.Op == wire.OpRead {
			resp.Data, err = f.readRoots(roots, req.Path, f.maxFile(m))
		} else {
			var skipped []string
			resp.Entries, skipped, err = f.listRoots(roots, req.Path, f.maxFile(m))
			if len(skipped) > 0 {
				m.log.Warn("file server: left symlinks out of the file root or dangling out of a listing", "minion", id, "dir", req.Path, "entries", skipped)
			}
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return &wire.FileResponse{NotFound: true}
		case errors.Is(err, errOutsideRoot):
			m.log.Warn("file server: refused a symlink out of the file root", "minion", id, "err", err)
		case err != nil:
			m.log.Warn("file server: "+req.Op, "minion", id, "err", err)
		}
		if err != nil {
			return &wire.FileResponse{Error: err.Error()}
		}
		return &resp
	default:
		return &wire.FileResponse{Error: fmt.Sprintf("bad request: unknown operation %q (%q, %q, %q or %q)", req.Op, wire.OpRead, wire.OpList, wire.OpMasterKey, wire.OpCompile)}
	}
}

// isCompile reports whether a request asks for a compile; a request that
// does not decode is not one (serve answers it).
func isCompile(data []byte) bool {
	var req struct {
		Op string `json:"op"`
	}
	return len(data) <= maxFileRequest && json.Unmarshal(data, &req) == nil && req.Op == wire.OpCompile
}

// maxFile is the largest file whose answer fits in one bus message: JSON
// carries the bytes in base64.
func (f *fileServer) maxFile(m *Master) int64 {
	if m.nc == nil || m.nc.MaxPayload() <= 0 {
		return 0
	}
	return m.nc.MaxPayload()/4*3 - 1024
}

// respond answers a request on its reply subject, which handler checked
// is the minion's own inbox.
func (f *fileServer) respond(m *Master, msg *nats.Msg, id string, resp *wire.FileResponse) {
	b, err := json.Marshal(resp)
	if err == nil {
		err = msg.Respond(b)
	}
	if err != nil {
		m.log.Warn("file server: reply", "minion", id, "err", err)
	}
}

// rootsOf returns the file roots of the environment env ("" is base), or
// an error naming the environments the master serves.
func (f *fileServer) rootsOf(env string) ([]string, error) {
	if env == "" || env == sls.Base {
		return f.roots, nil
	}
	if roots, ok := f.envs[env]; ok {
		return roots, nil
	}
	known := []string{sls.Base}
	for _, n := range slices.Sorted(maps.Keys(f.envs)) {
		if n != sls.Base {
			known = append(known, n)
		}
	}
	return nil, &sls.UnknownEnvError{Env: clip(env), Kind: "file_roots", Known: known}
}

// read returns a file of the base environment's state tree (readRoots).
func (f *fileServer) read(name string, limit int64) ([]byte, error) {
	return f.readRoots(f.roots, name, limit)
}

// readRoots returns a file of the state tree of roots from the first root
// that has it; names are cleaned and may not leave the tree. A symlink may
// lead anywhere inside its root; outside it only with follow. A positive
// limit refuses larger files.
func (f *fileServer) readRoots(roots []string, name string, limit int64) ([]byte, error) {
	clean, err := treeName(name, false)
	if err != nil {
		return nil, err
	}
	for _, dir := range roots {
		b, err := f.readIn(dir, clean, limit)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return b, err
	}
	return nil, fs.ErrNotExist
}

// treeName cleans a requested path: it may not leave the tree; top allows
// the tree's top itself (".").
func treeName(name string, top bool) (string, error) {
	if len(name) > maxFilePath {
		return "", fmt.Errorf("bad request: path is %d bytes long, at most %d are allowed", len(name), maxFilePath)
	}
	clean := strings.TrimPrefix(path.Clean("/"+name), "/")
	if clean == "" {
		clean = "."
	}
	if !fs.ValidPath(clean) || (clean == "." && !top) {
		return "", fmt.Errorf("bad request: %q is not a file path in the state tree (use a relative path such as \"motd/motd.conf\")", name)
	}
	return clean, nil
}

// list lists a directory of the base environment's state tree (listRoots).
func (f *fileServer) list(name string, limit int64) (entries []wire.FileEntry, skipped []string, err error) {
	return f.listRoots(f.roots, name, limit)
}

// listRoots lists a directory of the state tree of roots, merged over them:
// an entry found in several roots is taken from the first, as reads are.
// The same checks as read's apply to the directory; entries that are
// symlinks out of their root (unless follow), dangling, or neither files
// nor directories are left out, and the symlinks among them returned in
// skipped. A directory of more than wire.MaxListEntries entries, or whose
// answer would pass limit bytes (when positive), is refused.
func (f *fileServer) listRoots(roots []string, name string, limit int64) (entries []wire.FileEntry, skipped []string, err error) {
	clean, err := treeName(name, true)
	if err != nil {
		return nil, nil, err
	}
	merged := map[string]wire.FileEntry{}
	found := false
	for _, dir := range roots {
		es, sk, err := f.listIn(dir, clean)
		skipped = append(skipped, sk...)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, skipped, err
		}
		found = true
		for _, e := range es {
			if _, ok := merged[e.Name]; !ok {
				merged[e.Name] = e
			}
		}
		if len(merged) > wire.MaxListEntries {
			return nil, skipped, tooManyEntries(clean)
		}
	}
	slices.Sort(skipped)
	if !found {
		return nil, skipped, fs.ErrNotExist
	}
	size := int64(0)
	entries = make([]wire.FileEntry, 0, len(merged))
	for _, n := range slices.Sorted(maps.Keys(merged)) {
		entries = append(entries, merged[n])
		size += int64(len(n)) + 64 // the JSON around a name, generously
	}
	if limit > 0 && size > limit {
		return nil, skipped, fmt.Errorf("%s: its listing would be about %d bytes, more than the %d the file server sends (split the directory)", clean, size, limit)
	}
	return entries, skipped, nil
}

// tooManyEntries is the error for a directory too large to list.
func tooManyEntries(name string) error {
	return fmt.Errorf("%s has more than %d entries, the most the file server lists in one directory (split the directory)", name, wire.MaxListEntries)
}

// listIn lists the directory name of the file root dir.
func (f *fileServer) listIn(dir, name string) (entries []wire.FileEntry, skipped []string, err error) {
	real, err := filepath.EvalSymlinks(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		return nil, nil, err
	}
	stat := os.Stat
	var fh *os.File
	if f.follow {
		if fh, err = os.Open(real); err != nil {
			return nil, nil, err
		}
	} else {
		base, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return nil, nil, err
		}
		rel, err := filepath.Rel(base, real)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			return nil, nil, fmt.Errorf("%s %w", name, errOutsideRoot)
		}
		root, err := os.OpenRoot(base)
		if err != nil {
			return nil, nil, fmt.Errorf("open file root %s: %w", dir, err)
		}
		defer root.Close()
		// The root refuses to leave base, for the directory and for
		// every entry's symlinks, even if a link changed since.
		if fh, err = root.Open(rel); err != nil {
			return nil, nil, err
		}
		stat = func(p string) (fs.FileInfo, error) {
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				return nil, err
			}
			r, err := filepath.Rel(base, target)
			if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
				return nil, errOutsideRoot
			}
			return root.Stat(r)
		}
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("%s is not a directory (%s)", name, st.Mode().Type())
	}
	des, err := fh.ReadDir(wire.MaxListEntries + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("list %s: %w", name, err)
	}
	if len(des) > wire.MaxListEntries {
		return nil, nil, tooManyEntries(name)
	}
	for _, de := range des {
		fi, err := stat(filepath.Join(real, de.Name()))
		if err != nil {
			if de.Type()&fs.ModeSymlink != 0 {
				skipped = append(skipped, path.Join(name, de.Name()))
			}
			continue
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			continue
		}
		entries = append(entries, wire.FileEntry{Name: de.Name(), Dir: fi.IsDir(), Mode: unixMode(fi.Mode())})
	}
	return entries, skipped, nil
}

// unixMode is m's permission, setuid, setgid and sticky bits as a Unix mode.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// readIn reads name from the file root dir.
func (f *fileServer) readIn(dir, name string, limit int64) ([]byte, error) {
	real, err := filepath.EvalSymlinks(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	if f.follow {
		return readLimited(os.Open, real, name, limit)
	}
	base, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(base, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil, fmt.Errorf("%s %w", name, errOutsideRoot)
	}
	root, err := os.OpenRoot(base)
	if err != nil {
		return nil, fmt.Errorf("open file root %s: %w", dir, err)
	}
	defer root.Close()
	// The root refuses to leave base even if a link changed since it was resolved.
	return readLimited(root.Open, rel, name, limit)
}

// readLimited reads a regular file opened by open, refusing one larger
// than limit (when positive).
func readLimited(open func(string) (*os.File, error), file, name string, limit int64) ([]byte, error) {
	fh, err := open(file)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", name, st.Mode().Type())
	}
	if limit > 0 && st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d the file server sends", name, st.Size(), limit)
	}
	r := io.Reader(fh)
	if limit > 0 {
		r = io.LimitReader(fh, limit+1)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if limit > 0 && int64(len(b)) > limit {
		return nil, fmt.Errorf("%s grew past the %d bytes the file server sends", name, limit)
	}
	return b, nil
}
