/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import "strings"

// This file restates the permalink half of WP::parse_request
// (wp-includes/class-wp.php) for the four rules rest_api_register_rewrites
// (wp-includes/rest-api.php) puts at the top of the rewrite table:
//
//	^{prefix}/?$                 => index.php?rest_route=/
//	^{prefix}/(.*)?              => index.php?rest_route=/$matches[1]
//	^{index}/{prefix}/?$         => index.php?rest_route=/
//	^{index}/{prefix}/(.*)?      => index.php?rest_route=/$matches[1]
//
// with {prefix} = rest_get_url_prefix() ("wp-json") and {index} =
// $wp_rewrite->index ("index.php"), both inserted into the regex unquoted,
// so a "." in them matches any byte but "\n". parse_request:
//
//  1. takes the path of REQUEST_URI (raw, not decoded) - or, when the web
//     server set PATH_INFO, PATH_INFO (decoded by the server) with every "%"
//     turned back into "%25";
//  2. trims "/" from both ends, removes the home path with
//     preg_replace('|^home|i') - case-insensitive and with no segment
//     boundary, so home "blog" also eats "blogwp-json" - and trims "/" again;
//  3. tries each rule with preg_match("#^$match#") against that string and,
//     if that fails, against urldecode() of it, before moving to the next
//     rule;
//  4. substitutes the capture through WP_MatchesMapRegex, which urlencode()s
//     it, so the following parse_str() gives back exactly the captured text:
//     the route is the raw path (no decoding at all) when the raw string
//     matched, and the once-decoded path when only urldecode() matched. A
//     "&" or "%26" in the path never injects another variable.
//
// PCRE details that matter: "$" also matches before a final "\n", and "."
// (in "(.*)") stops at "\n", so a decoded newline cuts the route short.

// restRules returns the rest_route value the REST rewrite rules give for
// request path s (after trimming and home removal), if one matches. bad is
// set when the match needed urldecode() over a malformed "%".
func restRules(s, prefix string) (value string, ok, bad bool) {
	dec, decBad := phpURLDecode(s)
	tryDec := dec != s
	for rule := 0; rule < 4; rule++ {
		for pass := 0; pass < 2; pass++ {
			t := s
			if pass == 1 {
				if !tryDec {
					continue
				}
				t = dec
			}
			rest, matched := t, true
			if rule >= 2 {
				rest, matched = cutPattern(rest, "index.php/")
			}
			if matched {
				rest, matched = cutPattern(rest, prefix)
			}
			if !matched {
				continue
			}
			if rule%2 == 0 {
				// ^{prefix}/?$ : "$" allows one final "\n".
				switch rest {
				case "", "/", "\n", "/\n":
					return "/", true, pass == 1 && decBad
				}
				continue
			}
			// ^{prefix}/(.*)? : the value is "/" plus the capture, which
			// ends at the first "\n".
			if len(rest) == 0 || rest[0] != '/' {
				continue
			}
			if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
				rest = rest[:nl]
			}
			return rest, true, pass == 1 && decBad
		}
	}
	return "", false, false
}

// cutPattern matches the start of s against a regex fragment made of
// literal bytes and "." (any byte but "\n"), ASCII case-insensitively:
// WordPress's rules are case-sensitive, but treating "/WP-JSON/" as REST is
// the conservative side, and a server in front may fold case.
func cutPattern(s, pat string) (string, bool) {
	if len(s) < len(pat) {
		return s, false
	}
	for i := 0; i < len(pat); i++ {
		p, c := pat[i], s[i]
		if p == '.' {
			if c == '\n' {
				return s, false
			}
			continue
		}
		if lower(p) != lower(c) {
			return s, false
		}
	}
	return s[len(pat):], true
}

// trimSlashes is PHP's trim($s, '/').
func trimSlashes(s string) string {
	for len(s) > 0 && s[0] == '/' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// permalinkCandidate runs steps 2-4 above on one request path for one
// reading of restPrefix as home path + REST URL prefix.
func permalinkCandidate(path, home, prefix string) (value string, ok, bad bool) {
	s := trimSlashes(path)
	if home != "" {
		if rest, cut := cutLiteralFold(s, home); cut {
			s = trimSlashes(rest)
		}
	}
	return restRules(s, prefix)
}

// cutLiteralFold removes a literal, ASCII case-insensitive prefix
// (preg_quote'd home path under the "i" flag).
func cutLiteralFold(s, pre string) (string, bool) {
	if len(s) < len(pre) {
		return s, false
	}
	for i := 0; i < len(pre); i++ {
		if lower(pre[i]) != lower(s[i]) {
			return s, false
		}
	}
	return s[len(pre):], true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
