package drift

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// files watches paths through inotify. It watches each path's parent
// directory rather than the path, so a file deleted and made again, or
// replaced by an editor's rename, stays watched; a tree is watched in
// every directory below it. Barriers are files made in a private
// directory on the same inotify queue.
type files struct {
	w         *Watcher
	fw        *fsnotify.Watcher
	exact     map[string][]Target // file targets by path
	ancestors map[string]bool     // every directory above a target
	trees     []Target
	all       []Target
	marks     string // the barrier directory
	done      <-chan struct{}

	mu      sync.Mutex
	seq     int
	waiting map[string]chan struct{}
}

func startFiles(ctx context.Context, w *Watcher, g *generation, ts []Target) (source, error) {
	fw, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return nil, fmt.Errorf("start inotify: %w", err)
	}
	marks, err := os.MkdirTemp("", "brine-drift-")
	if err != nil {
		fw.Close()
		return nil, fmt.Errorf("make the barrier directory: %w", err)
	}
	f := &files{w: w, fw: fw, exact: map[string][]Target{}, ancestors: map[string]bool{},
		all: ts, marks: marks, done: ctx.Done(), waiting: map[string]chan struct{}{}}
	cleanup := func() { fw.Close(); os.RemoveAll(marks) }
	if err := fw.Add(marks); err != nil {
		cleanup()
		return nil, fmt.Errorf("watch %s: %w", marks, err)
	}
	for _, t := range ts {
		for d := filepath.Dir(t.Name); ; d = filepath.Dir(d) {
			f.ancestors[d] = true
			if d == "/" {
				break
			}
		}
		if t.Kind == KindTree {
			f.trees = append(f.trees, t)
			f.addTree(t.Name)
		} else {
			f.exact[t.Name] = append(f.exact[t.Name], t)
		}
		if err := f.ensure(t.Name); err != nil {
			cleanup()
			return nil, err
		}
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer cleanup()
		f.run(ctx)
	}()
	return f, nil
}

// ensure watches the nearest existing directory above path.
func (f *files) ensure(path string) error {
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		err := f.fw.Add(d)
		if err == nil {
			return nil
		}
		if !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such file") {
			return fmt.Errorf("watch %s (for %s): %w", d, path, err)
		}
		if d == "/" {
			return fmt.Errorf("watch %s: no directory above it exists", path)
		}
	}
}

// addTree watches dir and every directory below it.
func (f *files) addTree(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // gone meanwhile, or not there yet: its parent is watched
		}
		if d.IsDir() {
			if err := f.fw.Add(p); err != nil {
				f.w.log.Warn("cannot watch a directory of a managed tree", "dir", p, "err", err)
			}
		}
		return nil
	})
}

func (f *files) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-f.fw.Errors:
			if !ok {
				return
			}
			// An overflowed queue lost changes: re-check every file.
			f.w.log.Warn("inotify error: re-checking every watched file", "err", err)
			for _, t := range f.all {
				f.w.hit(hit{id: t.ID, reason: "inotify lost events (" + err.Error() + ")", at: time.Now()})
			}
		case ev, ok := <-f.fw.Events:
			if !ok {
				return
			}
			f.event(ev)
		}
	}
}

// event matches one inotify event against the targets.
func (f *files) event(ev fsnotify.Event) {
	if filepath.Dir(ev.Name) == f.marks {
		f.mu.Lock()
		if ch, ok := f.waiting[filepath.Base(ev.Name)]; ok {
			close(ch)
			delete(f.waiting, filepath.Base(ev.Name))
		}
		f.mu.Unlock()
		return
	}
	at := time.Now()
	what := opWords(ev.Op)
	for _, t := range f.exact[ev.Name] {
		f.w.hit(hit{id: t.ID, reason: fmt.Sprintf("%s %s", ev.Name, what), at: at})
	}
	// A directory above targets went away or came back: they changed
	// with it, and the watches must follow.
	if f.ancestors[ev.Name] && ev.Op&(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) != 0 {
		for _, t := range f.all {
			if under(t.Name, ev.Name) && t.Name != ev.Name {
				f.w.hit(hit{id: t.ID, reason: fmt.Sprintf("%s %s (a directory above %s)", ev.Name, what, t.Name), at: at})
				if err := f.ensure(t.Name); err != nil {
					f.w.log.Warn("cannot watch a managed path again", "path", t.Name, "err", err)
				}
			}
		}
	}
	for _, t := range f.trees {
		if !under(ev.Name, t.Name) {
			continue
		}
		f.w.hit(hit{id: t.ID, reason: fmt.Sprintf("%s %s (in %s)", ev.Name, what, t.Name), at: at})
		if ev.Op&fsnotify.Create != 0 {
			if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
				f.addTree(ev.Name)
			}
		}
	}
}

// barrier makes a file in the barrier directory and waits for its event:
// inotify reports in order, so every earlier change has been passed on.
func (f *files) barrier(ctx context.Context) error {
	f.mu.Lock()
	f.seq++
	name := "b" + strconv.Itoa(f.seq)
	ch := make(chan struct{})
	f.waiting[name] = ch
	f.mu.Unlock()
	p := filepath.Join(f.marks, name)
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return fmt.Errorf("drift: file watch barrier: %w", err)
	}
	defer os.Remove(p)
	select {
	case <-ch:
		return nil
	case <-f.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drift: waiting for the file watcher: %w", ctx.Err())
	}
}

// opWords says what an inotify event did.
func opWords(op fsnotify.Op) string {
	var w []string
	for _, o := range []struct {
		op   fsnotify.Op
		word string
	}{
		{fsnotify.Create, "created"}, {fsnotify.Write, "written"}, {fsnotify.Remove, "removed"},
		{fsnotify.Rename, "renamed away"}, {fsnotify.Chmod, "attributes changed"},
	} {
		if op&o.op != 0 {
			w = append(w, o.word)
		}
	}
	if len(w) == 0 {
		return "changed"
	}
	return strings.Join(w, ", ")
}
