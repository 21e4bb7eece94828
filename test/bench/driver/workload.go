package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
)

// outcome is what every request of a workload must get from wpauthz.
type outcome int

const (
	allowIdentity  outcome = iota // OK, with a signed X-WPAuthz-Identity
	allowAnonymous                // OK, without an identity
	deny401                       // denied with HTTP 401
)

func (o outcome) String() string {
	switch o {
	case allowIdentity:
		return "allow with identity"
	case allowAnonymous:
		return "allow, anonymous"
	}
	return "deny 401"
}

// workload is one row of the table: a set of CheckRequests that ghz cycles
// through, the configuration wpauthz serves for it, and the answer every
// request must get.
type workload struct {
	name   string // short, for -workloads and file names
	title  string // table row
	config string // "base", "large" or "basic"
	want   outcome
	msgs   []*authv3.CheckRequest
	// target is the minimum wpauthz/floor RPS ratio the issue sets (0: none).
	target float64
	// rssTarget is the peak RSS bound in MiB that applies (0: none).
	rssTarget float64

	dataFile string // ghz --data-file, written by writeData
}

func workloads(fx *fixture) []*workload {
	jwt := func(tokens []string, host string) []*authv3.CheckRequest {
		out := make([]*authv3.CheckRequest, len(tokens))
		for i, t := range tokens {
			out[i] = envoyRequest(i, "POST", host, "/wp-json/wp/v2/posts", map[string]string{
				"authorization": "Bearer " + t, "content-type": "application/json", "content-length": "64",
			})
		}
		return out
	}
	keys := make([]*authv3.CheckRequest, len(fx.apiKeys))
	for i, k := range fx.apiKeys {
		keys[i] = envoyRequest(i, "GET", hostES256, "/wp-json/wc/v3/orders?per_page=20&status=processing", map[string]string{"x-api-key": k})
	}
	anon := func(method, path string, extra map[string]string) []*authv3.CheckRequest {
		out := make([]*authv3.CheckRequest, tokensPerAlg)
		for i := range out {
			out[i] = envoyRequest(i, method, hostES256, path, extra)
		}
		return out
	}
	all := []*workload{
		{name: "jwt-es256", title: "JWT ES256 (1,000 tokens)", config: "base", want: allowIdentity, target: 0.7,
			msgs: jwt(fx.es256Tokens, hostES256)},
		{name: "jwt-rs256", title: "JWT RS256 (1,000 tokens)", config: "base", want: allowIdentity, target: 0.7,
			msgs: jwt(fx.rs256Tokens, hostRS256)},
		{name: "apikey", title: "API key (1,000 keys)", config: "base", want: allowIdentity, target: 0.8,
			msgs: keys},
		{name: "deny", title: "anonymous, protected route (401)", config: "base", want: deny401, target: 0.8,
			msgs: anon("POST", "/wp-json/wp/v2/posts", map[string]string{"content-type": "application/json", "content-length": "64"})},
		{name: "public", title: "anonymous, public route", config: "base", want: allowAnonymous,
			msgs: anon("GET", "/wp-json/wp/v2/posts?per_page=10&page=2", nil)},
		{name: "jwt-es256-large", title: "JWT ES256, 10,000 keys + 100 policies", config: "large", want: allowIdentity, target: 0.7, rssTarget: 64,
			msgs: jwt(fx.es256Tokens, hostES256)},
		{name: "apikey-large", title: "API key, 10,000 keys + 100 policies", config: "large", want: allowIdentity, target: 0.8, rssTarget: 64,
			msgs: keys},
	}
	if fx.basicErr == nil {
		basic := make([]*authv3.CheckRequest, len(fx.basicLogins))
		for i, l := range fx.basicLogins {
			basic[i] = envoyRequest(i, "POST", hostBasic, "/wp-json/wp/v2/posts", map[string]string{
				"authorization": "Basic " + l, "content-type": "application/json", "content-length": "64",
			})
		}
		// After the API key row: the identified methods together.
		all = slices.Insert(all, 3, &workload{name: "basic", title: "Basic, 1,000 users (credential cache warm)", config: "basic",
			want: allowIdentity, msgs: basic})
	}
	return all
}

// envoyRequest is a CheckRequest as Envoy's ext_authz filter sends it for a
// browser-ish HTTP/1.1 request arriving over TLS: source and destination
// addresses, the pseudo-headers and the usual proxy headers, no body.
func envoyRequest(i int, method, host, path string, extra map[string]string) *authv3.CheckRequest {
	reqID := fmt.Sprintf("%08x-6b8d-4f6e-9a55-%012x", i, i*7919)
	headers := map[string]string{
		":authority": host, ":method": method, ":path": path, ":scheme": "https",
		"accept": "application/json", "accept-encoding": "gzip, br", "accept-language": "en-GB,en;q=0.9",
		"user-agent":      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"x-forwarded-for": fmt.Sprintf("198.51.100.%d", 1+i%250), "x-forwarded-proto": "https",
		"x-request-id": reqID, "x-envoy-expected-rq-timeout-ms": "15000",
	}
	for k, v := range extra {
		headers[k] = v
	}
	addr := func(ip string, port uint32) *corev3.Address {
		return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: addr("10.0.3.17", uint32(40000+i%20000))},
		Destination: &authv3.AttributeContext_Peer{Address: addr("10.0.7.2", 8443)},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: reqID, Method: method, Headers: headers, Path: path, Host: host,
			Scheme: "https", Protocol: "HTTP/1.1",
		}},
	}}
}

// writeData writes the workload's messages as a JSON array: ghz sends
// message i%len to request i.
func (w *workload) writeData(path string) error {
	var b strings.Builder
	b.WriteString("[\n")
	for i, m := range w.msgs {
		j, err := protojson.Marshal(m)
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteString(",\n")
		}
		b.Write(j)
	}
	b.WriteString("\n]\n")
	w.dataFile = path
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// verify sends every message of the workload once and checks each answer:
// a benchmark of a misconfigured server is worthless. The floor must allow
// everything (it is the floor only if it answers).
func (w *workload) verify(ctx context.Context, addr string, floor bool) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	want := w.want
	if floor {
		want = allowAnonymous
	}
	for i, m := range w.msgs {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := client.Check(cctx, m)
		cancel()
		if err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		if err := check(resp, want); err != nil {
			return fmt.Errorf("request %d (%s %s%s): want %s: %w", i, m.GetAttributes().GetRequest().GetHttp().GetMethod(),
				m.GetAttributes().GetRequest().GetHttp().GetHost(), m.GetAttributes().GetRequest().GetHttp().GetPath(), want, err)
		}
	}
	return nil
}

func check(resp *authv3.CheckResponse, want outcome) error {
	code := codes.Code(resp.GetStatus().GetCode())
	switch want {
	case allowIdentity, allowAnonymous:
		ok := resp.GetOkResponse()
		if code != codes.OK || ok == nil {
			return fmt.Errorf("got %v, HTTP %d %s", code, resp.GetDeniedResponse().GetStatus().GetCode(), resp.GetStatus().GetMessage())
		}
		var id string
		for _, h := range ok.GetHeaders() {
			if strings.EqualFold(h.GetHeader().GetKey(), "x-wpauthz-identity") {
				id = h.GetHeader().GetValue()
			}
		}
		if want == allowIdentity && strings.Count(id, ".") != 2 {
			return fmt.Errorf("allowed without a signed identity assertion")
		}
		if want == allowAnonymous && id != "" {
			return fmt.Errorf("anonymous request allowed with an identity")
		}
	case deny401:
		if code == codes.OK || resp.GetDeniedResponse().GetStatus().GetCode() != 401 {
			return fmt.Errorf("got %v, HTTP %d", code, resp.GetDeniedResponse().GetStatus().GetCode())
		}
	}
	return nil
}
