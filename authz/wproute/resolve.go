/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

// Package wproute resolves a raw HTTP request to the WordPress REST route
// WordPress itself would dispatch it to, and matches routes against policy
// globs.
//
// WordPress (checked against 6.1 source) decides "is this REST, and which
// route" from PHP's superglobals and the rewrite table, not from a
// normalized URL:
//
//   - WP::parse_request (class-wp.php) takes the public query var rest_route
//     from $_POST, else $_GET, else the permalink rewrite (see permalink.go);
//     $_GET and $_POST both set and different is a 400 (wp_die). It runs for
//     every front-end request (index.php, wp-trackback.php, and wp-admin's
//     edit.php/upload.php through wp()), so "?rest_route=" works on any path.
//   - wp_magic_quotes (load.php, run by wp-settings.php) addslashes() every
//     string in $_GET, $_POST and $_SERVER first: quotes, backslashes and NUL
//     in a route or method gain backslashes.
//   - rest_api_loaded (rest-api.php) ignores an empty() rest_route ("" or
//     "0"), else serves untrailingslashit(rest_route) (strips trailing "/"
//     and "\"), "" becoming "/". An array rest_route is a TypeError (500) on
//     PHP 8 and the index route on PHP 7.
//   - WP_REST_Server::serve_request (class-wp-rest-server.php) upper-cases
//     REQUEST_METHOD, then lets $_GET['_method'] (else the
//     X-HTTP-Method-Override header, $_SERVER['HTTP_X_HTTP_METHOD_OVERRIDE'])
//     replace it, whatever the original method.
//   - match_request_to_handler matches preg_match('@^'.$route.'$@i'):
//     ASCII case-insensitive, "$" matching before a final "\n"; HEAD falls
//     back to GET handlers.
//
// Resolve mirrors these steps. Where the outcome depends on something it
// cannot see (server configuration, PHP version, a truncated body) or on
// input no honest client sends, it returns an error wrapping ErrAmbiguous
// and the caller denies. Where it must guess, it guesses towards "REST":
// calling a request WordPress would 404 (or serve as a page) a REST route is
// harmless, the reverse is a bypass.
package wproute

import (
	"errors"
	"strings"
)

// Request is the part of an HTTP request that decides WordPress routing.
type Request struct {
	Method       string            // request method as received (any case)
	Target       string            // raw request-target: path plus optional "?query", exactly as on the wire (not decoded)
	Headers      map[string]string // lower-cased header names -> value (Envoy gives these already lower-cased; duplicates joined by ",")
	Body         []byte            // request body if the proxy sent it
	BodyComplete bool              // true when Body is the whole body (false: absent or truncated)
}

// Route is where WordPress would send the request.
type Route struct {
	REST   bool   // WordPress would dispatch it to the REST server
	Path   string // canonical REST route for matching: lower-case, leading "/", no trailing "/" (root is "/"); "" when !REST
	Method string // effective upper-case method after overrides; HEAD reported as GET
	Batch  bool   // Path is /batch/v1 (sub-requests run inside it)
}

// ErrAmbiguous is wrapped by every error Resolve returns: the WordPress
// outcome cannot be determined with certainty and the request must be
// denied.
var ErrAmbiguous = errors.New("ambiguous WordPress routing")

// ambiguity is an ErrAmbiguous with a reason; constant values keep the
// error path allocation-free.
type ambiguity string

func (a ambiguity) Error() string { return ErrAmbiguous.Error() + ": " + string(a) }
func (a ambiguity) Unwrap() error { return ErrAmbiguous }

const (
	errMethod         ambiguity = "request method is not an HTTP token"
	errTarget         ambiguity = "request target does not start with \"/\""
	errTargetLong     ambiguity = "request target longer than 8 KiB"
	errTargetBytes    ambiguity = "request target holds a control character, space or \"#\""
	errPathTricks     ambiguity = "path holds a dot segment or a backslash"
	errTooManyVars    ambiguity = "more than max_input_vars (1000) variables"
	errSeparator      ambiguity = "\";\" separators change rest_route or _method (arg_separator.input)"
	errRouteArray     ambiguity = "rest_route is an array"
	errMethodArray    ambiguity = "_method is an array"
	errGetPostDiffer  ambiguity = "rest_route differs between query and form body (WordPress answers 400)"
	errBodyUnknown    ambiguity = "form body absent or truncated: it may carry rest_route"
	errBodyTooLarge   ambiguity = "form body carrying rest_route may exceed post_max_size"
	errMultipartRoute ambiguity = "multipart body may carry rest_route"
	errPostCase       ambiguity = "form body on a method PHP may not read as POST"
	errFormUncertain  ambiguity = "content type may or may not reach PHP as a form, and the body may carry rest_route"
	errRouteQuote     ambiguity = "route holds a quote, backslash or NUL (wp_magic_quotes alters it)"
	errRouteControl   ambiguity = "route holds a control character"
	errRouteDot       ambiguity = "route holds a dot segment"
	errRoutePercent   ambiguity = "route holds a malformed percent-encoding"
	errRouteConflict  ambiguity = "server configurations disagree on the route"
	errLooksREST      ambiguity = "path names the REST prefix but does not resolve to a route"
	errOverride       ambiguity = "method override is not an HTTP token"
	errOverrideDiffer ambiguity = "method override headers disagree"
	errPrefix         ambiguity = "restPrefix holds characters WordPress would read as regex"
)

const (
	maxTarget = 8 << 10
	// maxFormRouteBody bounds a urlencoded body whose rest_route we trust:
	// PHP drops the whole of $_POST when the body exceeds post_max_size,
	// which we cannot see; no site sets it this low.
	maxFormRouteBody = 64 << 10
)

// Resolve returns the route WordPress would dispatch r to, or an error
// wrapping ErrAmbiguous when that cannot be determined with certainty.
// restPrefix is the URL path of the REST API root: home path plus
// rest_get_url_prefix(), e.g. "/wp-json" or "/blog/wp-json" (leading "/",
// no trailing "/").
func Resolve(r Request, restPrefix string) (Route, error) {
	if !validPrefix(restPrefix) {
		return Route{}, errPrefix
	}
	method, ok := upperToken(r.Method)
	if !ok {
		return Route{}, errMethod
	}
	t := r.Target
	if len(t) > maxTarget {
		return Route{}, errTargetLong
	}
	if len(t) == 0 || t[0] != '/' {
		return Route{}, errTarget
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c == 0x7f || c == '#' {
			return Route{}, errTargetBytes
		}
	}
	path, query := t, ""
	if q := strings.IndexByte(t, '?'); q >= 0 {
		path, query = t[:q], t[q+1:]
	}
	if pathTricks(path) {
		return Route{}, errPathTricks
	}

	// $_GET, as php_default_treat_data builds it from QUERY_STRING.
	get, err := parseQuery(query)
	if err != nil {
		return Route{}, err
	}

	// WP::parse_request: $_POST wins over $_GET, $_GET over the permalink.
	var route string
	var fromVar bool
	switch {
	case get.route.set:
		// A form body can only agree (same route) or differ (wp_die 400),
		// so a body we cannot read, or PHP may drop, changes nothing.
		if get.route.array {
			return Route{}, errRouteArray
		}
		if route, err = decodeValue(get.route.raw); err != nil {
			return Route{}, err
		}
		post, known, ferr := formRoute(r)
		if ferr == nil && known && post.set && (post.array || mustDecode(post.raw) != route) {
			return Route{}, errGetPostDiffer
		}
		fromVar = true
	default:
		post, known, err := formRoute(r)
		if err != nil {
			return Route{}, err
		}
		if known && post.set {
			if post.array {
				return Route{}, errRouteArray
			}
			if route, err = decodeValue(post.raw); err != nil {
				return Route{}, err
			}
			fromVar = true
		}
	}

	out := Route{Method: method}
	if fromVar {
		// rest_api_loaded: empty("") and empty("0") mean "not REST".
		if route != "" && route != "0" {
			p, err := canonicalRoute(route)
			if err != nil {
				return Route{}, err
			}
			out.REST, out.Path = true, p
		}
	} else {
		p, rest, err := permalinkRoute(path, restPrefix)
		if err != nil {
			return Route{}, err
		}
		out.REST, out.Path = rest, p
	}

	if !out.REST {
		// A proxy between us and PHP that decodes or normalizes the path
		// could still make this REST; WordPress itself would serve a page
		// or a 404 here, so denying loses nothing.
		if looksREST(path, restPrefix) {
			return Route{}, errLooksREST
		}
		if out.Method == "HEAD" {
			out.Method = "GET"
		}
		return out, nil
	}

	// serve_request: $_GET['_method'] first, then the override header.
	switch {
	case get.method.set:
		if get.method.array {
			return Route{}, errMethodArray
		}
		v, err := decodeValue(get.method.raw)
		if err != nil {
			return Route{}, err
		}
		if out.Method, ok = upperToken(v); !ok {
			return Route{}, errOverride
		}
	default:
		v, set, err := overrideHeader(r.Headers)
		if err != nil {
			return Route{}, err
		}
		if set {
			if out.Method, ok = upperToken(v); !ok {
				return Route{}, errOverride
			}
		}
	}
	// match_request_to_handler: HEAD runs GET handlers unless a route
	// registers HEAD itself; policies treat the two alike.
	if out.Method == "HEAD" {
		out.Method = "GET"
	}
	out.Batch = out.Path == "/batch/v1"
	return out, nil
}

// validPrefix accepts the characters a REST prefix is made of. "." is a
// regex wildcard in WordPress's rules and is emulated as one; anything else
// regex-special would make WordPress match what we cannot predict.
func validPrefix(p string) bool {
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '~':
		case c == '/':
			if i > 0 && p[i-1] == '/' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// upperToken upper-cases an HTTP method (ASCII only, as PHP's strtoupper)
// after checking it is an RFC 9110 token. "'" is refused although it is a
// token character: wp_magic_quotes would turn it into "\'".
func upperToken(m string) (string, bool) {
	if m == "" {
		return "", false
	}
	lowerSeen := false
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case 'a' <= c && c <= 'z':
			lowerSeen = true
		case strings.IndexByte("!#$%&*+-.^_`|~", c) >= 0:
		default:
			return "", false
		}
	}
	if !lowerSeen {
		return m, true
	}
	b := []byte(m)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b), true
}

// pathTricks reports dot segments and backslashes in the raw path or its
// once-decoded form. WordPress itself does not resolve "..", but a proxy or
// web server between us and PHP may (nginx proxy_pass with a URI, a CDN),
// and some treat "\" as "/".
func pathTricks(path string) bool {
	if dotOrBackslash(path) {
		return true
	}
	if strings.IndexByte(path, '%') >= 0 {
		return dotOrBackslash(rawURLDecode(path))
	}
	return false
}

func dotOrBackslash(p string) bool {
	if strings.IndexByte(p, '\\') >= 0 {
		return true
	}
	return hasDotSegment(p)
}

// hasDotSegment reports a "." or ".." segment between "/" separators.
func hasDotSegment(p string) bool {
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if seg := p[start:i]; seg == "." || seg == ".." {
				return true
			}
			start = i + 1
		}
	}
	return false
}

// parseQuery reads rest_route and _method from the query string as PHP
// fills $_GET. When ";" is present the answer must not depend on whether
// the host added it to arg_separator.input.
func parseQuery(q string) (phpVars, error) {
	if q == "" {
		return phpVars{}, nil
	}
	v := parsePHPVars(q, false, false)
	if v.count > maxInputVars {
		return v, errTooManyVars
	}
	if strings.IndexByte(q, ';') >= 0 {
		alt := parsePHPVars(q, true, false)
		if alt.count > maxInputVars {
			return v, errTooManyVars
		}
		if !sameVar(v.route, alt.route) || !sameVar(v.method, alt.method) {
			return v, errSeparator
		}
	}
	return v, nil
}

func sameVar(a, b phpVar) bool {
	if a.set != b.set || a.array != b.array {
		return false
	}
	return a.array || !a.set || mustDecode(a.raw) == mustDecode(b.raw)
}

func mustDecode(raw string) string {
	s, _ := phpURLDecode(raw)
	return s
}

// decodeValue decodes a query or form value as PHP does, refusing a
// malformed "%" that other decoders on the way may read differently.
func decodeValue(raw string) (string, error) {
	s, bad := phpURLDecode(raw)
	if bad {
		return "", errRoutePercent
	}
	return s, nil
}

// formRoute reports the rest_route PHP would put in $_POST. known is false
// when the request has no form body PHP would parse (then $_POST is empty)
// or, with an error, when the body cannot be seen.
//
// PHP (main/SAPI.c) reads a body into $_POST only when REQUEST_METHOD is
// exactly "POST" and the content type, lower-cased and cut at the first
// ";", "," or " ", is application/x-www-form-urlencoded (add_post_var:
// "&" only) or multipart/form-data (rfc1867.c).
func formRoute(r Request) (v phpVar, known bool, err error) {
	if !strings.EqualFold(r.Method, "POST") {
		return phpVar{}, false, nil
	}
	kind, maybe := formType(r.Headers["content-type"])
	if kind == notForm && !maybe {
		return phpVar{}, false, nil
	}
	if r.Method != "POST" {
		// PHP compares the method case-sensitively; a server in front may
		// not pass it through unchanged.
		return phpVar{}, false, errPostCase
	}
	body := r.Body
	if !r.BodyComplete {
		if len(body) != 0 || strings.TrimSpace(r.Headers["content-length"]) != "0" {
			return phpVar{}, false, errBodyUnknown
		}
		body = nil
	}
	// Field names in a multipart body are taken verbatim (no
	// percent-decoding) and then mangled like query names: every name PHP
	// reads as rest_route contains "rest", one byte, "route". A full
	// rfc1867 parser is not worth its risk here.
	rawRoute := containsRestRoute(body)
	if kind == multipartForm {
		if rawRoute {
			return phpVar{}, false, errMultipartRoute
		}
		return phpVar{}, true, nil
	}
	vars := parsePHPVars(string(body), false, true)
	if kind == notForm {
		// Some spelling of the header is a form type, PHP's reading of the
		// value we see is not: which one the web server hands PHP is
		// unknown, so the body must not carry a route either way.
		if rawRoute || vars.route.set || vars.count > maxInputVars {
			return phpVar{}, false, errFormUncertain
		}
		return phpVar{}, true, nil
	}
	if vars.count > maxInputVars {
		return phpVar{}, false, errTooManyVars
	}
	if vars.route.set && len(body) > maxFormRouteBody {
		return phpVar{}, false, errBodyTooLarge
	}
	return vars.route, true, nil
}

type formKind uint8

const (
	notForm formKind = iota
	urlencodedForm
	multipartForm
)

// formType classifies a Content-Type value exactly as PHP's SAPI does
// (kind), and reports whether any comma-separated part of it, read
// leniently, names a form type (maybe): a value joined from several
// headers, or odd whitespace, may reach PHP differently.
func formType(ct string) (kind formKind, maybe bool) {
	exact := ct
	if i := strings.IndexAny(exact, ";, "); i >= 0 {
		exact = exact[:i]
	}
	kind = formKindOf(exact)
	for ct != "" {
		part := ct
		if i := strings.IndexByte(ct, ','); i >= 0 {
			part, ct = ct[:i], ct[i+1:]
		} else {
			ct = ""
		}
		part = strings.TrimLeft(part, " \t")
		if i := strings.IndexAny(part, "; \t"); i >= 0 {
			part = part[:i]
		}
		if formKindOf(part) != notForm {
			maybe = true
		}
	}
	return kind, maybe
}

func formKindOf(s string) formKind {
	switch {
	case strings.EqualFold(s, "application/x-www-form-urlencoded"):
		return urlencodedForm
	case strings.EqualFold(s, "multipart/form-data"):
		return multipartForm
	}
	return notForm
}

// containsRestRoute reports "rest" + any byte + "route" in b.
func containsRestRoute(b []byte) bool {
	s := string(b) // no copy: the compiler converts for the search only
	for {
		i := strings.Index(s, "rest")
		if i < 0 {
			return false
		}
		if len(s) > i+5 && strings.HasPrefix(s[i+5:], "route") {
			return true
		}
		s = s[i+4:]
	}
}

// overrideHeader finds X-HTTP-Method-Override. PHP sees request headers as
// $_SERVER['HTTP_'.strtoupper(strtr($name, '-', '_'))], so
// "x_http_method_override" (passed by servers that keep underscored
// headers) and mixed spellings land in the same key; when spellings
// disagree we cannot tell which one the web server kept. Values are
// trimmed of the whitespace servers strip.
func overrideHeader(h map[string]string) (value string, set bool, err error) {
	const name = "x-http-method-override"
	for k, v := range h {
		if len(k) != len(name) {
			continue
		}
		match := true
		for i := 0; i < len(name); i++ {
			c := lower(k[i])
			if c == '_' {
				c = '-'
			}
			if c != name[i] {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		v = strings.Trim(v, " \t")
		if set && v != value {
			return "", false, errOverrideDiffer
		}
		value, set = v, true
	}
	return value, set, nil
}

// canonicalRoute turns a rest_route value into the canonical path policies
// match: what untrailingslashit() and the PCRE match would treat alike is
// made equal, and what we cannot reason about is refused.
func canonicalRoute(v string) (string, error) {
	// untrailingslashit strips trailing "/" and "\"; a final "\n" is
	// absorbed by "$". Backslashes are refused below, so only "/" here.
	end := len(v)
	for end > 0 && v[end-1] == '/' {
		end--
	}
	if end > 0 && v[end-1] == '\n' {
		end--
	}
	for end > 0 && v[end-1] == '/' {
		end-- // "/users/\n" does not reach "/users"; mapping it there is harmless
	}
	v = v[:end]

	clean := len(v) > 0 && v[0] == '/'
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' || c == '\'' || c == '"' || c == 0:
			return "", errRouteQuote
		case c < 0x20 || c == 0x7f:
			return "", errRouteControl
		case 'A' <= c && c <= 'Z':
			clean = false
		case c == '/' && i > 0 && v[i-1] == '/':
			clean = false
		}
	}
	if hasDotSegment(v) {
		return "", errRouteDot
	}
	if v == "" {
		return "/", nil
	}
	if clean {
		return v, nil
	}
	b := make([]byte, 0, len(v)+1)
	for i := 0; i < len(v); i++ {
		c := lower(v[i])
		if c == '/' && len(b) > 0 && b[len(b)-1] == '/' {
			continue // WordPress matches no route with "//"; merging is safe
		}
		if len(b) == 0 && c != '/' {
			b = append(b, '/')
		}
		b = append(b, c)
	}
	if len(b) > 1 && b[len(b)-1] == '/' {
		b = b[:len(b)-1]
	}
	return string(b), nil
}

// permalinkRoute resolves the route from the path alone, trying every way
// the path can reach WordPress's rewrite rules:
//
//   - REQUEST_URI (nginx try_files, Apache mod_rewrite to index.php);
//   - PATH_INFO after a "<script>.php/" segment (Apache AcceptPathInfo,
//     nginx fastcgi_split_path_info), e.g. /index.php/wp-json/... or
//     /wp-trackback.php/wp-json/...;
//   - PATH_INFO holding the whole decoded path (servers rewriting
//     everything to index.php/...); it differs from REQUEST_URI only when
//     the path has a "%".
//
// and every split of restPrefix into home path + REST URL prefix, since
// the two are not known separately. All readings that reach REST must
// agree on the route.
func permalinkRoute(path, restPrefix string) (string, bool, error) {
	var m merger
	var decoded string
	hasPct := strings.IndexByte(path, '%') >= 0
	if hasPct {
		decoded = rawURLDecode(path)
	} else {
		decoded = path
	}
	for split := 0; split < len(restPrefix); split++ {
		if restPrefix[split] != '/' {
			continue
		}
		home, prefix := "", restPrefix[split+1:]
		if split > 0 {
			home = restPrefix[1:split]
		}
		m.add(permalinkCandidate(path, home, prefix))
		if hasPct {
			m.add(permalinkCandidate(escapePercent(decoded), home, prefix))
		}
		for off := 0; ; {
			i := indexFold(decoded[off:], ".php/")
			if i < 0 {
				break
			}
			off += i + len(".php")
			m.add(permalinkCandidate(escapePercent(decoded[off:]), home, prefix))
		}
	}
	if m.err != nil {
		return "", false, m.err
	}
	return m.path, m.have, nil
}

// merger combines the routes of several readings of one request.
type merger struct {
	have bool
	path string
	err  error
}

func (m *merger) add(value string, ok, bad bool) {
	if !ok || m.err != nil {
		return
	}
	if bad {
		m.err = errRoutePercent
		return
	}
	p, err := canonicalRoute(value)
	if err != nil {
		m.err = err
		return
	}
	if m.have && p != m.path {
		m.err = errRouteConflict
		return
	}
	m.have, m.path = true, p
}

// escapePercent is parse_request's str_replace('%', '%25', $pathinfo).
func escapePercent(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	return strings.ReplaceAll(s, "%", "%25")
}

// indexFold is an ASCII case-insensitive strings.Index for a lower-case
// needle.
func indexFold(s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		j := 0
		for j < len(needle) && lower(s[i+j]) == needle[j] {
			j++
		}
		if j == len(needle) {
			return i
		}
	}
	return -1
}

// looksREST reports whether the path, decoded up to three times, has a
// segment equal to the last segment of restPrefix (ignoring case and
// trailing whitespace or control bytes).
func looksREST(path, restPrefix string) bool {
	last := restPrefix[strings.LastIndexByte(restPrefix, '/')+1:]
	p := path
	for k := 0; ; k++ {
		if hasSegmentFold(p, last) {
			return true
		}
		if k == 3 || strings.IndexByte(p, '%') < 0 {
			return false
		}
		p = rawURLDecode(p)
	}
}

func hasSegmentFold(p, seg string) bool {
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' || p[i] == '\\' {
			s := p[start:i]
			for len(s) > 0 && s[len(s)-1] <= ' ' {
				s = s[:len(s)-1]
			}
			if len(s) == len(seg) {
				if _, ok := cutLiteralFold(s, seg); ok {
					return true
				}
			}
			start = i + 1
		}
	}
	return false
}
