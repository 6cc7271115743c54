package jinja

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/parser"
)

// Error is a template error with the template name and line.
type Error struct {
	Name string // template name, relative to the state tree root
	Line int    // 1-based line, 0 when unknown
	Msg  string
	Err  error // the cause, when known (a *LimitError, a context error)
}

// Unwrap returns the cause, so errors.As finds a *LimitError.
func (e *Error) Unwrap() error { return e.Err }

// Error formats as "web/init.sls:3: unknown filter 'foo'".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Name, e.Msg)
}

var (
	// lineRe finds the line numbers gonja puts in its wrapped messages.
	lineRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:at line |Line[:=] ?)(\d+)`) })
	// unknownFilterRe is gonja's message for an unregistered filter.
	unknownFilterRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`filter '([^']*)' not found`) })
)

// toError turns an error from gonja into an *Error for the template name,
// keeping an *Error from a nested template as it is. cause, when not nil,
// is the render's recorded failure, used as the message when err carries it.
func toError(name string, err error, cause error) *Error {
	chain := unwrapAll(err)
	for _, e := range chain {
		if te, ok := e.(*Error); ok {
			return te
		}
		if se, ok := e.(*parser.SyntaxError); ok {
			return &Error{Name: name, Line: se.Line, Msg: syntaxMessage(se)}
		}
	}
	msg := err.Error()
	line := 0
	if m := lineRe().FindAllStringSubmatch(msg, -1); len(m) > 0 {
		line, _ = strconv.Atoi(m[len(m)-1][1])
	}
	if m := unknownFilterRe().FindStringSubmatch(msg); m != nil {
		return &Error{Name: name, Line: line, Msg: fmt.Sprintf("unknown filter '%s'", m[1])}
	}
	if cause != nil && strings.Contains(msg, cause.Error()) {
		return &Error{Name: name, Line: line, Msg: cause.Error(), Err: cause}
	}
	// gonja wraps the cause in messages naming the line and the node; the
	// first message in the chain without a line is the cause itself.
	inner := chain[len(chain)-1].Error()
	for _, e := range chain {
		if m := e.Error(); !lineRe().MatchString(m) {
			inner = m
			break
		}
	}
	return &Error{Name: name, Line: line, Msg: strings.TrimSpace(inner)}
}

// unwrapAll lists err and every error it wraps, looking through gonja
// values that hold an error.
func unwrapAll(err error) []error {
	var chain []error
	for err != nil && len(chain) < 1000 {
		chain = append(chain, err)
		if v, ok := err.(*exec.Value); ok {
			inner, ok := v.Interface().(error)
			if !ok || inner == err {
				break
			}
			err = inner
			continue
		}
		err = errors.Unwrap(err)
	}
	return chain
}

// yamlLine extracts the line from a yaml.v3 error message.
func yamlLine(err error) int {
	var n int
	if _, scanErr := fmt.Sscanf(strings.TrimPrefix(err.Error(), "yaml: "), "line %d:", &n); scanErr == nil {
		return n
	}
	return 0
}
