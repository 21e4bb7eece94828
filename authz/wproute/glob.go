/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import (
	"errors"
	"fmt"
	"strings"
)

// Glob is a compiled route pattern: segments separated by "/", "*" matches
// exactly one non-empty segment, "**" matches zero or more segments (only as
// a whole segment), everything else is literal and matched
// case-insensitively (ASCII, as WordPress's "@...@i" route regexes). Patterns
// start with "/"; a trailing "/" is ignored because canonical routes never
// have one. The zero Glob matches nothing.
type Glob struct {
	pattern string
	segs    []string // lower-cased; "*" and "**" are wildcards
	valid   bool
}

// CompileGlob compiles a route pattern. It rejects what can never match a
// canonical route, so that a typo in a policy is an error rather than a
// rule that silently never applies: empty segments ("//"), "." and ".."
// segments, "*" mixed with other characters in a segment, and
// query/fragment, whitespace, control, quote and backslash characters.
func CompileGlob(pattern string) (Glob, error) {
	if pattern == "" || pattern[0] != '/' {
		return Glob{}, errors.New("route pattern must start with \"/\"")
	}
	body := pattern[1:]
	if strings.HasSuffix(body, "/") {
		body = body[:len(body)-1]
		if body == "" {
			return Glob{}, fmt.Errorf("route pattern %q has an empty segment", pattern)
		}
	}
	g := Glob{pattern: pattern, valid: true}
	if body == "" {
		return g, nil // "/": the index route only
	}
	for _, seg := range strings.Split(body, "/") {
		switch {
		case seg == "":
			return Glob{}, fmt.Errorf("route pattern %q has an empty segment", pattern)
		case seg == "." || seg == "..":
			return Glob{}, fmt.Errorf("route pattern %q has a dot segment", pattern)
		case seg == "*" || seg == "**":
		case strings.Contains(seg, "*"):
			return Glob{}, fmt.Errorf("route pattern %q: \"*\" and \"**\" must be a whole segment", pattern)
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; c <= ' ' || c == 0x7f || strings.IndexByte("?#\\'\"", c) >= 0 {
				return Glob{}, fmt.Errorf("route pattern %q has a forbidden character %q", pattern, c)
			}
		}
		g.segs = append(g.segs, asciiLower(seg))
	}
	return g, nil
}

// String returns the pattern as written.
func (g Glob) String() string { return g.pattern }

// Match reports whether a canonical Route.Path matches the pattern.
func (g Glob) Match(path string) bool {
	if !g.valid || path == "" || path[0] != '/' {
		return false
	}
	// Greedy match with backtracking to the last "**" (the classic
	// wildcard algorithm, over segments): O(len(segs) * segments(path)).
	pos := 1 // start of the current path segment
	if path == "/" {
		pos = len(path)
	}
	pi := 0
	starPi, starPos := -1, 0
	for pos < len(path) || pi < len(g.segs) {
		if pi < len(g.segs) && g.segs[pi] == "**" {
			starPi, starPos = pi, pos
			pi++
			continue
		}
		if pos < len(path) && pi < len(g.segs) {
			end := strings.IndexByte(path[pos:], '/')
			if end < 0 {
				end = len(path)
			} else {
				end += pos
			}
			seg := path[pos:end]
			if seg != "" && (g.segs[pi] == "*" || equalFoldASCII(seg, g.segs[pi])) {
				pi++
				pos = next(path, end)
				continue
			}
		}
		if starPi < 0 || starPos >= len(path) {
			return false
		}
		// Let the last "**" swallow one more segment and retry.
		end := strings.IndexByte(path[starPos:], '/')
		if end < 0 {
			starPos = len(path)
		} else {
			starPos = next(path, starPos+end)
		}
		pi, pos = starPi+1, starPos
	}
	return true
}

// next returns the start of the segment after the separator at end.
func next(path string, end int) int {
	if end >= len(path) {
		return len(path)
	}
	return end + 1
}

func equalFoldASCII(a, lowerB string) bool {
	if len(a) != len(lowerB) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lowerB[i] {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lower(b[j])
			}
			return string(b)
		}
	}
	return s
}
