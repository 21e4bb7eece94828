/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

var batchRoute = Route{REST: true, Path: "/batch/v1", Method: "POST", Batch: true}

func FuzzBatchRequests(f *testing.F) {
	for _, body := range phpFunctionCases().JSON {
		f.Add(body, "", "application/json")
	}
	for _, q := range phpFunctionCases().Query {
		f.Add([]byte(nil), string(q), "")
		f.Add(q, "", "application/x-www-form-urlencoded")
	}
	f.Add([]byte(`{"requests":[{"method":"PUT","path":"/wp/v2/posts/1?x=1#y","headers":{"a":"b"},"body":{}}]}`), "", "application/json")
	f.Fuzz(func(t *testing.T, body []byte, query, ctype string) {
		req := Request{Method: "POST", Target: "/wp-json/batch/v1?" + query, Headers: map[string]string{"content-type": ctype}, Body: body, BodyComplete: true}
		subs, err := BatchRequests(req, batchRoute)
		if err != nil {
			if !errors.Is(err, ErrBatchUndecided) {
				t.Fatalf("error %v does not wrap ErrBatchUndecided", err)
			}
			return
		}
		if len(subs) == 0 || len(subs) > MaxBatchRequests {
			t.Fatalf("%d sub-requests", len(subs))
		}
		for _, s := range subs {
			if !slices.Contains([]string{"POST", "PUT", "PATCH", "DELETE"}, s.Method) {
				t.Fatalf("method %q", s.Method)
			}
			if p, err := canonicalRoute(s.Path); err != nil || p != s.Path || s.Path == "/batch/v1" {
				t.Fatalf("path %q is not a canonical route (%q, %v)", s.Path, p, err)
			}
		}
	})
}

// BenchmarkBatchRequests reads a batch of n sub-requests from a JSON body
// and from the query.
func BenchmarkBatchRequests(b *testing.B) {
	for _, n := range []int{1, 25} {
		items := make([]map[string]any, n)
		var q strings.Builder
		for i := range items {
			items[i] = map[string]any{"method": "PUT", "path": fmt.Sprintf("/wp/v2/posts/%d", i+1), "body": map[string]any{"title": "t", "status": "publish"}}
			fmt.Fprintf(&q, "&requests[%d][method]=PUT&requests[%d][path]=/wp/v2/posts/%d", i, i, i+1)
		}
		body, _ := json.Marshal(map[string]any{"requests": items})
		for _, bc := range []struct {
			name string
			req  Request
		}{
			{fmt.Sprintf("json-%d", n), Request{Method: "POST", Target: "/wp-json/batch/v1", Headers: map[string]string{"content-type": "application/json"}, Body: body, BodyComplete: true}},
			{fmt.Sprintf("query-%d", n), Request{Method: "POST", Target: "/?rest_route=/batch/v1" + q.String(), BodyComplete: true}},
		} {
			b.Run(bc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if subs, err := BatchRequests(bc.req, batchRoute); err != nil || len(subs) != n {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestBatchRefusals checks why BatchRequests refuses what WordPress might
// read another way than wproute can see.
func TestBatchRefusals(t *testing.T) {
	big := `{"requests":[{"path":"/wp/v2/posts","body":{"pad":"` + strings.Repeat("x", maxFormRouteBody) + `"}}]}`
	manyVars := strings.Repeat("a=1&", maxInputVars) + "requests[0][path]=/wp/v2/posts"
	const json, form = "application/json", "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, method, query, ctype, body string
		extra                            map[string]string
		want                             error // nil: allowed
	}{
		{name: "large JSON body alone", query: "", ctype: json, body: big},
		{name: "large JSON body and requests in the query", query: "requests[0][path]=/wp/v2/pages", ctype: json, body: big, want: errBatchDropped},
		{name: "small JSON body and requests in the query", query: "requests[0][path]=/wp/v2/pages", ctype: json, body: `{"requests":[{"path":"/wp/v2/posts"}]}`},
		{name: "max_input_vars in the query", query: manyVars, want: errBatchTooManyVars},
		{name: "max_input_vars in the form", ctype: form, body: manyVars, want: errBatchTooManyVars},
		{name: "semicolon in a query carrying requests", query: "requests[0][path]=/wp/v2/posts;x=1", want: errBatchSeparator},
		{name: "semicolon in a query without requests", query: "a=1;b=2", ctype: json, body: `{"requests":[{"path":"/wp/v2/posts"}]}`},
		{name: "look-alike Content_Type", ctype: json, body: `{"requests":[{"path":"/wp/v2/posts"}]}`, extra: map[string]string{"content_type": json}, want: errBatchContentType},
		{name: "joined Content-Type", ctype: "application/json,application/json", body: `{"requests":[{"path":"/wp/v2/posts"}]}`, want: errBatchContentType},
		{name: "form on lower-case post", method: "post", ctype: form, body: "requests[0][path]=/wp/v2/posts", want: errBatchPostCase},
		{name: "form on PUT is no source", method: "PUT", ctype: form, body: "requests[0][path]=/wp/v2/posts", want: errBatchNone},
		{name: "deep form variable", ctype: form, body: "requests[0][path]=/wp/v2/posts&requests[0][body]" + strings.Repeat("[a]", maxVarNesting) + "=1", want: errVarUncertain},
		{name: "form variable at the nesting bound", ctype: form, body: "requests[0][path]=/wp/v2/posts&requests[0][body]" + strings.Repeat("[a]", maxVarNesting-2) + "=1"},
		{name: "index beyond 32 bits", query: "requests[2147483648][path]=/wp/v2/posts", want: errVarUncertain},
		{name: "append after the 32-bit bound", query: "requests[2147483647][path]=/wp/v2/posts&requests[][path]=/wp/v2/pages", want: errVarUncertain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"content-type": tc.ctype}
			for k, v := range tc.extra {
				h[k] = v
			}
			method := tc.method
			if method == "" {
				method = "POST"
			}
			req := Request{Method: method, Target: "/wp-json/batch/v1?" + tc.query, Headers: h, Body: []byte(tc.body), BodyComplete: true}
			_, err := BatchRequests(req, batchRoute)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
