package httpauth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/wperror"
)

// recorder is an authz.Checker that keeps the requests it was asked about
// and answers with a canned decision (or whatever fn says).
type recorder struct {
	mu       sync.Mutex
	reqs     []*authz.Request
	decision *authz.Decision
	fn       func(*authz.Request) *authz.Decision
}

func (c *recorder) Check(_ context.Context, r *authz.Request) *authz.Decision {
	c.mu.Lock()
	c.reqs = append(c.reqs, r)
	d, fn := c.decision, c.fn
	c.mu.Unlock()
	if fn != nil {
		return fn(r)
	}
	return d
}

func (c *recorder) set(d *authz.Decision) {
	c.mu.Lock()
	c.decision = d
	c.mu.Unlock()
}

func (c *recorder) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

func (c *recorder) last(t *testing.T) *authz.Request {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reqs) == 0 {
		t.Fatal("checker was not called")
	}
	return c.reqs[len(c.reqs)-1]
}

func allow() *authz.Decision { return &authz.Decision{Allowed: true, Status: 200} }

// start serves the handler on a real loopback TCP listener.
func start(t *testing.T, c authz.Checker) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(c, nil))
	t.Cleanup(srv.Close)
	return srv
}

// do sends a request with exactly the given headers (no Go defaults).
func do(t *testing.T, method, url string, headers map[string][]string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{"User-Agent": {"wpauthz-test"}, "Accept-Encoding": {"identity"}}
	for k, vs := range headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// raw writes request bytes as they are onto a TCP connection, so the
// request-target reaches the server exactly as a proxy would send it.
func raw(t *testing.T, srv *httptest.Server, request string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCheckPreservesRawTarget(t *testing.T) {
	rec := &recorder{decision: allow()}
	srv := start(t, rec)

	for _, target := range []string{
		"/wp-json/wp/v2/%2e%2e/users?rest_route=/x",
		"/wp-json/wp/v2/../users",
		"/index.php?rest_route=%2Fwp%2Fv2%2Fusers&_method=DELETE",
		"/wp-json//wp/v2/users/",
		"/WP-JSON/wp/v2/Users?rest_route[]=a&rest.route=b",
		"/wp-json/wp/v2/users/%31%32;x=y",
		"/?rest_route=/wp/v2/users&rest_route=/wp/v2/posts#frag",
		"/wp-json/wp/v2/posts?search=%ZZ%u0041+a%20b",
	} {
		t.Run(target, func(t *testing.T) {
			resp := raw(t, srv, "DELETE "+CheckPrefix+target+" HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: 0\r\n\r\n")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			got := rec.last(t)
			if got.Target != target {
				t.Fatalf("Target = %q, want %q", got.Target, target)
			}
			if got.Method != "DELETE" || got.Host != "shop.example.com" {
				t.Fatalf("method/host = %q %q", got.Method, got.Host)
			}
		})
	}
}

func TestCheckMapsRequest(t *testing.T) {
	rec := &recorder{decision: allow()}
	srv := start(t, rec)

	body := "rest_route=%2Fwp%2Fv2%2Fusers&_method=DELETE"
	resp := do(t, "POST", srv.URL+"/check/wp-json/wp/v2/posts?x=1", map[string][]string{
		"Authorization":                  {"Basic amFuZTpwdw=="},
		"X-WP-Auth":                      {"k1", "k2"},
		"Content-Type":                   {"application/x-www-form-urlencoded"},
		"X-Envoy-Auth-Partial-Body":      {"false"},
		"X-Forwarded-For":                {"198.51.100.9, 203.0.113.4"},
		"X-Envoy-Expected-Rq-Timeout-Ms": {"200"},
	}, strings.NewReader(body))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := &authz.Request{
		Method: "POST",
		Host:   strings.TrimPrefix(srv.URL, "http://"),
		Target: "/wp-json/wp/v2/posts?x=1",
		Headers: map[string]string{
			"user-agent":                     "wpauthz-test",
			"accept-encoding":                "identity",
			"authorization":                  "Basic amFuZTpwdw==",
			"x-wp-auth":                      "k1,k2",
			"content-type":                   "application/x-www-form-urlencoded",
			"x-envoy-auth-partial-body":      "false",
			"x-forwarded-for":                "198.51.100.9, 203.0.113.4",
			"x-envoy-expected-rq-timeout-ms": "200",
			// no content-length: it describes the auth request
		},
		Body:         []byte(body),
		BodyComplete: true,
		RemoteAddr:   "203.0.113.4", // the hop Envoy appended
	}
	if got := rec.last(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("request mapped to\n%#v\nwant\n%#v", got, want)
	}
}

func TestCheckRemoteAddr(t *testing.T) {
	rec := &recorder{decision: allow()}
	srv := start(t, rec)
	for _, tc := range []struct {
		headers map[string][]string
		want    string
	}{
		{map[string][]string{"X-Envoy-External-Address": {"198.51.100.7"}, "X-Forwarded-For": {"1.1.1.1, 2.2.2.2"}}, "198.51.100.7"},
		{map[string][]string{"X-Forwarded-For": {"1.1.1.1,2001:db8::1"}}, "2001:db8::1"},
		{map[string][]string{"X-Forwarded-For": {"[2001:db8::2]:443"}}, "2001:db8::2"},
		{nil, ""},
	} {
		do(t, "GET", srv.URL+"/check/", tc.headers, nil)
		if got := rec.last(t).RemoteAddr; got != tc.want {
			t.Errorf("headers %v: RemoteAddr = %q, want %q", tc.headers, got, tc.want)
		}
	}
}

// chunked hides the length so the client sends Transfer-Encoding: chunked.
type chunked struct{ io.Reader }

func TestCheckBody(t *testing.T) {
	rec := &recorder{decision: allow()}
	srv := start(t, rec)
	whole := map[string][]string{"X-Envoy-Auth-Partial-Body": {"false"}}
	big := bytes.Repeat([]byte("a"), MaxBodyBytes+10)
	exact := big[:MaxBodyBytes]

	for _, tc := range []struct {
		name         string
		headers      map[string][]string
		body         io.Reader
		wantLen      int
		wantComplete bool
	}{
		{"envoy: whole", whole, strings.NewReader("a=b"), 3, true},
		{"envoy: truncated", map[string][]string{"X-Envoy-Auth-Partial-Body": {"true"}}, strings.NewReader("a=b"), 3, false},
		{"no flag: not buffered by envoy", nil, nil, 0, false},
		{"no flag, body", nil, strings.NewReader("a=b"), 3, false},
		{"envoy says whole, no body", whole, nil, 0, true},
		{"exactly the bound", whole, bytes.NewReader(exact), MaxBodyBytes, true},
		{"over the bound", whole, bytes.NewReader(big), MaxBodyBytes, false},
		{"chunked, small", whole, chunked{strings.NewReader("a=b")}, 3, true},
		{"chunked, exactly the bound", whole, chunked{bytes.NewReader(exact)}, MaxBodyBytes, true},
		{"chunked, over the bound", whole, chunked{bytes.NewReader(big)}, MaxBodyBytes, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, "POST", srv.URL+"/check/wp-json/batch/v1", tc.headers, tc.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			got := rec.last(t)
			if len(got.Body) != tc.wantLen || got.BodyComplete != tc.wantComplete {
				t.Fatalf("len(Body)=%d BodyComplete=%v, want %d %v", len(got.Body), got.BodyComplete, tc.wantLen, tc.wantComplete)
			}
			if tc.wantLen > 0 && got.Body[0] != 'a' {
				t.Fatalf("body content %q...", got.Body[:1])
			}
		})
	}
}

func TestCheckAllowResponse(t *testing.T) {
	rec := &recorder{decision: &authz.Decision{
		Allowed: true, Status: 200,
		UpstreamHeaders: []authz.Header{{Name: "X-WPAuthz-Identity", Value: "eyJ.eyJ.sig"}},
		UpstreamRemove:  []string{"authorization", "x-wp-auth"},
	}}
	srv := start(t, rec)

	resp := do(t, "GET", srv.URL+"/check/wp-json/wc/v3/orders", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Values("X-WPAuthz-Identity"); !reflect.DeepEqual(got, []string{"eyJ.eyJ.sig"}) {
		t.Fatalf("identity header %q", got)
	}
	if got := resp.Header.Values("X-Envoy-Auth-Headers-To-Remove"); !reflect.DeepEqual(got, []string{"authorization,x-wp-auth"}) {
		t.Fatalf("headers-to-remove %q", got)
	}
	if b := readAll(t, resp.Body); b != "" {
		t.Fatalf("allow body %q", b)
	}

	// Forward-auth proxies have no use for Envoy's header.
	resp = do(t, "GET", srv.URL+"/auth", map[string][]string{"X-Forwarded-Uri": {"/wp-json/"}, "X-Forwarded-Method": {"GET"}}, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-WPAuthz-Identity") != "eyJ.eyJ.sig" {
		t.Fatalf("forward auth allow: %d %v", resp.StatusCode, resp.Header)
	}
	if _, ok := resp.Header["X-Envoy-Auth-Headers-To-Remove"]; ok {
		t.Fatal("x-envoy-auth-headers-to-remove sent to a forward-auth proxy")
	}
}

func TestForwardAuthNginx(t *testing.T) {
	rec := &recorder{decision: allow()}
	srv := start(t, rec)

	// As the documented nginx location sends it: method GET, no body,
	// the original request in X-Original-*, host in X-Forwarded-Host.
	resp := do(t, "GET", srv.URL+"/auth", map[string][]string{
		"X-Original-URI":    {"/wp-json/wp/v2/%2e%2e/users?rest_route=/x"},
		"X-Original-Method": {"PUT"},
		"X-Forwarded-Host":  {"shop.example.com"},
		"X-Forwarded-For":   {"198.51.100.20"},
		"X-Forwarded-Proto": {"https"},
		"X-Real-IP":         {"198.51.100.20"},
		"Authorization":     {"Bearer t"},
		"Cookie":            {"a=1", "b=2"},
	}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := &authz.Request{
		Method: "PUT",
		Host:   "shop.example.com",
		Target: "/wp-json/wp/v2/%2e%2e/users?rest_route=/x",
		Headers: map[string]string{
			"user-agent":      "wpauthz-test",
			"accept-encoding": "identity",
			"authorization":   "Bearer t",
			"cookie":          "a=1,b=2",
		},
		RemoteAddr: "198.51.100.20",
	}
	if got := rec.last(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("request mapped to\n%#v\nwant\n%#v", got, want)
	}

	// Without X-Forwarded-Host the Host header is the original host, and
	// X-Real-IP stands in for X-Forwarded-For.
	do(t, "GET", srv.URL+"/auth", map[string][]string{
		"X-Original-URI": {"/"}, "X-Original-Method": {"GET"}, "X-Real-IP": {"203.0.113.9"},
	}, nil)
	got := rec.last(t)
	if got.Host != strings.TrimPrefix(srv.URL, "http://") || got.RemoteAddr != "203.0.113.9" {
		t.Fatalf("host %q remote %q", got.Host, got.RemoteAddr)
	}
}

func TestForwardAuthTraefikCaddy(t *testing.T) {
	rec := &recorder{decision: allow()}
	srv := start(t, rec)

	resp := do(t, "GET", srv.URL+"/auth", map[string][]string{
		"X-Forwarded-Method": {"DELETE"},
		"X-Forwarded-Uri":    {"/index.php?rest_route=%2Fwp%2Fv2%2Fposts%2F1"},
		"X-Forwarded-Host":   {"blog.example.com, internal.example"},
		"X-Forwarded-For":    {"203.0.113.5, 10.0.0.2"},
		"X-Forwarded-Proto":  {"https"},
		"X-Forwarded-Port":   {"443"},
		"X-Forwarded-Server": {"traefik-1"},
		"X-Wp-Nonce":         {"abc"},
		"Content-Length":     {"0"},
	}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := &authz.Request{
		Method: "DELETE",
		// A list is passed whole, for the engine to refuse: its first
		// element need not be the host the proxy routed by.
		Host:   "blog.example.com, internal.example",
		Target: "/index.php?rest_route=%2Fwp%2Fv2%2Fposts%2F1",
		Headers: map[string]string{
			"user-agent":      "wpauthz-test",
			"accept-encoding": "identity",
			"x-wp-nonce":      "abc",
		},
		RemoteAddr: "203.0.113.5",
	}
	if got := rec.last(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("request mapped to\n%#v\nwant\n%#v", got, want)
	}
}

type wpError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    struct {
		Status int `json:"status"`
	} `json:"data"`
}

func decodeError(t *testing.T, resp *http.Response) wpError {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	var e wpError
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestForwardAuthBadRequest(t *testing.T) {
	rec := &recorder{decision: allow()}
	srv := start(t, rec)

	for _, tc := range []struct {
		name       string
		headers    map[string][]string
		wantStatus int
		nginx      bool
	}{
		{"nothing forwarded", nil, 400, false},
		{"traefik without uri", map[string][]string{"X-Forwarded-Method": {"GET"}}, 400, false},
		{"traefik without method", map[string][]string{"X-Forwarded-Uri": {"/wp-json/"}}, 400, false},
		{"nginx without uri", map[string][]string{"X-Original-Method": {"GET"}}, 403, true},
		{"nginx without method", map[string][]string{"X-Original-URI": {"/wp-json/"}}, 403, true},
		{"nginx uri, traefik method", map[string][]string{"X-Original-URI": {"/wp-json/"}, "X-Forwarded-Method": {"GET"}}, 403, true},
		// A forged X-Original-URI passed through by Traefik/Caddy, or a
		// forged X-Forwarded-Uri passed through by nginx.
		{"both conventions", map[string][]string{
			"X-Original-URI": {"/wp-json/public"}, "X-Original-Method": {"GET"},
			"X-Forwarded-Uri": {"/wp-json/wp/v2/users"}, "X-Forwarded-Method": {"DELETE"},
		}, 403, true},
		{"forged nginx method beside traefik", map[string][]string{
			"X-Original-Method": {"GET"}, "X-Forwarded-Uri": {"/wp-json/x"}, "X-Forwarded-Method": {"DELETE"},
		}, 403, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, "GET", srv.URL+"/auth", tc.headers, nil)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			e := decodeError(t, resp)
			if e.Code != CodeBadForwardAuthRequest || e.Data.Status != 400 || e.Message == "" {
				t.Fatalf("error body %+v", e)
			}
			if tc.nginx {
				if resp.Header.Get("X-WPAuthz-Status") != "400" || resp.Header.Get("X-WPAuthz-Code") != CodeBadForwardAuthRequest {
					t.Fatalf("nginx headers %v", resp.Header)
				}
			}
		})
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("checker called %d times", n)
	}
}

func TestDenyMapping(t *testing.T) {
	rec := &recorder{}
	srv := start(t, rec)

	conventions := []struct {
		name    string
		path    string
		headers map[string][]string
		nginx   bool
	}{
		{"nginx", "/auth", map[string][]string{"X-Original-URI": {"/wp-json/x"}, "X-Original-Method": {"GET"}}, true},
		{"traefik", "/auth", map[string][]string{"X-Forwarded-Uri": {"/wp-json/x"}, "X-Forwarded-Method": {"GET"}}, false},
		{"envoy", "/check/wp-json/x", nil, false},
	}
	decisions := []struct {
		d       *authz.Decision
		extra   string // a response header the decision carries
		wantRaw int    // the status outside nginx
	}{
		{&authz.Decision{Status: 401, Code: "rest_not_logged_in", ResponseHeaders: []authz.Header{{Name: "WWW-Authenticate", Value: `Bearer realm="wp"`}}}, "Www-Authenticate", 401},
		{&authz.Decision{Status: 403, Code: "rest_forbidden"}, "", 403},
		{&authz.Decision{Status: 404, Code: "rest_no_route"}, "", 404},
		{&authz.Decision{Status: 429, Code: "wpauthz_throttled", ResponseHeaders: []authz.Header{{Name: "Retry-After", Value: "17"}}}, "Retry-After", 429},
		{&authz.Decision{Status: 400, Code: "wpauthz_ambiguous_request"}, "", 400},
		{&authz.Decision{Status: 503, Code: "wpauthz_unavailable"}, "", 503},
		{&authz.Decision{Status: 200, Code: "confused"}, "", 403},
		{&authz.Decision{Status: 302, Code: "confused"}, "", 403},
	}
	for _, cv := range conventions {
		for _, dc := range decisions {
			t.Run(cv.name+"/"+strconv.Itoa(dc.d.Status), func(t *testing.T) {
				d := *dc.d
				d.Body = []byte(`{"code":"` + d.Code + `","message":"m","data":{"status":` + strconv.Itoa(dc.wantRaw) + `}}`)
				rec.set(&d)
				resp := do(t, "GET", srv.URL+cv.path, cv.headers, nil)

				wantStatus := dc.wantRaw
				if cv.nginx && wantStatus != 401 && wantStatus != 403 {
					wantStatus = 403
				}
				if resp.StatusCode != wantStatus {
					t.Fatalf("status %d, want %d", resp.StatusCode, wantStatus)
				}
				e := decodeError(t, resp)
				if e.Code != d.Code || e.Data.Status != dc.wantRaw {
					t.Fatalf("body %+v", e)
				}
				if dc.extra != "" && resp.Header.Get(dc.extra) == "" {
					t.Fatalf("decision header %s missing: %v", dc.extra, resp.Header)
				}
				st, code := resp.Header.Get("X-WPAuthz-Status"), resp.Header.Get("X-WPAuthz-Code")
				if cv.nginx {
					if st != strconv.Itoa(dc.wantRaw) || code != d.Code {
						t.Fatalf("nginx status headers %q %q", st, code)
					}
				} else if st != "" || code != "" {
					t.Fatalf("status headers leaked outside nginx: %q %q", st, code)
				}
			})
		}
	}
}

func TestDenyHeaders(t *testing.T) {
	rec := &recorder{decision: &authz.Decision{
		Status: 401, Code: "c",
		ResponseHeaders: []authz.Header{
			{Name: "WWW-Authenticate", Value: "Bearer"},
			{Name: "www-authenticate", Value: `Basic realm="wp"`},
			{Name: "Content-Type", Value: "application/problem+json"},
		},
		Body: []byte("{}"),
	}}
	srv := start(t, rec)
	resp := do(t, "GET", srv.URL+"/check/", nil, nil)
	if got := resp.Header.Values("Www-Authenticate"); !reflect.DeepEqual(got, []string{"Bearer", `Basic realm="wp"`}) {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	if got := resp.Header.Values("Content-Type"); !reflect.DeepEqual(got, []string{"application/problem+json"}) {
		t.Fatalf("Content-Type %q (decision's value must win)", got)
	}
}

func TestFailClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*authz.Request) *authz.Decision
	}{
		{"nil decision", func(*authz.Request) *authz.Decision { return nil }},
		{"panic", func(*authz.Request) *authz.Decision { panic("boom") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t, &recorder{fn: tc.fn})
			for _, path := range []string{"/check/wp-json/", "/auth"} {
				resp := do(t, "GET", srv.URL+path, map[string][]string{"X-Forwarded-Uri": {"/"}, "X-Forwarded-Method": {"GET"}}, nil)
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("%s: status %d", path, resp.StatusCode)
				}
				if e := decodeError(t, resp); e.Code != wperror.Unavailable.Code || e.Data.Status != 503 {
					t.Fatalf("%s: code %q", path, e.Code)
				}
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	rec := &recorder{decision: allow()}
	srv := start(t, rec)
	fwd := map[string][]string{"X-Forwarded-Uri": {"/"}, "X-Forwarded-Method": {"GET"}}
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/auth", 200},
		{"/auth?from=traefik", 200},
		{"/check/", 200},
		{"/check", 404},
		{"/checkout/x", 404},
		{"/auth/x", 404},
		{"/", 404},
	} {
		if resp := do(t, "GET", srv.URL+tc.path, fwd, nil); resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
	}
}

func TestRouteBypassesMuxCleaning(t *testing.T) {
	rec := &recorder{decision: allow()}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	// What goes wrong without Route: the mux redirects the uncleaned path.
	mux.Handle("/check/", NewHandler(rec, nil))
	srv := httptest.NewServer(Route(NewHandler(rec, nil), mux))
	t.Cleanup(srv.Close)

	resp := raw(t, srv, "GET /check/wp-json/wp/v2/%2e%2e/users HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp.StatusCode != http.StatusOK || rec.last(t).Target != "/wp-json/wp/v2/%2e%2e/users" {
		t.Fatalf("status %d, target %q", resp.StatusCode, rec.last(t).Target)
	}
	resp = raw(t, srv, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")
	if b := readAll(t, resp.Body); b != "ok" {
		t.Fatalf("/healthz answered %d %q", resp.StatusCode, b)
	}

	// The mux alone would have answered with a redirect: the reason Route exists.
	bare := httptest.NewServer(mux)
	t.Cleanup(bare.Close)
	n := rec.count()
	resp = raw(t, bare, "GET /check/wp-json/wp/v2/../users HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp.StatusCode/100 != 3 || rec.count() != n {
		t.Fatalf("bare mux: status %d (expected the redirect Route avoids)", resp.StatusCode)
	}
}

func TestMalformedPathNeverAllowed(t *testing.T) {
	// net/http refuses a path with a broken escape before the handler runs;
	// WordPress might route it, so what matters is that it is not allowed.
	rec := &recorder{decision: allow()}
	srv := start(t, rec)
	resp := raw(t, srv, "GET /check/wp-json/wp/v2/%zz/users HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp.StatusCode == http.StatusOK || rec.count() != 0 {
		t.Fatalf("status %d, checker calls %d", resp.StatusCode, rec.count())
	}
}

func TestStripPort(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.1":        "203.0.113.1",
		"203.0.113.1:8080":   "203.0.113.1",
		"2001:db8::1":        "2001:db8::1",
		"[2001:db8::1]":      "2001:db8::1",
		"[2001:db8::1]:8443": "2001:db8::1",
		"unix":               "unix",
		"":                   "",
	} {
		if got := stripPort(in); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", in, got, want)
		}
	}
}
