package apikey

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzChecksum: a key changed in any one byte never passes the checksum
// (CRC-32 catches every single-byte change, and 6 base62 digits spell each
// CRC once), nor finds a key in the index; a string that passes is exactly
// a body and the checksum computed from it.
func FuzzChecksum(f *testing.F) {
	// A fixed key, so that a corpus entry means the same on every run; a
	// generated one is a seed too.
	body := Prefix + "Q7bT0cV9xLmR2sK8pW4zN6hJ1fD3gY5e"
	key := body + "_" + checksum(body)
	generated, err := Generate()
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ix, err := NewIndex([]*Key{{Name: "good", Hash: Sum(key)}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(key, uint16(10), byte('a'))
	f.Add(generated, uint16(20), byte('Z'))
	f.Add(key, uint16(len(key)-1), byte('0'))
	f.Add(key, uint16(len(key)-7), byte('x'))
	f.Add("wpk__abcdef", uint16(0), byte('w'))
	f.Add("operator-chosen-key-0123456789", uint16(3), byte('_'))
	f.Add("wpk_0123456789012345678901234567_ZZZZZZ", uint16(5), byte('1'))
	f.Fuzz(func(t *testing.T, s string, pos uint16, b byte) {
		if ValidChecksum(s) {
			i := strings.LastIndexByte(s, '_')
			if i < len(Prefix) || s != s[:i]+"_"+checksum(s[:i]) {
				t.Fatalf("%q passes the checksum", s)
			}
		}
		if k, err := ix.Lookup(s, now); err == nil {
			if s != key || k.Name != "good" {
				t.Fatalf("Lookup(%q) found %q", s, k.Name)
			}
		} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknown) {
			t.Fatalf("Lookup(%q): %v", s, err)
		}
		// One byte of the real key changed.
		m := []byte(key)
		m[int(pos)%len(m)] = b
		if string(m) == key {
			return
		}
		if ValidChecksum(string(m)) {
			t.Fatalf("%q (one byte off %q) passes the checksum", m, key)
		}
		if _, err := ix.Lookup(string(m), now); err == nil {
			t.Fatalf("%q (one byte off the key) found a key", m)
		}
	})
}
