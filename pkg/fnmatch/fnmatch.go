// Package fnmatch matches names against shell-style patterns the way
// Salt's requisites do (Python's fnmatch): '*' matches any run of
// characters, '/' included, '?' one character, '[abc]' and '[!abc]' a set.
package fnmatch

import (
	"path"
	"regexp"
	"strings"
)

// Match reports whether name matches pattern.
func Match(pattern, name string) bool {
	if !strings.Contains(pattern, "/") && !strings.Contains(name, "/") {
		ok, err := path.Match(pattern, name)
		return err == nil && ok
	}
	re, err := regexp.Compile("^" + toRegexp(pattern) + "$")
	return err == nil && re.MatchString(name)
}

// toRegexp translates a pattern into a regular expression.
func toRegexp(pattern string) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := strings.IndexByte(pattern[i:], ']')
			if j < 0 {
				b.WriteString(`\[`)
				continue
			}
			class := pattern[i+1 : i+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}
