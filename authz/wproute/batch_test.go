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
