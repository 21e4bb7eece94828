/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// phpJSONDepth is json_decode()'s default depth, 512. PHP counts the
// values inside the innermost array as a level too: arrays and objects may
// nest 511 deep.
const phpJSONDepth = 512

var errPHPJSON = errors.New("json_decode fails")

// phpJSONDecode decodes b as WordPress's json_decode($body, true) does,
// into the PHP values of phparray.go, or fails where PHP reports an error.
//
// encoding/json's Decoder only tokenizes here; it never matches keys. What
// PHP does differently is restated: a duplicate key keeps its first
// position and its last value, invalid UTF-8 and unpaired UTF-16
// surrogate escapes are errors (Go would substitute U+FFFD), nesting
// 512 deep is an error, and so is anything after the value.
func phpJSONDecode(b []byte) (any, error) {
	if !utf8.Valid(b) || hasUnpairedSurrogate(b) {
		return nil, errPHPJSON
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodePHPValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errPHPJSON
	}
	return v, nil
}

func decodePHPValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, errPHPJSON
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth++; depth >= phpJSONDepth {
			return nil, errPHPJSON
		}
		a := newPHPArray()
		for dec.More() {
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, errPHPJSON
				}
				v, err := decodePHPValue(dec, depth)
				if err != nil {
					return nil, err
				}
				a.set(phpKeyOf(k.(string)), v)
				continue
			}
			v, err := decodePHPValue(dec, depth)
			if err != nil {
				return nil, err
			}
			a.push(v)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, errPHPJSON
		}
		return a, nil
	case json.Number:
		return jsonNumber(t), nil
	case string, bool, nil:
		return t, nil
	}
	return nil, errPHPJSON
}

// hasUnpairedSurrogate reports a \uD800-\uDFFF escape inside a JSON string
// that is not a high surrogate followed by a low one.
func hasUnpairedSurrogate(b []byte) bool {
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString:
			if i+1 >= len(b) || b[i+1] != 'u' {
				i++ // skip the escaped byte
				continue
			}
			r, ok := hexRune(b[i+2:])
			if !ok {
				return false // the decoder reports the bad escape
			}
			i += 5
			switch {
			case 0xDC00 <= r && r <= 0xDFFF:
				return true
			case 0xD800 <= r && r <= 0xDBFF:
				if i+2 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
					return true
				}
				lo, ok := hexRune(b[i+3:])
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return true
				}
				i += 6
			}
		}
	}
	return false
}

func hexRune(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		if !isHex(c) {
			return 0, false
		}
		r = r<<4 | rune(unhex(c))
	}
	return r, true
}
