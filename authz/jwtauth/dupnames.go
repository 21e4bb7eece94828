package jwtauth

import (
	"bytes"
	"encoding/json"
)

// hasDuplicateNames reports whether any object in the JSON document doc,
// at any depth, names a member twice. encoding/json (and so jwx) keeps the
// last of two equal names, other JOSE libraries the first or an error: a
// token that means different things to different readers is refused rather
// than read one way. Names are compared as encoding/json decodes them, so
// "s\u0075b" repeats "sub" and two invalid UTF-8 spellings that both decode
// to U+FFFD repeat each other.
//
// doc is expected to be valid JSON (the callers have unmarshalled it); on
// anything else the answer is meaningless but the function neither panics
// nor reads out of bounds.
func hasDuplicateNames(doc []byte) bool {
	// names holds the member names of every open object, innermost last;
	// starts has one entry per open container: where its names begin in
	// names, or -1 for an array. Small fixed buffers keep the usual token
	// (a dozen claims, an object or two deep) off the heap.
	var nameBuf [24][]byte
	var startBuf [8]int
	names, starts := nameBuf[:0], startBuf[:0]
	inObject := func() bool { return len(starts) > 0 && starts[len(starts)-1] >= 0 }
	expectName := false
	for i := 0; i < len(doc); i++ {
		switch doc[i] {
		case '{':
			starts = append(starts, len(names))
			expectName = true
		case '[':
			starts = append(starts, -1)
			expectName = false
		case '}', ']':
			if n := len(starts); n > 0 {
				if s := starts[n-1]; s >= 0 {
					names = names[:s]
				}
				starts = starts[:n-1]
			}
			expectName = false
		case ',':
			expectName = inObject()
		case ':':
			expectName = false
		case '"':
			end := stringEnd(doc, i)
			if expectName && inObject() {
				name := decodeName(doc[i : end+1])
				for _, seen := range names[starts[len(starts)-1]:] {
					if bytes.Equal(seen, name) {
						return true
					}
				}
				names = append(names, name)
				expectName = false
			}
			i = end
		}
	}
	return false
}

// stringEnd returns the index of the quote closing the string literal that
// opens at doc[open], or the last index of doc when it is unterminated.
func stringEnd(doc []byte, open int) int {
	for j := open + 1; j < len(doc); j++ {
		switch doc[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return len(doc) - 1
}

// decodeName returns the member name that the literal lit (quotes
// included) decodes to. Printable ASCII without escapes is its own
// decoding; anything else goes through encoding/json, so escapes and
// invalid UTF-8 come out as jwx will see them.
func decodeName(lit []byte) []byte {
	if len(lit) < 2 {
		return lit
	}
	inner := lit[1 : len(lit)-1]
	for _, c := range inner {
		if c == '\\' || c < 0x20 || c >= 0x7f {
			var s string
			if err := json.Unmarshal(lit, &s); err != nil {
				return lit
			}
			return []byte(s)
		}
	}
	return inner
}
