/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// jsonBatch is a /batch/v1 JSON body with the given items (JSON objects).
func jsonBatch(items ...string) string {
	return `{"requests":[` + strings.Join(items, ",") + `]}`
}

// TestBatchSubRequests checks which sub-requests BatchRequests reads, and
// which items it refuses, at the edges of WordPress's schema and of what
// wp_parse_url() splits one way only.
func TestBatchSubRequests(t *testing.T) {
	const json = "application/json"
	posts := `{"path":"/wp/v2/posts"}`
	postsSub := SubRequest{Method: "POST", Path: "/wp/v2/posts"}
	withPath := func(p string) string { return fmt.Sprintf(`{"path":%q}`, p) }
	// A sub-request path of exactly maxBatchSubPath bytes (padding in the query).
	longest := "/wp/v2/posts?pad=" + strings.Repeat("p", maxBatchSubPath-len("/wp/v2/posts?pad="))
	// maxInputVars variables in all: the last one carries requests.
	varsAtLimit := strings.Repeat("a=1&", maxInputVars-1) + "requests[0][path]=/wp/v2/posts"
	for _, tc := range []struct {
		name, query, ctype, body string
		want                     []SubRequest
		err                      error
	}{
		{name: "25 sub-requests, WordPress's maxItems", ctype: json, body: jsonBatch(slices.Repeat([]string{posts}, MaxBatchRequests)...), want: slices.Repeat([]SubRequest{postsSub}, MaxBatchRequests)},
		{name: "26 sub-requests", ctype: json, body: jsonBatch(slices.Repeat([]string{posts}, MaxBatchRequests+1)...), err: errBatchNotList},
		{name: "no sub-requests", ctype: json, body: jsonBatch(), err: errBatchNotList},
		{name: "empty JSON body leaves the query as the source", query: "requests[0][path]=/wp/v2/posts", ctype: json, want: []SubRequest{postsSub}},
		{name: "query with exactly max_input_vars variables", query: varsAtLimit, want: []SubRequest{postsSub}},
		{name: "semicolon before requests in the query", query: ";requests[0][path]=/wp/v2/posts", err: errBatchSeparator},
		{name: "Content-Type starting with a comma", ctype: ",application/json", body: jsonBatch(posts), err: errBatchContentType},

		{name: "method defaults to POST, an item's method is kept", ctype: json, body: jsonBatch(posts, `{"method":"DELETE","path":"/wp/v2/posts/7"}`), want: []SubRequest{postsSub, {Method: "DELETE", Path: "/wp/v2/posts/7"}}},
		{name: "ordinary sub-request headers", ctype: json, body: jsonBatch(`{"path":"/wp/v2/posts","headers":{"Content-Type":"application/json","X-WP-Nonce":"n"}}`), want: []SubRequest{postsSub}},
		{name: "headers as a list (numeric keys)", ctype: json, body: jsonBatch(`{"path":"/wp/v2/posts","headers":["x_http_method_override"]}`), want: []SubRequest{postsSub}},
		{name: "headers as an empty string", ctype: json, body: jsonBatch(`{"path":"/wp/v2/posts","headers":""}`), want: []SubRequest{postsSub}},
		{name: "headers as a non-empty string", ctype: json, body: jsonBatch(`{"path":"/wp/v2/posts","headers":"x"}`), err: errBatchHeaders},
		{name: "method override header in a sub-request", ctype: json, body: jsonBatch(`{"path":"/wp/v2/posts","headers":{"X-HTTP-Method-Override":"GET"}}`), err: errBatchOverride},
		{name: "method override header, canonical spelling", ctype: json, body: jsonBatch(`{"path":"/wp/v2/posts","headers":{"x_http_method_override":"GET"}}`), err: errBatchOverride},
		{name: "body as an empty string", ctype: json, body: jsonBatch(`{"path":"/wp/v2/posts","body":""}`), want: []SubRequest{postsSub}},
		{name: "body as a non-empty string", ctype: json, body: jsonBatch(`{"path":"/wp/v2/posts","body":"title=x"}`), err: errBatchSubBody},

		{name: "path of exactly maxBatchSubPath bytes", ctype: json, body: jsonBatch(withPath(longest)), want: []SubRequest{postsSub}},
		{name: "path one byte longer", ctype: json, body: jsonBatch(withPath(longest + "p")), err: errBatchSubPath},
		{name: "relative path", ctype: json, body: jsonBatch(withPath("wp/v2/posts")), err: errBatchSubPath},
		{name: "path naming a host", ctype: json, body: jsonBatch(withPath("//evil/wp/v2/posts")), err: errBatchSubPath},
		{name: "space in the sub-request query", ctype: json, body: jsonBatch(withPath("/wp/v2/posts?search=a b")), want: []SubRequest{postsSub}},
		{name: "non-ASCII in the sub-request query", ctype: json, body: jsonBatch(withPath("/wp/v2/posts?search=\u00e9")), want: []SubRequest{postsSub}},
		{name: "non-ASCII in the sub-request path", ctype: json, body: jsonBatch(withPath("/wp/v2/posts/\u00e9")), err: errBatchSubPath},
		{name: "byte 0x80 in the sub-request path", query: "requests[0][path]=/wp/v2/posts/%80", err: errBatchSubPath},
		{name: "percent in the sub-request path", ctype: json, body: jsonBatch(withPath("/wp/v2/%70osts")), err: errBatchSubPath},
		{name: "double slash inside the sub-request path", ctype: json, body: jsonBatch(withPath("/wp//v2/posts")), err: errBatchSubPath},
		{name: "dot segment in the sub-request path", ctype: json, body: jsonBatch(withPath("/wp/v2/pages/../posts")), err: errBatchSubPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{Method: "POST", Target: "/wp-json/batch/v1?" + tc.query, Headers: map[string]string{"content-type": tc.ctype}, Body: []byte(tc.body), BodyComplete: true}
			got, err := BatchRequests(req, batchRoute)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, %v; want %v", got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
