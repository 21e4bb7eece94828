package authz

import (
	"encoding/json"
	"strings"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/identity"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// maxBatchRequests is WordPress's own limit for /batch/v1 (the "requests"
// argument's maxItems).
const maxBatchRequests = 25

// batchBody is the part of a /batch/v1 body that decides routing.
type batchBody struct {
	Requests []struct {
		Method  *string         `json:"method"`
		Path    *string         `json:"path"`
		Headers json.RawMessage `json:"headers"`
	} `json:"requests"`
}

// authorizeBatch authorizes every sub-request of a /batch/v1 call with the
// caller's identity. WordPress runs each sub-request as its own route, so
// the batch is allowed only if each one would be; without the complete
// body the sub-requests are unknown and the batch is refused.
func (e *Engine) authorizeBatch(p *policy.Policy, req *Request, id *identity.Identity) *Decision {
	if !req.BodyComplete || len(req.Body) == 0 {
		return denyBatch
	}
	var b batchBody
	if err := json.Unmarshal(req.Body, &b); err != nil || len(b.Requests) == 0 || len(b.Requests) > maxBatchRequests {
		return denyBatch
	}
	for _, sub := range b.Requests {
		method := "POST" // WordPress's default for a sub-request
		if sub.Method != nil {
			method = strings.ToUpper(*sub.Method)
		}
		if sub.Path == nil {
			return denyBatch
		}
		route, ok := batchRoute(*sub.Path)
		if !ok || route == "/batch/v1" || headersOverrideMethod(sub.Headers) {
			return denyBatch
		}
		if method == "HEAD" {
			method = "GET"
		}
		action, rule := decideAction(p, route, method)
		if action == v1alpha1.ActionDeny {
			return denyBatch
		}
		if d := authorize(action, rule, id); d != nil {
			return d
		}
	}
	return nil
}

// batchRoute canonicalizes a sub-request path the way WordPress matches it:
// the path part of the URL, undecoded, matched case-insensitively.
// Anything that could be read two ways is refused.
func batchRoute(raw string) (string, bool) {
	path, _, _ := strings.Cut(raw, "?")
	// "//host/path" is a URL with a host to wp_parse_url: refuse it and any
	// other empty segment.
	if !strings.HasPrefix(path, "/") || strings.Contains(path, "//") || len(path) > 2048 {
		return "", false
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c < 0x20 || c == 0x7f || c == '%' || c == '\\' || c == '#' {
			return "", false
		}
	}
	var segs []string
	for _, s := range strings.Split(path, "/") {
		switch s {
		case "":
			continue
		case ".", "..":
			return "", false
		}
		segs = append(segs, strings.ToLower(s))
	}
	return "/" + strings.Join(segs, "/"), true
}

// headersOverrideMethod reports whether a sub-request carries a method
// override header, which WordPress ignores inside a batch but a reader of
// the batch might not: refuse rather than guess.
func headersOverrideMethod(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	var h map[string]json.RawMessage
	if json.Unmarshal(raw, &h) != nil {
		return true
	}
	for k := range h {
		n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		if n == "x-http-method-override" {
			return true
		}
	}
	return false
}
