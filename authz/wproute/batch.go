/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

// This file reads the sub-requests of a /batch/v1 call as WordPress 6.1
// (class-wp-rest-server.php, class-wp-rest-request.php, rest-api.php) reads
// them:
//
//   - The batch handler takes $request['requests'], i.e. get_param(), which
//     walks get_parameter_order(): the JSON body, only when
//     wp_is_json_media_type() accepts the Content-Type; then $_POST (PHP
//     fills it from a urlencoded or multipart body when REQUEST_METHOD is
//     exactly "POST"; the REST request's method is POST, so
//     parse_body_params() never runs); then $_GET. The first source where
//     isset() holds wins: a JSON null falls through. Keys are exact.
//   - Before the handler, sanitize_params() validates the argument against
//     the route's schema: an array (a scalar becomes a comma list) of at
//     most 25 items, each an object (array) with a string "path" and an
//     optional "method" that is exactly POST, PUT, PATCH or DELETE. Any
//     failure refuses the whole batch (400); nothing runs.
//   - serve_batch_request_v1() then runs, for each item,
//     new WP_REST_Request( method or "POST", wp_parse_url( path )['path'] ):
//     the path ends at the first "?" or "#" and is not decoded; "//host/..."
//     names a host; the query, the item's headers and body never change the
//     method or the route. Routes match case-insensitively
//     ('@^'.$route.'$@i') and /batch/v1 itself does not allow batching.
//
// Where this depends on what wproute cannot see (PHP's post_max_size,
// its version, a web server that rewrites Content-Type), or on input no
// honest client sends, BatchRequests refuses.

import (
	"errors"
	"strings"
)

// MaxBatchRequests is WordPress's default limit for /batch/v1 (the
// "requests" argument's maxItems, filter rest_get_max_batch_size).
const MaxBatchRequests = 25

// SubRequest is one request WordPress runs inside a /batch/v1 call.
type SubRequest struct {
	Method string // POST, PUT, PATCH or DELETE
	Path   string // canonical route, as in Route.Path
}

// ErrBatchUndecided is wrapped by every error BatchRequests returns: the
// sub-requests WordPress would run cannot be known with certainty, and the
// batch must be refused.
var ErrBatchUndecided = errors.New("batch sub-requests cannot be decided")

type batchRefusal string

func (b batchRefusal) Error() string { return ErrBatchUndecided.Error() + ": " + string(b) }
func (b batchRefusal) Unwrap() error { return ErrBatchUndecided }

const (
	errBatchMethod      batchRefusal = "the batch is not a POST request after overrides"
	errBatchBody        batchRefusal = "body absent or truncated"
	errBatchContentType batchRefusal = "Content-Type may reach WordPress differently (several values, or a look-alike header)"
	errBatchMultipart   batchRefusal = "multipart body"
	errBatchPostCase    batchRefusal = "form body on a method PHP may not read as POST"
	errBatchJSON        batchRefusal = "JSON body that json_decode rejects (WordPress answers 400)"
	errBatchTooManyVars batchRefusal = "more than max_input_vars (1000) variables"
	errBatchSeparator   batchRefusal = "\";\" in a query carrying requests (arg_separator.input)"
	errBatchDropped     batchRefusal = "body larger than a post_max_size may allow, and a later source also carries requests"
	errBatchNone        batchRefusal = "no requests parameter"
	errBatchNotList     batchRefusal = "requests is not a list of 1 to 25 objects"
	errBatchPath        batchRefusal = "a sub-request has no string path"
	errBatchSubMethod   batchRefusal = "a sub-request method is not exactly POST, PUT, PATCH or DELETE"
	errBatchSubBody     batchRefusal = "a sub-request's body is not an object"
	errBatchHeaders     batchRefusal = "a sub-request's headers are not an object of strings"
	errBatchOverride    batchRefusal = "a sub-request carries a method override (WordPress ignores it in a batch)"
	errBatchSubPath     batchRefusal = "a sub-request path is not a plain absolute path"
	errBatchNested      batchRefusal = "a sub-request is itself a batch"
	errVarUncertain     batchRefusal = "a query or form variable depends on PHP's version or settings"
)

// maxBatchSubPath bounds a sub-request path; no route is longer.
const maxBatchSubPath = 2048

// BatchRequests returns the sub-requests WordPress would run for r, a
// request Resolve routed to /batch/v1 (route is its answer), or an error
// wrapping ErrBatchUndecided. Every sub-request WordPress would run is in
// the result; it may hold more (WordPress skips routes that do not allow
// batching, and runs none when one item is invalid).
func BatchRequests(r Request, route Route) ([]SubRequest, error) {
	if route.Method != "POST" {
		// Only a POST handler is registered; WordPress answers 404.
		return nil, errBatchMethod
	}
	if !r.BodyComplete {
		return nil, errBatchBody
	}
	requests, err := batchParam(r)
	if err != nil {
		return nil, err
	}
	items, ok := requests.(*phpArray)
	if !ok || len(items.keys) == 0 || len(items.keys) > MaxBatchRequests || !items.isList() {
		return nil, errBatchNotList
	}
	subs := make([]SubRequest, 0, len(items.keys))
	for _, it := range items.values() {
		s, err := batchItem(it)
		if err != nil {
			return nil, err
		}
		subs = append(subs, s)
	}
	return subs, nil
}

// batchParam returns the "requests" parameter as get_param() finds it.
func batchParam(r Request) (any, error) {
	ct, err := contentType(r.Headers)
	if err != nil {
		return nil, err
	}
	_, query, _ := strings.Cut(r.Target, "?")

	// The sources in get_parameter_order(), each nil when absent.
	var fromJSON, fromForm any
	if isJSONMediaType(ct) && len(r.Body) > 0 && string(r.Body) != "0" { // empty($body)
		v, err := phpJSONDecode(r.Body)
		if err != nil {
			return nil, errBatchJSON
		}
		if obj, ok := v.(*phpArray); ok {
			var set bool
			if fromJSON, set = obj.lookup("requests"); set && fromJSON == nil {
				// get_param() passes over a null, but sanitize_params()
				// validates it and WordPress answers 400.
				return nil, errBatchNotList
			}
		}
	}
	kind, maybe := formType(ct)
	switch {
	case kind == multipartForm:
		return nil, errBatchMultipart
	case maybe && kind == notForm:
		return nil, errBatchContentType
	case kind == urlencodedForm && r.Method != "POST":
		if strings.EqualFold(r.Method, "POST") {
			return nil, errBatchPostCase
		}
		// PHP fills $_POST for POST only: the body is no source.
	case kind == urlencodedForm:
		if fromForm, err = formVar(string(r.Body), true, "requests"); err != nil {
			return nil, err
		}
	}
	fromQuery, err := formVar(query, false, "requests")
	if err != nil {
		return nil, err
	}

	// get_param(): the first source where isset() holds.
	fromBody := fromJSON
	if fromBody == nil {
		fromBody = fromForm
	}
	switch {
	case fromBody != nil && fromQuery != nil && len(r.Body) > maxFormRouteBody:
		// PHP may drop a body over post_max_size; the query would then be
		// read instead.
		return nil, errBatchDropped
	case fromBody != nil:
		return fromBody, nil
	case fromQuery != nil:
		return fromQuery, nil
	}
	return nil, errBatchNone
}

// formVar reads variable name from a query (post=false) or urlencoded body
// (post=true) as PHP does.
func formVar(s string, post bool, name string) (any, error) {
	if s == "" {
		return nil, nil
	}
	count := 0
	for range phpPieces(s, false, post) {
		count++
	}
	if count > maxInputVars {
		return nil, errBatchTooManyVars
	}
	v, err := phpArrayVar(s, false, post, name)
	if err != nil {
		return nil, err
	}
	if !post && strings.IndexByte(s, ';') >= 0 {
		// Whether ";" separates depends on arg_separator.input.
		alt, err := phpArrayVar(s, true, false, name)
		if err != nil {
			return nil, err
		}
		if v != nil || alt != nil {
			return nil, errBatchSeparator
		}
	}
	return v, nil
}

// batchItem validates one item as the schema does and returns the
// sub-request serve_batch_request_v1 builds from it.
func batchItem(it any) (SubRequest, error) {
	obj, ok := it.(*phpArray)
	if !ok {
		return SubRequest{}, errBatchNotList
	}
	method := "POST"
	if m, set := obj.lookup("method"); set {
		s, _ := m.(string)
		switch s {
		case "POST", "PUT", "PATCH", "DELETE": // the schema's enum, compared strictly
			method = s
		default:
			return SubRequest{}, errBatchSubMethod
		}
	}
	p, _ := obj.lookup("path")
	path, ok := p.(string)
	if !ok {
		return SubRequest{}, errBatchPath
	}
	if h, set := obj.lookup("headers"); set {
		if err := checkSubHeaders(h); err != nil {
			return SubRequest{}, err
		}
	}
	if b, set := obj.lookup("body"); set && !isPHPObject(b) {
		return SubRequest{}, errBatchSubBody
	}
	route, err := batchSubRoute(path)
	if err != nil {
		return SubRequest{}, err
	}
	return SubRequest{Method: method, Path: route}, nil
}

// checkSubHeaders refuses a method override among a sub-request's headers.
// WordPress ignores it inside a batch (the method is the item's), but a
// client that sends one expects another method than the one that runs.
func checkSubHeaders(h any) error {
	if !isPHPObject(h) {
		return errBatchHeaders
	}
	obj, ok := h.(*phpArray)
	if !ok {
		return nil // "": no headers
	}
	for _, k := range obj.keys {
		// WP_REST_Request::canonicalize_header_name: lower case, "-" is "_".
		if !k.isNum && strings.ReplaceAll(strings.ToLower(k.str), "-", "_") == "x_http_method_override" {
			return errBatchOverride
		}
	}
	return nil
}

// isPHPObject is rest_is_object(): an array, or "".
func isPHPObject(v any) bool {
	_, isArray := v.(*phpArray)
	return isArray || v == ""
}

// batchSubRoute returns the canonical route of a sub-request path as
// wp_parse_url() splits it, refusing whatever could be read two ways.
func batchSubRoute(raw string) (string, error) {
	if len(raw) > maxBatchSubPath || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
		// "//host/path" is a URL with a host to wp_parse_url(); anything
		// not starting with "/" is relative or has a scheme.
		return "", errBatchSubPath
	}
	path, query := raw, ""
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		path = raw[:i]
		if raw[i] == '?' {
			query, _, _ = strings.Cut(raw[i+1:], "#")
		}
	}
	// WordPress matches the path as it is, undecoded; parse_url() turns
	// control bytes into "_". A "%", "\", "//" or dot segment is read one
	// way by WordPress and perhaps another by whoever wrote the policy, and
	// whether "@...@i" folds the case of a byte outside ASCII depends on
	// PHP's locale.
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x20 || c == 0x7f || (c >= 0x80 && i < len(path)) {
			return "", errBatchSubPath
		}
	}
	if strings.ContainsAny(path, "%\\") || strings.Contains(path, "//") || hasDotSegment(path) {
		return "", errBatchSubPath
	}
	if query != "" {
		for _, semicolon := range []bool{false, true} {
			if parsePHPVars(query, semicolon, false).method.set {
				return "", errBatchOverride
			}
		}
	}
	route, err := canonicalRoute(path)
	if err != nil {
		return "", errBatchSubPath
	}
	if route == "/batch/v1" {
		return "", errBatchNested
	}
	return route, nil
}

// contentType returns the Content-Type value WordPress and PHP both read,
// refusing one that may reach them differently: several values joined by
// the proxy (the web server may pass any of them), or a look-alike header
// such as "Content_Type" that some servers pass as HTTP_CONTENT_TYPE,
// which WordPress reads too.
func contentType(h map[string]string) (string, error) {
	for k := range h {
		if k != "content-type" && len(k) == len("content-type") && strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "content-type") {
			return "", errBatchContentType
		}
	}
	ct := h["content-type"]
	if strings.IndexByte(ct, ',') >= 0 {
		return "", errBatchContentType
	}
	return ct, nil
}

// isJSONMediaType is WP_REST_Request::is_json_content_type(): the value of
// get_content_type() (cut at a ";" that is not the first byte, lower-cased,
// trimmed, null without a "/") checked by wp_is_json_media_type()'s
// pattern '/(^|\s|,)application\/([\w!#\$&-\^\.\+]+\+)?json(\+oembed)?($|\s|;|,)/i'.
func isJSONMediaType(ct string) bool {
	if ct == "" || ct == "0" { // empty()
		return false
	}
	if i := strings.IndexByte(ct, ';'); i > 0 {
		ct = ct[:i]
	}
	ct = strings.Trim(strings.ToLower(ct), " \t\n\r\x00\x0b")
	if strings.IndexByte(ct, '/') < 0 {
		return false
	}
	for i := 0; i+len("application/") <= len(ct); i++ {
		if (i == 0 || isPCRESpace(ct[i-1]) || ct[i-1] == ',') && strings.HasPrefix(ct[i:], "application/") && jsonSubtype(ct[i+len("application/"):]) {
			return true
		}
	}
	return false
}

// jsonSubtype matches '([\w!#\$&-\^\.\+]+\+)?json(\+oembed)?($|\s|;|,)' at
// the start of s (lower case).
func jsonSubtype(s string) bool {
	end := func(t string) bool {
		if strings.HasPrefix(t, "+oembed") && endsJSON(t[len("+oembed"):]) {
			return true
		}
		return endsJSON(t)
	}
	if strings.HasPrefix(s, "json") && end(s[len("json"):]) {
		return true
	}
	// A prefix ending in "+" before "json": the class holds "+", so try
	// every "+json" the run of class bytes reaches.
	for i := 0; i < len(s) && subtypeByte(s[i]); i++ {
		if i > 0 && s[i] == '+' && strings.HasPrefix(s[i+1:], "json") && end(s[i+1+len("json"):]) {
			return true
		}
	}
	return false
}

func endsJSON(t string) bool {
	return t == "" || isPCRESpace(t[0]) || t[0] == ';' || t[0] == ','
}

// subtypeByte is the class [\w!#\$&-\^\.\+]: word bytes, "!", "#", "$",
// and the range "&" to "^" (which holds "+", ".", "/", digits, upper case
// and more).
func subtypeByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' ||
		c == '!' || c == '#' || c == '$' || '&' <= c && c <= '^'
}

// isPCRESpace is PCRE2's \s without Unicode: space, \t, \n, \v, \f, \r.
func isPCRESpace(c byte) bool {
	return c == ' ' || '\t' <= c && c <= '\r'
}
