package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/brinecm/brine/states"
)

// SourceSpec is a source as file.managed takes it, for other state modules
// that download a file the same way (archive.extracted).
type SourceSpec struct {
	URL            string // salt://, brine://, file://, http(s):// or an absolute path
	SourceHash     string // a digest or the URL of a hash file; "" for none
	SourceHashName string // the line of the hash file to use
	SkipVerify     bool   // do not check SourceHash
}

// Remote reports whether the source comes from outside the state tree
// and this host (http or https), so it needs a source_hash.
func (s SourceSpec) Remote() bool {
	src, fail := parseSource(s.URL)
	return fail == "" && src.kind == srcHTTP
}

// Fetch reads the source as file.managed does and checks it against its
// source_hash: an http(s) source needs one unless SkipVerify, a state-tree
// source is trusted. fail is Salt's comment when the source cannot be used
// (missing, unreadable, or not matching its hash).
func Fetch(ctx context.Context, env states.Env, s SourceSpec) (data []byte, fail string) {
	src, fail := parseSource(s.URL)
	if fail != "" {
		return nil, fail
	}
	if src.kind == srcHTTP && s.SourceHash == "" && !s.SkipVerify {
		return nil, fmt.Sprintf("Unable to verify upstream hash of source file %s, please set source_hash or set skip_verify to True", src.url)
	}
	data, err := src.fetch(ctx, env)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(s.URL, src, env)
	}
	if err != nil {
		return nil, fmt.Sprintf("Unable to read source %s: %v", src.url, err)
	}
	return data, Check(ctx, env, s, data)
}

// Check verifies data, read from the source, against its source_hash; fail
// is Salt's comment on a mismatch. A state-tree source, a source without a
// source_hash and SkipVerify pass.
func Check(ctx context.Context, env states.Env, s SourceSpec, data []byte) (fail string) {
	src, fail := parseSource(s.URL)
	if fail != "" {
		return fail
	}
	if s.SourceHash == "" || s.SkipVerify || src.kind == srcTree {
		return ""
	}
	h, fail := expectedHash(ctx, env, s.SourceHash, s.SourceHashName, src)
	if fail != "" {
		return fail
	}
	return verify(h, src.url, data)
}

// notFound is Salt's comment on a source that is not there: a state tree
// file is named with the environment it was looked for in.
func notFound(url string, src source, env states.Env) string {
	if src.kind == srcTree {
		_, in := cutSaltenv(url, env)
		return fmt.Sprintf("Source file %s not found in saltenv '%s'", url, saltenvOf(in))
	}
	return fmt.Sprintf("Source file %s not found", url)
}
