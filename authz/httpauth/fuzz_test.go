package httpauth

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/authztest"
)

// lastRequest is a checker in front of the real engine that keeps the last
// request it was asked about.
type lastRequest struct {
	engine authz.Checker
	mu     sync.Mutex
	req    *authz.Request
}

func (l *lastRequest) Check(ctx context.Context, r *authz.Request) *authz.Decision {
	l.mu.Lock()
	l.req = r
	l.mu.Unlock()
	return l.engine.Check(ctx, r)
}

func (l *lastRequest) take() *authz.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.req
	l.req = nil
	return r
}

// FuzzHandler: any request to /auth (forwarding headers of nginx or
// Traefik/Caddy) or /check/… (Envoy's http_service, with a body), through
// the handler on the real engine. Whatever reaches the engine carries
// lower-case header names without the forwarding and framing headers, the
// original request-target exactly as given, at most the bound of body
// (whole only when Envoy said so), and a client address without a port. A
// 200 is an engine allow; anything else is a refusal in WordPress's shape,
// which for nginx is a 401 or 403 with the real status in X-WPAuthz-Status.
// Seeds: the credential cases the adapters share, sent both ways.
func FuzzHandler(f *testing.F) {
	ce := authztest.NewCredentialEngine(f, time.Now())
	rec := &lastRequest{engine: ce.Engine}
	h := NewHandler(rec, nil).(*Handler)
	// A small bound, so that the fuzzer reaches the cut-off body.
	h.maxBody = 256
	blob := func(hs map[string]string) string {
		var b strings.Builder
		for k, v := range hs {
			b.WriteString(k + ": " + v + "\n")
		}
		return b.String()
	}
	for _, c := range ce.CredentialCases(f) {
		f.Add(true, c.Method, c.Host, c.Target, blob(c.Headers)+"X-Envoy-Auth-Partial-Body: false\nX-Forwarded-For: 198.51.100.9, 203.0.113.4:80\n", []byte(nil))
		f.Add(false, "GET", "proxy.internal", "/auth", blob(c.Headers)+"X-Original-URI: "+c.Target+"\nX-Original-Method: "+c.Method+"\nX-Forwarded-Host: "+c.Host+"\nX-Real-IP: 198.51.100.20\n", []byte(nil))
		f.Add(false, "GET", c.Host, "/auth", blob(c.Headers)+"X-Forwarded-Uri: "+c.Target+"\nX-Forwarded-Method: "+c.Method+"\nX-Forwarded-For: [2001:db8::2]:443\n", []byte(nil))
	}
	f.Add(true, "POST", authztest.StandardHost, "/wp-json/batch/v1", "Content-Type: application/json\nX-Envoy-Auth-Partial-Body: false\n", []byte(`{"requests":[{"method":"POST","path":"/wp/v2/users"}]}`))
	f.Add(true, "POST", authztest.StandardHost, "/wp-json/wp/v2/posts", "Content-Type: application/x-www-form-urlencoded\nX-Envoy-Auth-Partial-Body: false\n", []byte("title="+strings.Repeat("x", 300)+"&rest_route=/wp/v2/users"))
	f.Add(true, "GET", authztest.StandardHost, "/wp-json/", "X-Envoy-External-Address: 198.51.100.7:443\n", []byte(nil))
	f.Add(false, "GET", "h", "/auth", "X-Original-URI: /\nX-Forwarded-Uri: /wp-json/\nX-Original-Method: GET\n", []byte(nil))
	f.Add(false, "GET", "h", "/auth?x", "X-Forwarded-Host: a.test\nX-Forwarded-Host: standard.test\nX-Original-URI: /\nX-Original-Method: GET\n", []byte(nil))
	f.Fuzz(func(t *testing.T, check bool, method, host, target, headerLines string, body []byte) {
		requestURI := target
		if check {
			requestURI = CheckPrefix + "/" + strings.TrimPrefix(target, "/")
		}
		hdr := http.Header{}
		for line := range strings.SplitSeq(headerLines, "\n") {
			if k, v, ok := strings.Cut(line, ": "); ok && k != "" {
				hdr.Add(k, v)
			}
		}
		r := &http.Request{
			Method: method, RequestURI: requestURI, URL: &url.URL{Path: requestURI},
			Host: host, Header: hdr, RemoteAddr: "192.0.2.1:1234",
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := rec.take()

		if _, ok := endpoint(requestURI); !ok {
			if w.Code != http.StatusNotFound || got != nil {
				t.Fatalf("%q: status %d, engine asked %v", requestURI, w.Code, got != nil)
			}
			return
		}
		_, origURI := hdr["X-Original-Uri"]
		_, origMethod := hdr["X-Original-Method"]
		nginx := !check && (origURI || origMethod)
		if w.Code == http.StatusOK {
			if got == nil {
				t.Fatal("200 without asking the engine")
			}
		} else {
			st := w.Code
			if nginx {
				if st != http.StatusUnauthorized && st != http.StatusForbidden {
					t.Fatalf("nginx denial with status %d", st)
				}
				st, _ = strconv.Atoi(w.Header().Get(headerStatus))
			}
			authztest.RequireWPError(t, st, w.Body.Bytes())
		}
		if got == nil {
			return
		}
		for k := range got.Headers {
			if k != strings.ToLower(k) {
				t.Fatalf("header name %q reached the engine", k)
			}
		}
		if got.RemoteAddr != "" {
			if _, err := netip.ParseAddrPort(got.RemoteAddr); err == nil {
				t.Fatalf("client address %q keeps its port", got.RemoteAddr)
			}
		}
		if check {
			if got.Target != requestURI[len(CheckPrefix):] || got.Method != method || got.Host != host {
				t.Fatalf("/check mapped to %q %q %q", got.Method, got.Host, got.Target)
			}
			if len(got.Body) > int(h.maxBody) || !bytes.HasPrefix(body, got.Body) {
				t.Fatalf("body of %d bytes is not the start of the %d sent", len(got.Body), len(body))
			}
			if got.BodyComplete && (len(got.Body) != len(body) || got.Headers["x-envoy-auth-partial-body"] != "false") {
				t.Fatalf("body complete: %d of %d bytes, partial-body %q", len(got.Body), len(body), got.Headers["x-envoy-auth-partial-body"])
			}
			for _, k := range []string{"content-length", "transfer-encoding"} {
				if _, ok := got.Headers[k]; ok {
					t.Fatalf("%s reached the engine", k)
				}
			}
			return
		}
		want := hdr.Get("X-Forwarded-Uri")
		if nginx {
			want = hdr.Get("X-Original-Uri")
		}
		if got.Target != want || got.Body != nil {
			t.Fatalf("/auth mapped to %q (want %q), %d body bytes", got.Target, want, len(got.Body))
		}
		for _, k := range []string{"x-original-uri", "x-original-method", "x-forwarded-uri", "x-forwarded-method", "x-forwarded-host",
			"x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-server", "x-forwarded-prefix", "x-real-ip",
			"content-length", "transfer-encoding"} {
			if _, ok := got.Headers[k]; ok {
				t.Fatalf("forwarding header %s reached the engine", k)
			}
		}
	})
}
