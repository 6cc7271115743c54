package minion

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/job"
)

// returnMargin is what a return leaves free under the bus's payload limit,
// for the message headers and the stream's own overhead.
const returnMargin = 64 << 10

// maxReturn is the largest encoded return the minion stores in its outbox.
const maxReturn = bus.MaxPayload - returnMargin

// returnLimit is the largest encoded return a connection whose server
// carries at most maxPayload bytes can publish.
func returnLimit(maxPayload int64) int {
	if maxPayload <= 0 { // not known (yet): the embedded bus's
		maxPayload = bus.MaxPayload
	}
	limit := min(maxPayload, bus.MaxPayload) - returnMargin
	if limit < maxPayload/2 { // a server with a tiny limit: keep half of it
		limit = maxPayload / 2
	}
	return int(limit)
}

// encodeReturn encodes ret in at most limit bytes. A return too big for
// that has its longest strings cut (see shrinkReturn); one that cannot be
// cut small enough becomes a failure return saying so.
func (m *Minion) encodeReturn(ret *job.Return, limit int) []byte {
	data, err := json.Marshal(ret)
	if err != nil {
		return m.encodeFailure(ret, fmt.Sprintf("encode return: %v", err), limit)
	}
	if len(data) <= limit {
		return data
	}
	small, err := shrinkReturn(ret, data, limit)
	if err != nil {
		m.log.Error("return too large for the bus", "jid", ret.JID, "bytes", len(data), "limit", limit, "err", err)
		return m.encodeFailure(ret, fmt.Sprintf("the return was %d bytes, more than the bus carries (%d), and cannot be shortened: %v",
			len(data), limit, err), limit)
	}
	m.log.Warn("return too large for the bus: long strings in it were truncated",
		"jid", ret.JID, "bytes", len(data), "now", len(small), "limit", limit)
	return small
}

// encodeFailure encodes a failure return for ret's job with msg, itself
// cut to fit in limit.
func (m *Minion) encodeFailure(ret *job.Return, msg string, limit int) []byte {
	if len(msg) > limit/4 {
		msg = msg[:limit/4]
	}
	f := failure(&job.Job{JID: ret.JID, Minion: ret.Minion, Fun: ret.Fun}, msg, ret.Started, ret.Finished)
	data, _ := json.Marshal(f) // strings, ints and times only: cannot fail
	return data
}

// truncMarker is appended to a string cut by shrinkReturn.
const truncMarker = "...[truncated %d bytes]"

// shrinkReturn returns ret, encoded as data, cut to at most limit bytes:
// the longest strings inside Return (stdout, stderr, comments, changes)
// and Error lose their ends, each marked "...[truncated N bytes]", so the
// return stays valid JSON with every key in its place, and Truncated is
// set. Object keys keep their order. It fails when even cutting every
// string cannot make the return fit.
func shrinkReturn(ret *job.Return, data []byte, limit int) ([]byte, error) {
	tree, err := parseJSON(ret.Return)
	if err != nil {
		return nil, fmt.Errorf("read the return: %w", err)
	}
	out := *ret
	out.Truncated = true
	strs := tree.strings(nil)
	strs = append(strs, &out.Error)
	orig := make([]string, len(strs))
	for i, s := range strs {
		orig[i] = *s
	}
	need := len(data) - limit + len(`,"truncated":true`)
	for range 4 { // marker lengths are estimates: one more round covers them
		for i, s := range strs {
			*s = orig[i]
		}
		cutStrings(strs, need)
		var buf bytes.Buffer
		tree.encode(&buf)
		out.Return = buf.Bytes()
		small, err := json.Marshal(&out)
		if err != nil {
			return nil, fmt.Errorf("encode the shortened return: %w", err)
		}
		if len(small) <= limit {
			return small, nil
		}
		need += len(small) - limit
	}
	return nil, errors.New("most of it is not long strings")
}

// cutStrings shortens the longest strings so that their encoded lengths
// shrink by at least need bytes in all: every string whose encoded length
// is over a common cap is cut to that cap and marked.
func cutStrings(strs []*string, need int) {
	lens := make([]int, len(strs))
	hi := 0
	for i, s := range strs {
		lens[i] = escapedLen(*s)
		hi = max(hi, lens[i])
	}
	// saved reports how many bytes a cap of c saves, markers counted.
	saved := func(c int) int {
		n := 0
		for _, l := range lens {
			if l > c {
				n += l - c - len(fmt.Sprintf(truncMarker, l))
			}
		}
		return n
	}
	// The largest cap that saves enough: binary search over [0, hi].
	lo, top := 0, hi
	for lo < top {
		mid := (lo + top + 1) / 2
		if saved(mid) >= need {
			lo = mid
		} else {
			top = mid - 1
		}
	}
	for i, s := range strs {
		if lens[i] > lo {
			keep := prefixLen(*s, lo)
			*s = (*s)[:keep] + fmt.Sprintf(truncMarker, len(*s)-keep)
		}
	}
}

// prefixLen is the length in bytes of the longest prefix of s, cut
// between characters, whose JSON encoding (without quotes) fits in budget.
func prefixLen(s string, budget int) int {
	used := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		e := runeEscapedLen(r, n)
		if used+e > budget {
			return i
		}
		used += e
		i += n
	}
	return len(s)
}

// escapedLen is the length of s as encoding/json writes it, without quotes.
func escapedLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		n += runeEscapedLen(r, size)
		i += size
	}
	return n
}

// runeEscapedLen is the length of one decoded rune (of size bytes in the
// string) as encoding/json escapes it.
func runeEscapedLen(r rune, size int) int {
	switch {
	case r == utf8.RuneError && size == 1:
		return 6 // \ufffd
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
		return 6
	}
	return size
}

// jsonNode is a JSON value that keeps the order of object keys.
type jsonNode struct {
	kind byte // '{', '[', '"' or 'v' (number, true, false, null)
	str  string
	lit  string
	keys []string
	kids []*jsonNode
}

// parseJSON reads one JSON value.
func parseJSON(data []byte) (*jsonNode, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return &jsonNode{kind: 'v', lit: "null"}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := parseNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON value")
	}
	return n, nil
}

func parseNode(dec *json.Decoder) (*jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &jsonNode{kind: byte(t)}
		for dec.More() {
			if n.kind == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := k.(string) // object keys are always strings
				n.keys = append(n.keys, key)
			}
			kid, err := parseNode(dec)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kid)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &jsonNode{kind: '"', str: t}, nil
	case json.Number:
		return &jsonNode{kind: 'v', lit: t.String()}, nil
	case bool:
		return &jsonNode{kind: 'v', lit: fmt.Sprint(t)}, nil
	case nil:
		return &jsonNode{kind: 'v', lit: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// strings appends pointers to every string value under n to out.
func (n *jsonNode) strings(out []*string) []*string {
	if n.kind == '"' {
		return append(out, &n.str)
	}
	for _, k := range n.kids {
		out = k.strings(out)
	}
	return out
}

// encode writes n as JSON.
func (n *jsonNode) encode(buf *bytes.Buffer) {
	switch n.kind {
	case '"':
		writeJSONString(buf, n.str)
	case 'v':
		buf.WriteString(n.lit)
	case '[', '{':
		buf.WriteByte(n.kind)
		for i, k := range n.kids {
			if i > 0 {
				buf.WriteByte(',')
			}
			if n.kind == '{' {
				writeJSONString(buf, n.keys[i])
				buf.WriteByte(':')
			}
			k.encode(buf)
		}
		buf.WriteByte(n.kind + 2) // '[' + 2 == ']', '{' + 2 == '}'
	}
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always encodes
	buf.Write(b)
}
