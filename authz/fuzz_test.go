package authz_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/authztest"
	"github.com/wpauthz/wpauthz/authz/wproute"
)

// FuzzBatch: /batch/v1 through the engine, on the batch oracle's policy (one
// role per route and method), with a token holding every role or every
// role but one. The engine allows a batch only when wproute can say which
// sub-requests WordPress runs (so never a truncated body) and every one of
// them, checked as a request of its own with the same token, is allowed:
// a batch never reaches a route the token could not reach directly. Every
// refusal is in WordPress's error shape. Seeds: the oracle's spellings.
func FuzzBatch(f *testing.F) {
	rules, roles := batchOraclePolicy()
	w := newBatchWorld(f, rules...)
	// tokens[i] lacks roles[i]; the last one has them all.
	tokens := make([]map[string]string, len(roles)+1)
	for i := range roles {
		lacking := append(append([]string(nil), roles[:i]...), roles[i+1:]...)
		tokens[i] = w.bearer(f, 1, lacking...)
	}
	tokens[len(roles)] = w.bearer(f, 1, roles...)
	blob := func(hs map[string]string) string {
		var b strings.Builder
		for k, v := range hs {
			b.WriteString(k + ": " + v + "\n")
		}
		return b.String()
	}
	for i, c := range batchOracleSpellings() {
		f.Add(c.Method, c.Target, blob(c.Headers), []byte(c.body()), true, uint8(len(roles)))
		f.Add(c.Method, c.Target, blob(c.Headers), []byte(c.body()), i%7 != 0, uint8(i))
	}
	f.Fuzz(func(t *testing.T, method, target, headerLines string, body []byte, complete bool, lack uint8) {
		auth := tokens[int(lack)%len(tokens)]
		headers := map[string]string{}
		for line := range strings.SplitSeq(headerLines, "\n") {
			if k, v, ok := strings.Cut(line, ": "); ok {
				headers[strings.ToLower(k)] = v
			}
		}
		for k, v := range auth {
			headers[k] = v
		}
		req := &authz.Request{Method: method, Host: "localhost", Target: target, Headers: headers, Body: body, BodyComplete: complete}
		d := w.engine.Check(context.Background(), req)
		if !d.Allowed {
			authztest.RequireWPError(t, d.Status, d.Body)
		}
		wreq := wproute.Request{Method: method, Target: target, Headers: headers, Body: body, BodyComplete: complete}
		route, err := wproute.Resolve(wreq, w.policy.RestPrefix)
		if err != nil || !route.REST || !route.Batch {
			return
		}
		subs, err := wproute.BatchRequests(wreq, route)
		if err != nil || !complete {
			if d.Allowed {
				t.Fatalf("batch allowed although its sub-requests are undecided (%v, body complete %v)", err, complete)
			}
			return
		}
		if !d.Allowed {
			return
		}
		for _, s := range subs {
			// As ?rest_route=, which reaches any route path unambiguously.
			one := w.engine.Check(context.Background(), &authz.Request{Method: s.Method, Host: "localhost", Target: "/?rest_route=" + url.QueryEscape(s.Path), Headers: auth, BodyComplete: true})
			if !one.Allowed {
				t.Fatalf("batch allowed, but its sub-request %s %s alone is refused (%s)", s.Method, s.Path, one.Code)
			}
		}
	})
}
