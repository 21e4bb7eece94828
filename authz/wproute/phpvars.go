/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import (
	"iter"
	"strings"
)

// This file restates how PHP turns "a=1&b=2" into $_GET / $_POST / the
// output of parse_str(). WordPress reads rest_route and _method from those
// arrays, so the names must be recognised with PHP's rules, not Go's:
//
//   - php_default_treat_data (main/php_variables.c) splits $_GET and
//     parse_str() input on arg_separator.input ("&"; some hosts add ";") with
//     strtok, so empty pieces are skipped; add_post_var splits a urlencoded
//     body on "&" only and counts empty pieces too.
//   - A piece is split at its first "="; name and value are decoded with
//     php_url_decode: "+" is a space, "%XX" with two hex digits is a byte,
//     any other "%" stays literal.
//   - php_register_variable_ex then mangles the name: it is a C string, so a
//     decoded NUL ends it; leading spaces are dropped; " " and "." become "_";
//     at the first "[" the name becomes an array if a "]" follows anywhere,
//     otherwise that "[" becomes "_" (PHP 8 also turns later " ", "." and "["
//     into "_"; PHP 7 left them alone - no difference for the names here).
//     An empty name is dropped.
//   - A later scalar replaces an earlier value; arrays are built from
//     "name[...]" pieces (registerPHPVar in phparray.go); more than
//     max_input_vars (1000) pieces are dropped.

const maxInputVars = 1000

// varName identifies the variables wproute cares about.
type varName uint8

const (
	varOther  varName = iota
	varRoute          // rest_route
	varMethod         // _method
)

// phpVar is the last value PHP would hold for one variable.
type phpVar struct {
	set   bool   // the variable exists
	array bool   // some piece made it (or part of it) an array
	raw   string // raw, still-encoded value of the last scalar piece
}

// phpVars is what one parse of a query string or form body yields for the
// variables wproute cares about.
type phpVars struct {
	route  phpVar
	method phpVar
	count  int // pieces counted against max_input_vars
}

// phpPieces yields the name=value pieces of s that PHP registers, raw
// (still encoded), in order: php_default_treat_data for $_GET and
// parse_str() (post=false, separators "&", plus ";" when semicolon is set,
// empty pieces skipped) or add_post_var for a urlencoded $_POST body
// (post=true, "&" only, empty pieces counted). Every piece yielded counts
// against max_input_vars.
func phpPieces(s string, semicolon, post bool) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for len(s) > 0 {
			end := len(s)
			for i := 0; i < len(s); i++ {
				if s[i] == '&' || (semicolon && s[i] == ';') {
					end = i
					break
				}
			}
			piece := s[:end]
			if end < len(s) {
				s = s[end+1:]
			} else {
				s = ""
			}
			if piece == "" && !post {
				continue // strtok skips empty tokens
			}
			key, val, _ := strings.Cut(piece, "=")
			if !yield(key, val) {
				return
			}
		}
	}
}

// parsePHPVars reads rest_route and _method from s (see phpPieces for the
// arguments) the way PHP fills $_GET, $_POST or parse_str()'s result.
func parsePHPVars(s string, semicolon, post bool) phpVars {
	var out phpVars
	for key, val := range phpPieces(s, semicolon, post) {
		out.count++
		name, array := classifyPHPName(key)
		var v *phpVar
		switch name {
		case varRoute:
			v = &out.route
		case varMethod:
			v = &out.method
		default:
			continue
		}
		v.set = true
		if array {
			v.array = true
			v.raw = ""
		} else {
			// A scalar replaces whatever was there, array or not.
			v.array = false
			v.raw = val
		}
	}
	return out
}

// decodedByte returns the byte php_url_decode produces at s[i] and how many
// input bytes it consumed.
func decodedByte(s string, i int) (byte, int) {
	c := s[i]
	switch {
	case c == '+':
		return ' ', 1
	case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
		return unhex(s[i+1])<<4 | unhex(s[i+2]), 3
	}
	return c, 1
}

// classifyPHPName decodes and mangles a raw variable name as PHP does and
// reports whether the result is rest_route or _method, and whether it is
// an array element. It allocates only for a name that needs decoding or
// mangling.
func classifyPHPName(raw string) (varName, bool) {
	base, index, ok := phpVarName(mustDecode(raw))
	if !ok {
		return varOther, false
	}
	return nameOf(base), index != ""
}

// phpVarName applies php_register_variable_ex's rules to a decoded
// variable name. base is the name of the variable PHP sets; index is the
// rest of the name from the "[" that makes it an array ("" for a plain
// variable). ok is false for a name PHP drops.
//
// The name is a C string, so a NUL ends it; leading spaces are dropped;
// " " and "." become "_"; at the first "[" the name becomes an array if a
// "]" follows anywhere, otherwise that "[" becomes "_" and so do every
// later " ", "." and "[" (PHP 8; PHP 7 left the later ones alone, which
// changes no name wproute looks for). An empty base is dropped.
func phpVarName(name string) (base, index string, ok bool) {
	if plainVarName(name) {
		return name, "", name != ""
	}
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	name = strings.TrimLeft(name, " ")
	cut := len(name)
	if i := strings.IndexByte(name, '['); i >= 0 {
		if i == 0 {
			return "", "", false
		}
		if strings.IndexByte(name[i+1:], ']') >= 0 {
			return mangleVarName(name[:i], " ."), name[i:], true
		}
		cut = i
	}
	base = mangleVarName(name[:cut], " .")
	if cut < len(name) {
		base += mangleVarName(name[cut:], " .[")
	}
	return base, "", base != ""
}

// plainVarName reports a name PHP keeps as it is (the common case, in one
// pass): no NUL, "[", " " or ".".
func plainVarName(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case 0, '[', ' ', '.':
			return false
		}
	}
	return true
}

// mangleVarName replaces every byte of chars in s by "_".
func mangleVarName(s, chars string) string {
	if strings.IndexAny(s, chars) < 0 {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if strings.IndexByte(chars, c) >= 0 {
			b[i] = '_'
		}
	}
	return string(b)
}

func nameOf(name string) varName {
	switch name {
	case "rest_route":
		return varRoute
	case "_method":
		return varMethod
	}
	return varOther
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// phpURLDecode is PHP's urldecode()/php_url_decode: "+" is a space, "%XX"
// with two hex digits is a byte, any other "%" is kept. bad reports such a
// kept "%", which another decoder on the way (a proxy, the web server) might
// read differently. It returns s itself when there is nothing to decode.
func phpURLDecode(s string) (out string, bad bool) {
	i := 0
	for i < len(s) && s[i] != '%' && s[i] != '+' {
		i++
	}
	if i == len(s) {
		return s, false
	}
	b := make([]byte, i, len(s))
	copy(b, s[:i])
	for i < len(s) {
		c, w := decodedByte(s, i)
		if w == 1 && s[i] == '%' {
			bad = true
		}
		b = append(b, c)
		i += w
	}
	return string(b), bad
}

// rawURLDecode decodes "%XX" only, as a web server does for the path it
// maps to a script and PATH_INFO ("+" stays "+").
func rawURLDecode(s string) string {
	i := 0
	for i < len(s) && s[i] != '%' {
		i++
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, i, len(s))
	copy(b, s[:i])
	for i < len(s) {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 3
			continue
		}
		b = append(b, s[i])
		i++
	}
	return string(b)
}
