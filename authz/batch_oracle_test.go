package authz_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

// The batch oracle: /batch/v1 requests answered by real PHP running
// WordPress's own REST server (hack/wproute-oracle/batch-oracle.php), which
// records every sub-request it dispatches. To refresh it (`make
// batch-oracle` runs the three steps):
//
//	go test ./authz -run TestBatchOracle -authz.write-batch-cases
//	php hack/wproute-oracle/gen-batch.php /usr/share/wordpress
//	go test ./authz -run TestBatchOracle -authz.update-batch-table
var (
	writeBatchCases  = flag.Bool("authz.write-batch-cases", false, "rewrite testdata/batch_oracle_cases.json from batchOracleSpellings")
	updateBatchTable = flag.Bool("authz.update-batch-table", false, "rewrite testdata/batch_agreement.txt from the corpus")
)

type batchOracleCase struct {
	Name       string            `json:"name"`
	Method     string            `json:"method"`
	Target     string            `json:"target"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       string            `json:"body,omitempty"`
	BodyBase64 []byte            `json:"body_base64,omitempty"` // a body that is not UTF-8
	WP         *struct {
		Outcome    string `json:"outcome"`
		Status     int    `json:"status"`
		Code       string `json:"code"`
		Dispatched []struct {
			Method  string `json:"method"`
			Route   string `json:"route"`
			Matched string `json:"matched"`
		} `json:"dispatched"`
	} `json:"wp,omitempty"`
}

func (c batchOracleCase) body() string {
	if c.BodyBase64 != nil {
		return string(c.BodyBase64)
	}
	return c.Body
}

// oracleRouteGlobs maps the routes batch-oracle.php registers to the glob
// a policy writes for them.
var oracleRouteGlobs = map[string]string{
	"/wp/v2/posts":                      "/wp/v2/posts",
	`/wp/v2/posts/(?P<id>[\d]+)`:        "/wp/v2/posts/*",
	"/wp/v2/pages":                      "/wp/v2/pages",
	`/wp/v2/pages/(?P<id>[\d]+)`:        "/wp/v2/pages/*",
	"/wp/v2/users":                      "/wp/v2/users",
	`/wp/v2/users/(?P<id>[\d]+)`:        "/wp/v2/users/*",
	"/wp/v2/settings":                   "/wp/v2/settings",
	"/wp/v2/comments":                   "/wp/v2/comments",
	"/shop/v1/orders":                   "/shop/v1/orders",
	`/shop/v1/orders/(?P<id>[\d]+)`:     "/shop/v1/orders/*",
	`/shop/v1/products/(?P<slug>[^/]+)`: "/shop/v1/products/*",
}

var batchMethods = []string{"POST", "PUT", "PATCH", "DELETE"}

// routeRole is the one role that may run method on a route glob in the
// oracle's policy.
func routeRole(method, glob string) string {
	return strings.ToLower(method) + strings.NewReplacer("/", "-", "*", "x").Replace(glob)
}

// batchOracleSpellings are the /batch/v1 requests of the corpus.
func batchOracleSpellings() []batchOracleCase {
	var out []batchOracleCase
	const (
		jsonCT = "application/json"
		formCT = "application/x-www-form-urlencoded"
		pretty = "/wp-json/batch/v1"
		plain  = "/?rest_route=/batch/v1"
	)
	add := func(name, method, target, ct, body string) {
		c := batchOracleCase{Name: name, Method: method, Target: target, Body: body}
		if ct != "" {
			c.Headers = map[string]string{"content-type": ct}
		}
		if !utf8.ValidString(body) {
			c.Body, c.BodyBase64 = "", []byte(body)
		}
		out = append(out, c)
	}
	reqs := func(items ...string) string { return `{"requests":[` + strings.Join(items, ",") + `]}` }
	item := func(method, path string) string {
		p, _ := json.Marshal(path)
		if method == "" {
			return `{"path":` + string(p) + `}`
		}
		return `{"method":"` + method + `","path":` + string(p) + `}`
	}
	js := func(name, body string) { add("json "+name, "POST", pretty, jsonCT, body) }
	posts := item("POST", "/wp/v2/posts")
	// The query's sub-request, for the mixes: pages, where the body says posts.
	const queryPages = "&requests[0][method]=POST&requests[0][path]=/wp/v2/pages"

	// Exact keys, duplicates (json_decode: last wins), escapes.
	js("plain", reqs(posts))
	js("two routes", reqs(posts, item("PUT", "/wp/v2/pages/3")))
	js("method absent is POST", reqs(item("", "/wp/v2/posts")))
	js(`"Path" decoy after path`, reqs(`{"method":"POST","path":"/wp/v2/posts","Path":"/wp/v2/pages"}`))
	js(`"Path" decoy before path`, reqs(`{"Path":"/wp/v2/pages","method":"POST","path":"/wp/v2/posts"}`))
	js(`only "Path"`, reqs(`{"method":"POST","Path":"/wp/v2/posts"}`))
	js(`only "PATH"`, reqs(`{"method":"POST","PATH":"/wp/v2/posts"}`))
	js(`"Method" decoy after method`, reqs(`{"method":"DELETE","path":"/wp/v2/posts/1","Method":"GET"}`))
	js(`only "Method"`, reqs(`{"Method":"DELETE","path":"/wp/v2/posts/1"}`))
	js(`"Requests" decoy after requests`, `{"requests":[`+posts+`],"Requests":[`+item("POST", "/wp/v2/pages")+`]}`)
	js(`"Requests" decoy before requests`, `{"Requests":[`+item("POST", "/wp/v2/pages")+`],"requests":[`+posts+`]}`)
	js(`only "Requests"`, `{"Requests":[`+posts+`]}`)
	js(`only "REQUESTS"`, `{"REQUESTS":[`+posts+`]}`)
	js("duplicate path: last wins", reqs(`{"path":"/wp/v2/pages","path":"/wp/v2/posts"}`))
	js("duplicate method: last wins", reqs(`{"method":"PUT","path":"/wp/v2/posts/1","method":"DELETE"}`))
	js("duplicate requests: last wins", `{"requests":[`+item("POST", "/wp/v2/pages")+`],"requests":[`+posts+`]}`)
	js("duplicate requests: null last", `{"requests":[`+posts+`],"requests":null}`)
	js(`escaped key "\u0070ath"`, reqs(`{"method":"POST","\u0070ath":"/wp/v2/posts"}`))
	js(`key "path " with a space`, reqs(`{"path":"/wp/v2/pages","path ":"/wp/v2/posts"}`))
	js(`key "path\u0000"`, reqs(`{"path":"/wp/v2/pages","path\u0000":"/wp/v2/posts"}`))
	js("escaped slashes in the value", reqs(`{"path":"\/wp\/v2\/posts"}`))

	// The method enum is compared strictly.
	for _, m := range []string{`"post"`, `"GET"`, `"HEAD"`, `"POST "`, `null`, `1`, `"PATCH"`, `["POST"]`} {
		js("method "+m, reqs(`{"method":`+m+`,"path":"/wp/v2/posts/1"}`))
	}
	// The path must be a string.
	for _, p := range []string{`1`, `null`, `["/wp/v2/posts"]`, `""`, `{"0":"/wp/v2/posts"}`} {
		js("path "+p, reqs(`{"method":"POST","path":`+p+`}`))
	}
	js("path missing", reqs(`{"method":"POST"}`))

	// Items that are not objects, requests that is not a list.
	for _, it := range []string{`"/wp/v2/posts"`, `1`, `null`, `""`, `["POST","/wp/v2/posts"]`, `[]`, `{}`} {
		js("item "+it, reqs(posts, it))
	}
	js("requests object with string keys", `{"requests":{"a":`+posts+`}}`)
	js("requests object with numeric keys", `{"requests":{"0":`+posts+`,"7":`+item("PUT", "/wp/v2/pages/2")+`}}`)
	js("requests object with key 00", `{"requests":{"00":`+posts+`}}`)
	js("requests empty list", `{"requests":[]}`)
	js("requests string", `{"requests":"/wp/v2/posts"}`)
	js("requests empty string", `{"requests":""}`)
	js("requests true", `{"requests":true}`)
	js("requests false", `{"requests":false}`)
	many := func(n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = item("PUT", fmt.Sprintf("/wp/v2/posts/%d", i+1))
		}
		return reqs(items...)
	}
	js("25 items", many(25))
	js("26 items", many(26))

	// The body as a whole.
	add("json top-level list", "POST", pretty+"?"+queryPages[1:], jsonCT, `[`+reqs(posts)+`]`)
	add("json top-level string", "POST", pretty+"?"+queryPages[1:], jsonCT, `"requests"`)
	add("json top-level null", "POST", pretty+"?"+queryPages[1:], jsonCT, `null`)
	add("json top-level number", "POST", pretty+"?"+queryPages[1:], jsonCT, `25`)
	add("json requests null, query has requests", "POST", pretty+"?"+queryPages[1:], jsonCT, `{"requests":null}`)
	js("trailing garbage", reqs(posts)+` x`)
	js("two objects", reqs(posts)+reqs(item("POST", "/wp/v2/pages")))
	js("trailing whitespace", reqs(posts)+" \n\t\r")
	js("byte order mark", "\ufeff"+reqs(posts))
	js("invalid UTF-8 in a string", reqs(`{"method":"POST","path":"/wp/v2/posts","body":{"t":"\xff"}}`))
	js("unpaired surrogate escape", reqs(`{"method":"POST","path":"/wp/v2/posts","body":{"t":"\ud800"}}`))
	js("unpaired low surrogate escape", reqs(`{"method":"POST","path":"/wp/v2/posts","body":{"t":"\udc00x"}}`))
	js("paired surrogate escape", reqs(`{"method":"POST","path":"/wp/v2/posts","body":{"t":"\ud83d\ude00"}}`))
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	// Nesting: the object, requests, the item and body are 4 levels;
	// json_decode's depth 512 allows 511.
	js("nesting 511", reqs(`{"method":"POST","path":"/wp/v2/posts","body":{"x":`+nest(507)+`}}`))
	js("nesting 512", reqs(`{"method":"POST","path":"/wp/v2/posts","body":{"x":`+nest(508)+`}}`))
	js("big numbers", reqs(`{"method":"POST","path":"/wp/v2/posts","body":{"n":123456789012345678901234567890,"f":1e400,"m":-0}}`))
	js("body is a string", reqs(`{"method":"POST","path":"/wp/v2/posts","body":"x"}`))
	js("body is a list", reqs(`{"method":"POST","path":"/wp/v2/posts","body":[1,2]}`))

	// Content types: the body says posts, the query says pages.
	for _, ct := range []string{
		"application/json; charset=UTF-8", "APPLICATION/JSON", "text/plain", "", "application/vnd.api+json",
		"application/json+oembed", "application/x-json", "text/json", "application/jsonx", ";application/json",
		"application/json, text/plain", "text/plain, application/json", "application/problem+json", " application/json",
		"application/json;", "application/merge-patch+json", "application/json\tx", "application/+json", "text/plain application/json",
		"application/x-www-form-urlencoded", "application/octet-stream",
	} {
		add(fmt.Sprintf("content type %q", ct), "POST", plain+queryPages, ct, reqs(posts))
	}

	// Sources: JSON body, form body, query.
	add("query only", "POST", plain+queryPages, "", "")
	add("query only, pretty permalink", "POST", pretty+"?"+queryPages[1:], "", "")
	add("json wins over query", "POST", pretty+"?"+queryPages[1:], jsonCT, reqs(posts))
	add("json without requests: query", "POST", pretty+"?"+queryPages[1:], jsonCT, `{"Requests":[`+posts+`]}`)
	add("invalid json and query", "POST", pretty+"?"+queryPages[1:], jsonCT, `{"requests":`)
	add("json content type, empty body: query", "POST", pretty+"?"+queryPages[1:], jsonCT, "")
	add(`json content type, body "0": query`, "POST", pretty+"?"+queryPages[1:], jsonCT, "0")
	add("json content type, whitespace body and query", "POST", pretty+"?"+queryPages[1:], jsonCT, " ")
	add("json body over 64 KiB and query", "POST", pretty+"?"+queryPages[1:], jsonCT,
		reqs(`{"method":"POST","path":"/wp/v2/posts","body":{"pad":"`+strings.Repeat("x", 64<<10)+`"}}`))
	add("form body", "POST", pretty, formCT, "requests[0][method]=PUT&requests[0][path]=/wp/v2/posts/4")
	add("form wins over query", "POST", plain+queryPages, formCT, "requests[0][path]=/wp/v2/posts")
	add("form without requests: query", "POST", plain+queryPages, formCT, "Requests[0][path]=/wp/v2/posts")
	add("form body on PUT with _method=POST: query", "PUT", plain+"&_method=POST"+queryPages, formCT, "requests[0][path]=/wp/v2/posts")
	add("json body on PUT with _method=POST", "PUT", plain+"&_method=POST"+queryPages, jsonCT, reqs(posts))
	add("PUT without override", "PUT", plain+queryPages, jsonCT, reqs(posts))
	out = append(out, batchOracleCase{Name: "override header GET on the batch", Method: "POST", Target: pretty,
		Headers: map[string]string{"content-type": jsonCT, "x-http-method-override": "GET"}, Body: reqs(posts)})
	add("_method=post on the batch", "POST", pretty+"?_method=post", jsonCT, reqs(posts))
	add("lower-case post with a form body", "post", plain+queryPages, formCT, "requests[0][path]=/wp/v2/posts")
	add("lower-case post with a json body", "post", plain+queryPages, jsonCT, reqs(posts))
	const boundary = "oracleboundary"
	add("multipart body", "POST", plain+queryPages, "multipart/form-data; boundary="+boundary,
		"--"+boundary+"\r\nContent-Disposition: form-data; name=\"requests[0][path]\"\r\n\r\n/wp/v2/posts\r\n--"+boundary+"--\r\n")
	out = append(out, batchOracleCase{Name: "Content_Type look-alike header", Method: "POST", Target: plain + queryPages,
		Headers: map[string]string{"content-type": "text/plain", "content_type": jsonCT}, Body: reqs(posts)})

	// PHP's array syntax in the query (and a form body).
	for _, q := range []string{
		"requests[][path]=/wp/v2/posts",
		"requests[][path]=/wp/v2/posts&requests[][method]=PUT",
		"requests[0][path]=/wp/v2/pages&requests[0][path]=/wp/v2/posts",
		"requests[0][path]=/wp/v2/posts&requests=x",
		"requests=x&requests[0][path]=/wp/v2/posts",
		"requests=",
		"+requests[0][path]=/wp/v2/posts",
		"requests.x[0][path]=/wp/v2/posts",
		"requests%5B0%5D%5Bpath%5D=/wp/v2/posts",
		"requests[0][path=/wp/v2/posts",
		"requests[0][path]x=/wp/v2/posts",
		"requests[0][+path]=/wp/v2/posts",
		"requests[00][path]=/wp/v2/pages&requests[0][path]=/wp/v2/posts",
		"requests[a][path]=/wp/v2/posts",
		"requests[1][path]=/wp/v2/pages&requests[0][path]=/wp/v2/posts",
		"requests[0][path]=/wp/v2/pages;requests[0][path]=/wp/v2/posts",
		"requests[0][path]=/wp/v2/posts%3F_method%3DGET",
		"requests[0][path]=/wp/v2/posts%23x",
		"requests[-1][path]=/wp/v2/posts",
		"requests[0][path]=/wp/v2/posts&requests[0][body]" + strings.Repeat("[a]", 20) + "=1",
		"requests[0][path]=/wp/v2/posts&requests[0][headers][X-HTTP-Method-Override]=GET",
		"requests[0][path]=/wp/v2/posts&requests[0][method]=post",
		"requests[0][path]=/wp/v2/posts%00x",
		"requests[0][path]=/wp/v2/posts&requests[0][path][]=/wp/v2/pages",
	} {
		add("query "+q, "POST", plain+"&"+q, "", "")
		add("form "+q, "POST", pretty, formCT, q)
	}

	// Sub-request paths: wp_parse_url(), no decoding, no normalization.
	for _, p := range []string{
		"/wp/v2/posts?_method=GET", "/wp/v2/posts?x=1&y=%20", "/wp/v2/posts#frag", "/wp/v2/posts#?_method=GET",
		"/wp/v2/users#/../posts", "/wp/v2/posts?a#b", "/wp/v2/%70osts", "/wp/v2/posts%2F1", "/WP/V2/POSTS", "/wp/v2/posts/",
		"//evil/wp/v2/posts", "wp/v2/posts", "http://evil/wp/v2/posts", "/wp/v2/posts/../pages", "/wp/v2/./posts",
		"/wp/v2/posts\n", "/wp/v2/posts\t", "/wp/v2/posts ", "/wp/v2/posts/1", "/shop/v1/products/a%2Fb",
		"/shop/v1/products/widget", "/batch/v1", "/BATCH/V1/", "/wp/v2/comments", "/wp/v2/unknown", "/", "",
		"/shop/v1/orders", "/wp/v2/posts?", "/wp/v2/posts\\", "/wp/v2//posts", "/wp/v2/posts@evil/x",
		"/wp/v2/posts?rest_route=/wp/v2/users", "/wp/v2/posts?_method[]=GET", "/wp/v2/posts?a=1;_method=GET",
		"/shop/v1/products/caf\u00e9", "/shop/v1/products/\u212aey", "/wp/v2/posts?q=caf\u00e9",
	} {
		js(fmt.Sprintf("sub path %q", p), reqs(item("POST", p)))
	}

	// Sub-request headers.
	for _, h := range []string{
		`{"X-HTTP-Method-Override":"GET"}`, `{"x_http_method_override":"DELETE"}`, `{"Content-Type":"application/json"}`,
		`["a"]`, `"x"`, `{"X-Foo":["a","b"]}`, `""`, `{"X-Foo":1}`,
	} {
		js("sub headers "+h, reqs(`{"method":"POST","path":"/wp/v2/posts","headers":`+h+`}`))
	}
	js("sub body _method", reqs(`{"method":"POST","path":"/wp/v2/posts","body":{"_method":"GET"}}`))

	// The batch's own validation parameter.
	js("require-all-validate with an unknown route", `{"validation":"require-all-validate","requests":[`+posts+`,`+item("POST", "/wp/v2/unknown")+`]}`)
	js("normal validation with an unknown route", `{"validation":"normal","requests":[`+posts+`,`+item("POST", "/wp/v2/unknown")+`]}`)
	js("invalid validation value", `{"validation":"all","requests":[`+posts+`]}`)
	return out
}

// batchOraclePolicy has one rule per route and method of the oracle, each
// needing its own role, so that a token lacking one role shows whether
// wpauthz authorized that sub-request.
func batchOraclePolicy() (rules []v1alpha1.Rule, roles []string) {
	globs := make([]string, 0, len(oracleRouteGlobs))
	for _, g := range oracleRouteGlobs {
		globs = append(globs, g)
	}
	slices.Sort(globs)
	for _, g := range globs {
		for _, m := range batchMethods {
			r := routeRole(m, g)
			roles = append(roles, r)
			rules = append(rules, v1alpha1.Rule{Name: r, Routes: []string{g}, Methods: []v1alpha1.HTTPMethod{v1alpha1.HTTPMethod(m)},
				Action: v1alpha1.ActionAuthenticate, Roles: []v1alpha1.Role{v1alpha1.Role(r)}})
		}
	}
	return rules, roles
}

// TestBatchOracle checks wpauthz against every /batch/v1 request of the
// corpus: whenever wpauthz allows a batch, every sub-request WordPress
// dispatched for it must have been authorized, which a token lacking that
// sub-request's role shows (it must be refused).
func TestBatchOracle(t *testing.T) {
	spellings := batchOracleSpellings()
	casesFile := filepath.Join("testdata", "batch_oracle_cases.json")
	if *writeBatchCases {
		b, err := json.MarshalIndent(spellings, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(casesFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d cases; now run hack/wproute-oracle/gen-batch.php", len(spellings))
		return
	}
	b, err := os.ReadFile(filepath.Join("testdata", "wp_batch_oracle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []batchOracleCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	// The corpus must hold every spelling exactly as the Go list has it.
	key := func(c batchOracleCase) string {
		c.WP = nil
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	inCorpus := map[string]bool{}
	for _, c := range cases {
		inCorpus[key(c)] = true
	}
	for _, s := range spellings {
		if !inCorpus[key(s)] {
			t.Errorf("case %q is not in testdata/wp_batch_oracle.json as written; regenerate the corpus (see the comment above TestBatchOracle)", s.Name)
		}
	}

	rules, roles := batchOraclePolicy()
	w := newBatchWorld(t, rules...)
	all := w.bearer(t, 1, roles...)
	var tally batchTally
	for _, c := range cases {
		if c.WP == nil {
			t.Fatalf("%s: no WordPress answer; regenerate with hack/wproute-oracle/gen-batch.php", c.Name)
		}
		if c.WP.Outcome != "ok" {
			// The oracle lacks something WordPress needs: its answer is
			// not WordPress's.
			t.Errorf("%s: the oracle failed: %s", c.Name, c.WP.Outcome)
		}
		headers := func(auth map[string]string) map[string]string {
			h := map[string]string{}
			for k, v := range c.Headers {
				h[k] = v
			}
			for k, v := range auth {
				h[k] = v
			}
			return h
		}
		d := w.check(c.Method, c.Target, headers(all), c.body())
		ran := c.WP.Dispatched
		if !d.Allowed {
			if len(ran) == 0 {
				tally.agreedRefuse++
			} else {
				tally.safeRefusals = append(tally.safeRefusals, fmt.Sprintf("%s (%s: %s)", c.Name, d.Code, describeRan(c)))
			}
			continue
		}
		if len(ran) == 0 {
			tally.allowedNothingRan = append(tally.allowedNothingRan, fmt.Sprintf("%s (WordPress answers %d %s)", c.Name, c.WP.Status, c.WP.Code))
			continue
		}
		unsafe := false
		for _, r := range ran {
			glob, ok := oracleRouteGlobs[r.Matched]
			if !ok {
				t.Fatalf("%s: WordPress dispatched to unknown route %q", c.Name, r.Matched)
			}
			lacking := slices.DeleteFunc(slices.Clone(roles), func(s string) bool { return s == routeRole(r.Method, glob) })
			if d := w.check(c.Method, c.Target, headers(w.bearer(t, 1, lacking...)), c.body()); d.Allowed {
				t.Errorf("UNSAFE %s: WordPress runs %s %s, wpauthz allowed the batch without authorizing it", c.Name, r.Method, r.Route)
				unsafe = true
			}
		}
		if unsafe {
			tally.unsafe++
		} else {
			tally.agreedAllow++
		}
	}
	if len(cases) < 60 {
		t.Errorf("batch corpus too thin: %d cases", len(cases))
	}
	table := tally.String(len(cases))
	t.Log("\n" + table)
	tableFile := filepath.Join("testdata", "batch_agreement.txt")
	if *updateBatchTable {
		if err := os.WriteFile(tableFile, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if committed, err := os.ReadFile(tableFile); err != nil || string(committed) != table {
		t.Errorf("testdata/batch_agreement.txt is not the table above; regenerate it with -authz.update-batch-table")
	}
}

func describeRan(c batchOracleCase) string {
	var s []string
	for _, r := range c.WP.Dispatched {
		s = append(s, r.Method+" "+r.Route)
	}
	return "WordPress runs " + strings.Join(s, ", ")
}

type batchTally struct {
	agreedAllow, agreedRefuse, unsafe int
	allowedNothingRan, safeRefusals   []string
}

func (t batchTally) String(total int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Batch oracle: %d /batch/v1 requests answered by WordPress 6.1.9 (hack/wproute-oracle/batch-oracle.php)\n\n", total)
	fmt.Fprintf(&b, "| outcome | requests |\n| --- | ---: |\n")
	fmt.Fprintf(&b, "| agreed: wpauthz allows, every sub-request WordPress runs is authorized | %d |\n", t.agreedAllow)
	fmt.Fprintf(&b, "| agreed: wpauthz refuses, WordPress runs no sub-request | %d |\n", t.agreedRefuse)
	fmt.Fprintf(&b, "| wpauthz allows, WordPress runs no sub-request (harmless) | %d |\n", len(t.allowedNothingRan))
	fmt.Fprintf(&b, "| wpauthz refuses, WordPress would run sub-requests (safe) | %d |\n", len(t.safeRefusals))
	fmt.Fprintf(&b, "| unsafe: WordPress runs a sub-request wpauthz did not authorize | %d |\n", t.unsafe)
	for _, list := range []struct {
		title string
		cases []string
	}{
		{"Refused where WordPress would run sub-requests (safe)", t.safeRefusals},
		{"Allowed where WordPress runs none (no route, or a route that refuses batching)", t.allowedNothingRan},
	} {
		if len(list.cases) > 0 {
			fmt.Fprintf(&b, "\n%s:\n\n", list.title)
			for _, s := range list.cases {
				fmt.Fprintf(&b, "- %s\n", s)
			}
		}
	}
	return b.String()
}
