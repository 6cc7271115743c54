// Package diff computes line-based unified diffs, as file states report
// them in their changes.
package diff

import (
	"bytes"
	"strconv"
	"strings"
)

// context is the number of unchanged lines shown around each change.
const context = 3

// Unified returns the unified diff turning a into b, with three lines of
// context, empty "---" and "+++" headers and "\ No newline at end of file"
// markers, or "" when a and b are equal. It uses Myers' algorithm in its
// linear-space form.
func Unified(a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	la, lb := splitLines(a), splitLines(b)
	xa, xb := intern(la, lb)
	d := newDiffer(xa, xb)
	d.compare(0, len(xa), 0, len(xb))
	return format(la, lb, d.ops())
}

// splitLines splits s after each newline; a last line without a newline is
// kept as it is, so "x" and "x\n" are different lines.
func splitLines(s []byte) [][]byte {
	if len(s) == 0 {
		return nil
	}
	lines := make([][]byte, 0, bytes.Count(s, []byte{'\n'})+1)
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

// intern maps every distinct line to a small integer so the algorithm
// compares integers, not strings.
func intern(la, lb [][]byte) ([]int, []int) {
	ids := make(map[string]int, len(la))
	conv := func(lines [][]byte) []int {
		out := make([]int, len(lines))
		for i, l := range lines {
			id, ok := ids[string(l)]
			if !ok {
				id = len(ids)
				ids[string(l)] = id
			}
			out[i] = id
		}
		return out
	}
	return conv(la), conv(lb)
}

type differ struct {
	a, b   []int
	delA   []bool // delA[i]: line i of a is deleted
	insB   []bool // insB[j]: line j of b is inserted
	v1, v2 []int  // scratch for bisect, sized for the largest problem
}

func newDiffer(a, b []int) *differ {
	n := len(a) + len(b) + 3
	return &differ{
		a: a, b: b,
		delA: make([]bool, len(a)),
		insB: make([]bool, len(b)),
		v1:   make([]int, n),
		v2:   make([]int, n),
	}
}

// compare marks the differences between a[aLo:aHi] and b[bLo:bHi].
func (d *differ) compare(aLo, aHi, bLo, bHi int) {
	for aLo < aHi && bLo < bHi && d.a[aLo] == d.b[bLo] {
		aLo++
		bLo++
	}
	for aLo < aHi && bLo < bHi && d.a[aHi-1] == d.b[bHi-1] {
		aHi--
		bHi--
	}
	switch {
	case aLo == aHi:
		for j := bLo; j < bHi; j++ {
			d.insB[j] = true
		}
		return
	case bLo == bHi:
		for i := aLo; i < aHi; i++ {
			d.delA[i] = true
		}
		return
	}
	x, y, ok := d.bisect(aLo, aHi, bLo, bHi)
	if !ok {
		for i := aLo; i < aHi; i++ {
			d.delA[i] = true
		}
		for j := bLo; j < bHi; j++ {
			d.insB[j] = true
		}
		return
	}
	d.compare(aLo, x, bLo, y)
	d.compare(x, aHi, y, bHi)
}

// bisect finds the middle snake of a[aLo:aHi] and b[bLo:bHi] by running
// the greedy search from both ends until the paths overlap, and returns the
// point where the shortest edit script can be split in two. The ranges are
// non-empty and differ in their first and last elements, so both halves
// are strictly smaller problems.
func (d *differ) bisect(aLo, aHi, bLo, bHi int) (int, int, bool) {
	a, b := d.a[aLo:aHi], d.b[bLo:bHi]
	n, m := len(a), len(b)
	maxD := (n + m + 1) / 2
	off := maxD
	vlen := 2*maxD + 2
	v1, v2 := d.v1[:vlen], d.v2[:vlen]
	for i := range v1 {
		v1[i] = -1
		v2[i] = -1
	}
	v1[off+1] = 0
	v2[off+1] = 0
	delta := n - m
	front := delta%2 != 0
	k1start, k1end, k2start, k2end := 0, 0, 0, 0
	for dd := 0; dd < maxD; dd++ {
		for k1 := -dd + k1start; k1 <= dd-k1end; k1 += 2 {
			k1off := off + k1
			var x1 int
			if k1 == -dd || (k1 != dd && v1[k1off-1] < v1[k1off+1]) {
				x1 = v1[k1off+1]
			} else {
				x1 = v1[k1off-1] + 1
			}
			y1 := x1 - k1
			for x1 < n && y1 < m && a[x1] == b[y1] {
				x1++
				y1++
			}
			v1[k1off] = x1
			switch {
			case x1 > n:
				k1end += 2
			case y1 > m:
				k1start += 2
			case front:
				k2off := off + delta - k1
				if k2off >= 0 && k2off < vlen && v2[k2off] != -1 && x1 >= n-v2[k2off] {
					return aLo + x1, bLo + y1, true
				}
			}
		}
		for k2 := -dd + k2start; k2 <= dd-k2end; k2 += 2 {
			k2off := off + k2
			var x2 int
			if k2 == -dd || (k2 != dd && v2[k2off-1] < v2[k2off+1]) {
				x2 = v2[k2off+1]
			} else {
				x2 = v2[k2off-1] + 1
			}
			y2 := x2 - k2
			for x2 < n && y2 < m && a[n-x2-1] == b[m-y2-1] {
				x2++
				y2++
			}
			v2[k2off] = x2
			switch {
			case x2 > n:
				k2end += 2
			case y2 > m:
				k2start += 2
			case !front:
				k1off := off + delta - k2
				if k1off >= 0 && k1off < vlen && v1[k1off] != -1 {
					x1 := v1[k1off]
					y1 := off + x1 - k1off
					if x1 >= n-x2 {
						return aLo + x1, bLo + y1, true
					}
				}
			}
		}
	}
	return 0, 0, false
}

type opKind byte

const (
	opEqual opKind = iota
	opDelete
	opInsert
)

type op struct {
	kind opKind
	i, j int // line index in a (equal, delete) and in b (equal, insert)
}

// ops turns the marks into an edit script; within a change, deletions come
// before insertions.
func (d *differ) ops() []op {
	out := make([]op, 0, max(len(d.a), len(d.b)))
	i, j := 0, 0
	for i < len(d.a) || j < len(d.b) {
		switch {
		case i < len(d.a) && d.delA[i]:
			out = append(out, op{opDelete, i, j})
			i++
		case j < len(d.b) && d.insB[j]:
			out = append(out, op{opInsert, i, j})
			j++
		default:
			out = append(out, op{opEqual, i, j})
			i++
			j++
		}
	}
	return out
}

// format writes the edit script as unified diff hunks.
func format(la, lb [][]byte, ops []op) string {
	var sb strings.Builder
	sb.WriteString("--- \n+++ \n")
	for start := 0; start < len(ops); {
		// Find the next change.
		first := start
		for first < len(ops) && ops[first].kind == opEqual {
			first++
		}
		if first == len(ops) {
			break
		}
		// Extend the hunk while the gap to the next change is small enough
		// for their contexts to touch.
		last := first
		for k := first + 1; k < len(ops); k++ {
			if ops[k].kind == opEqual {
				continue
			}
			if k-last-1 > 2*context {
				break
			}
			last = k
		}
		lo := max(first-context, start)
		hi := min(last+1+context, len(ops))
		writeHunk(&sb, la, lb, ops[lo:hi])
		start = hi
	}
	return sb.String()
}

func writeHunk(sb *strings.Builder, la, lb [][]byte, ops []op) {
	aLen, bLen := 0, 0
	for _, o := range ops {
		if o.kind != opInsert {
			aLen++
		}
		if o.kind != opDelete {
			bLen++
		}
	}
	sb.WriteString("@@ -")
	sb.WriteString(formatRange(ops[0].i, aLen))
	sb.WriteString(" +")
	sb.WriteString(formatRange(ops[0].j, bLen))
	sb.WriteString(" @@\n")
	for _, o := range ops {
		switch o.kind {
		case opEqual:
			writeLine(sb, ' ', la[o.i])
		case opDelete:
			writeLine(sb, '-', la[o.i])
		case opInsert:
			writeLine(sb, '+', lb[o.j])
		}
	}
}

func writeLine(sb *strings.Builder, prefix byte, line []byte) {
	sb.WriteByte(prefix)
	sb.Write(line)
	if len(line) == 0 || line[len(line)-1] != '\n' {
		sb.WriteString("\n\\ No newline at end of file\n")
	}
}

// formatRange formats a hunk range as diff does: "start,len", just "start"
// for one line, and the line before for an empty range.
func formatRange(start, length int) string {
	switch length {
	case 1:
		return strconv.Itoa(start + 1)
	case 0:
		return strconv.Itoa(start) + ",0"
	}
	return strconv.Itoa(start+1) + "," + strconv.Itoa(length)
}
