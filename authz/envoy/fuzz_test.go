package envoy

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"github.com/wpauthz/wpauthz/authz/authztest"
)

// fuzzHeaders reads "name: value" lines (the fuzzer's spelling of a header
// list); a line without ": " is a name with an empty value.
func fuzzHeaders(blob string) [][2]string {
	var hs [][2]string
	for line := range strings.SplitSeq(blob, "\n") {
		if line == "" {
			continue
		}
		k, v, _ := strings.Cut(line, ": ")
		hs = append(hs, [2]string{k, v})
	}
	return hs
}

func headerBlob(h map[string]string) string {
	var b strings.Builder
	for k, v := range h {
		b.WriteString(k + ": " + v + "\n")
	}
	return b.String()
}

// FuzzToRequest: any CheckRequest's HTTP attributes (method, host, path,
// headers as a map or as Envoy's raw header_map, body as string or bytes,
// source address) map onto a request with the path untouched, every header
// under its lower-case name with its value kept, and BodyComplete only when
// Envoy said the body is whole; a request without method or path is
// refused before the engine. Through the server on the real engine, the
// answer is an OK that overwrites or removes any client-sent identity
// assertion, or a denial with a 4xx/5xx status and a body in WordPress's
// error shape. Seeds: the credential cases the adapters share.
func FuzzToRequest(f *testing.F) {
	ce := authztest.NewCredentialEngine(f, time.Now())
	srv := NewServer(ce.Engine, nil)
	for _, c := range ce.CredentialCases(f) {
		f.Add(c.Method, c.Host, c.Target, headerBlob(c.Headers), false, []byte(nil), false, "203.0.113.7")
		f.Add(c.Method, c.Host, c.Target, headerBlob(c.Headers)+"content-length: 0\n", true, []byte("a=1"), true, "2001:db8::1")
	}
	f.Add("POST", authztest.StandardHost, "/wp-json/batch/v1", "content-type: application/json\nx-envoy-auth-partial-body: false\nx-wpauthz-identity: forged\n", false,
		[]byte(`{"requests":[{"method":"POST","path":"/wp/v2/users"}]}`), true, "")
	f.Add("POST", authztest.StandardHost, "/wp-json/wp/v2/posts", "x-envoy-auth-partial-body: true\ncontent-type: application/x-www-form-urlencoded\n", true, []byte("rest_route=/wp/v2/users"), true, "")
	f.Add("GET", "", "", "", false, []byte(nil), false, "")
	f.Fuzz(func(t *testing.T, method, host, path, headerLines string, raw bool, body []byte, packBytes bool, source string) {
		hs := fuzzHeaders(headerLines)
		h := &authv3.AttributeContext_HttpRequest{Method: method, Host: host, Path: path}
		if raw {
			h.HeaderMap = &corev3.HeaderMap{}
			for _, kv := range hs {
				h.HeaderMap.Headers = append(h.HeaderMap.Headers, &corev3.HeaderValue{Key: kv[0], RawValue: []byte(kv[1])})
			}
		} else {
			h.Headers = map[string]string{}
			for _, kv := range hs {
				h.Headers[kv[0]] = kv[1] // a map: the last of a name wins
			}
		}
		if packBytes {
			h.RawBody = body
		} else {
			h.Body = string(body)
		}
		req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source:  &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: source}}}},
			Request: &authv3.AttributeContext_Request{Http: h},
		}}

		r, ok := toRequest(req)
		if ok != (method != "" && path != "") {
			t.Fatalf("toRequest ok=%v for method %q path %q", ok, method, path)
		}
		if ok {
			if r.Method != method || r.Host != host || r.Target != path || r.RemoteAddr != source {
				t.Fatalf("request mapped to %q %q %q %q", r.Method, r.Host, r.Target, r.RemoteAddr)
			}
			if !bytes.Equal(r.Body, body) && !(len(r.Body) == 0 && len(body) == 0) {
				t.Fatalf("body %q, sent %q", r.Body, body)
			}
			for k := range r.Headers {
				if strings.ContainsAny(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
					t.Fatalf("header name %q is not lower-case", k)
				}
			}
			sent := hs
			if !raw {
				sent = nil
				for k, v := range h.Headers {
					sent = append(sent, [2]string{k, v})
				}
			}
			for _, kv := range sent {
				v, found := r.Headers[refLowerASCII(kv[0])]
				if !found || !strings.Contains(v, kv[1]) {
					t.Fatalf("header %q: %q lost (got %q, %v)", kv[0], kv[1], v, found)
				}
			}
			partial := r.Headers[partialBodyHeader]
			if r.BodyComplete && partial != "false" && (len(r.Body) != 0 || r.Headers["content-length"] != "0" || r.Headers["transfer-encoding"] != "") {
				t.Fatalf("body complete with partial-body %q, %d bytes, content-length %q", partial, len(r.Body), r.Headers["content-length"])
			}
		}

		resp, err := srv.Check(context.Background(), req)
		if err != nil || resp == nil {
			t.Fatalf("Check: %v %v", resp, err)
		}
		if okr := resp.GetOkResponse(); okr != nil {
			if resp.GetStatus().GetCode() != int32(codes.OK) {
				t.Fatalf("OK response with status %v", resp.GetStatus())
			}
			overwritten := false
			for _, o := range okr.GetHeaders() {
				if strings.EqualFold(o.GetHeader().GetKey(), "x-wpauthz-identity") && !o.GetAppend().GetValue() && o.GetAppendAction() == corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
					overwritten = true
				}
			}
			removed := false
			for _, n := range okr.GetHeadersToRemove() {
				removed = removed || strings.EqualFold(n, "x-wpauthz-identity")
			}
			if !overwritten && !removed {
				t.Fatalf("allowed without overwriting or removing X-WPAuthz-Identity: %v", okr)
			}
			return
		}
		d := resp.GetDeniedResponse()
		if d == nil || resp.GetStatus().GetCode() == int32(codes.OK) {
			t.Fatalf("neither allowed nor denied: %v", resp)
		}
		st := int(d.GetStatus().GetCode())
		if st < 400 || st > 599 || st == http.StatusOK {
			t.Fatalf("denial with status %d", st)
		}
		authztest.RequireWPError(t, st, []byte(d.GetBody()))
	})
}

// TestHeaderNamesLowerCasedAsASCII: header names are lower-cased byte by
// byte in ASCII, the way the map's fast path leaves them and the way
// proxies compare names. Unicode case folding (found by FuzzToRequest on a
// non-UTF-8 name) renamed headers: "\xff" became U+FFFD, and the Kelvin
// sign and a dotted capital I fold to "k" and "i", so "X-API-\u212aey"
// read as the API-key header although every proxy and PHP see another name.
func TestHeaderNamesLowerCasedAsASCII(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"\xff", "\xff"},
		{"X-API-\u212aey", "x-api-\u212aey"},
		{"AUTHOR\u0130ZATION", "author\u0130zation"},
		{"X-Wp-Auth", "x-wp-auth"},
	} {
		for _, raw := range []bool{false, true} {
			h := &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/", Headers: map[string]string{c.name: "v", "Upper": "u"}}
			if raw {
				h.Headers = nil
				h.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: c.name, RawValue: []byte("v")}}}
			}
			r, ok := toRequest(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: h}}})
			if !ok || r.Headers[c.want] != "v" {
				t.Errorf("%q (header_map %v): headers %q, want the name %q", c.name, raw, r.Headers, c.want)
			}
		}
	}
}

// refLowerASCII is the reference lower-casing: A–Z only.
func refLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
