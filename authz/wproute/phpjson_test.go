/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import "testing"

// A body cut inside an escape is an error, never a read past its end: the
// surrogate check runs before the decoder sees the body. A high surrogate
// is paired only by a "\u" escape right after it (PHP refuses the rest;
// Go would decode U+FFFD).
func TestPHPJSONDecodeRefusesTruncatedAndUnpairedEscapes(t *testing.T) {
	for _, body := range []string{`"\`, `{"a":"\`, `"\ud800`, `"\ud800\`, `"\ud800\u`, `"\ud800\udc0`, `"\ud800xudc00"`, `"\ud800\\udc00"`} {
		if v, err := phpJSONDecode([]byte(body)); err == nil {
			t.Errorf("phpJSONDecode(%s) = %v, want an error", body, v)
		}
	}
}
