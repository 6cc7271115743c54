package jinja

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/nikolalohinski/gonja/v2/loaders"
)

// treeLoader is the gonja view of the state tree for one template: its own
// source by its name, every other name through the Env's cache.
type treeLoader struct {
	env  *Env
	file *file
}

// Read returns the source of the template called id.
func (l *treeLoader) Read(id string) (io.Reader, error) {
	name := cleanName(id)
	if l.file != nil && l.file.name == name && l.file.src != nil {
		return bytes.NewReader(l.file.src), nil
	}
	f, err := l.env.load(name)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(f.src), nil
}

// Resolve maps a name used in a template to gonja's absolute form.
func (l *treeLoader) Resolve(id string) (string, error) {
	cur := ""
	if l.file != nil {
		cur = l.file.name
	}
	name, err := resolveName(cur, id)
	if err != nil {
		return "", err
	}
	return gonjaName(name), nil
}

// Inherit returns the loader for the template called from.
func (l *treeLoader) Inherit(from string) (loaders.Loader, error) {
	return &treeLoader{env: l.env, file: &file{name: cleanName(from)}}, nil
}

// resolveName maps a template name used inside the template cur to a tree
// path. Names are relative to the tree root, as in Salt, except those
// starting with ./ or ../, which are relative to cur's directory.
func resolveName(cur, name string) (string, error) {
	name = strings.TrimPrefix(name, "salt://")
	if name == "" {
		return "", fmt.Errorf("empty template name")
	}
	var p string
	if strings.HasPrefix(name, "./") || strings.HasPrefix(name, "../") {
		p = path.Join(path.Dir(cur), name)
	} else {
		p = path.Clean(strings.TrimPrefix(name, "/"))
	}
	if p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("template name %q is outside the state tree", name)
	}
	return p, nil
}
