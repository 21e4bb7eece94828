/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import (
	"regexp"
	"strings"
	"testing"
)

// TestByteClasses checks the hand-written byte classes against independent
// definitions for all 256 bytes: PCRE's media-subtype class (with Go's
// regexp, which reads it the same way for ASCII), PCRE2's \s without
// Unicode, and hex digits.
func TestByteClasses(t *testing.T) {
	subtype := regexp.MustCompile(`^[\w!#\$&-\^\.\+]$`)
	for c := 0; c < 256; c++ {
		b := byte(c)
		wantSubtype := c < 0x80 && subtype.MatchString(string(rune(c)))
		if got := subtypeByte(b); got != wantSubtype {
			t.Errorf("subtypeByte(%q) = %v, want %v", b, got, wantSubtype)
		}
		if got, want := isPCRESpace(b), strings.IndexByte(" \t\n\v\f\r", b) >= 0; got != want {
			t.Errorf("isPCRESpace(%q) = %v, want %v", b, got, want)
		}
		if got, want := isHex(b), strings.IndexByte("0123456789abcdefABCDEF", b) >= 0; got != want {
			t.Errorf("isHex(%q) = %v, want %v", b, got, want)
		}
	}
}

func TestHexRune(t *testing.T) {
	for in, want := range map[string]rune{"00e9": 0xe9, "D834": 0xd834, "ffff\"": 0xffff} {
		if r, ok := hexRune([]byte(in)); !ok || r != want {
			t.Errorf("hexRune(%q) = %#x, %v; want %#x", in, r, ok, want)
		}
	}
	for _, in := range []string{"", "00e", "00g9", "+0e9"} {
		if r, ok := hexRune([]byte(in)); ok {
			t.Errorf("hexRune(%q) = %#x, want not ok", in, r)
		}
	}
}

// TestRawURLDecode: "%XX" with two hex digits is a byte, anything else is
// kept as it is, "+" included, and nothing is read past the end.
func TestRawURLDecode(t *testing.T) {
	for in, want := range map[string]string{
		"/wp-json/x": "/wp-json/x", "": "", "%41%42": "AB", "/a%2fb": "/a/b", "%%41": "%A", "+": "+",
		"/x41": "/x41", "%4": "%4", "/a%": "/a%", "%zz": "%zz", "%4g": "%4g", "/end%41": "/endA",
	} {
		if got := rawURLDecode(in); got != want {
			t.Errorf("rawURLDecode(%q) = %q, want %q", in, got, want)
		}
	}
}
