package file

import (
	"net/url"
	"strings"

	"github.com/brinecm/brine/states"
)

// EnvArg is the saltenv argument of the file states that read the state
// tree: the environment their salt:// sources are read from when the URL
// names none (?saltenv=), instead of the state's own. Salt's own calls
// pass it as __env__, which is accepted too.
type EnvArg struct {
	Saltenv string `arg:"saltenv"`
	Env     string `arg:"__env__"`
}

// in returns c reading the state tree of the environment the argument
// names, or c itself when it names none.
func (e EnvArg) in(c *states.Call) *states.Call {
	env := e.Saltenv
	if env == "" {
		env = e.Env
	}
	if env == "" {
		return c
	}
	cc := *c
	cc.Env = states.InSaltenv(c.Env, env)
	return &cc
}

// saltenvOf is the environment the state tree of env serves ("base" when
// it cannot tell), for messages.
func saltenvOf(env states.Env) string {
	if e, ok := env.(interface{ Saltenv() string }); ok {
		return e.Saltenv()
	}
	return "base"
}

// cutSaltenv cuts the query off a salt:// directory URL (file.recurse's
// source) and returns it with env as the files below it are read: the
// view of the environment its ?saltenv= names, or env itself. A URL of
// Salt's '|' escape keeps its query as part of the name.
func cutSaltenv(u string, env states.Env) (string, states.Env) {
	for _, scheme := range []string{"salt://", "brine://"} {
		rest, ok := strings.CutPrefix(u, scheme)
		if !ok || strings.HasPrefix(rest, "|") {
			continue
		}
		rest, query, found := strings.Cut(rest, "?")
		if !found {
			return u, env
		}
		if q, err := url.ParseQuery(query); err == nil {
			if e := q.Get("saltenv"); e != "" {
				env = states.InSaltenv(env, e)
			} else if e := q.Get("env"); e != "" {
				env = states.InSaltenv(env, e)
			}
		}
		return scheme + strings.TrimRight(rest, "/"), env
	}
	return u, env
}
