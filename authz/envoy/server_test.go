package envoy

import (
	"context"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/wperror"
)

// recorder is an authz.Checker that keeps the requests it was asked about
// and answers with a canned decision (or whatever fn says).
type recorder struct {
	mu       sync.Mutex
	reqs     []*authz.Request
	decision *authz.Decision
	fn       func(ctx context.Context, r *authz.Request) *authz.Decision
}

func (c *recorder) Check(ctx context.Context, r *authz.Request) *authz.Decision {
	c.mu.Lock()
	c.reqs = append(c.reqs, r)
	d, fn := c.decision, c.fn
	c.mu.Unlock()
	if fn != nil {
		return fn(ctx, r)
	}
	return d
}

func (c *recorder) requests() []*authz.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*authz.Request(nil), c.reqs...)
}

func (c *recorder) last(t *testing.T) *authz.Request {
	t.Helper()
	rs := c.requests()
	if len(rs) == 0 {
		t.Fatal("checker was not called")
	}
	return rs[len(rs)-1]
}

type testServer struct {
	conn   *grpc.ClientConn
	client authv3.AuthorizationClient
	grpc   *grpc.Server
	health *health.Server
}

// start runs the real gRPC server on a free loopback port and dials it.
func start(t *testing.T, c authz.Checker) *testServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g, hs := NewGRPCServerWithHealth(c, nil, DefaultLimits())
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &testServer{conn: conn, client: authv3.NewAuthorizationClient(conn), grpc: g, health: hs}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func checkRequest(h *authv3.AttributeContext_HttpRequest) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "203.0.113.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 51234}},
		}}},
		Request: &authv3.AttributeContext_Request{Http: h},
	}}
}

func allow() *authz.Decision { return &authz.Decision{Allowed: true, Status: 200} }

func TestCheckMapsRequest(t *testing.T) {
	rec := &recorder{decision: allow()}
	ts := start(t, rec)

	const target = "/wp-json/wp/v2/%2e%2e/users?rest_route=/wp/v2/users&_method=DELETE"
	_, err := ts.client.Check(ctxT(t), checkRequest(&authv3.AttributeContext_HttpRequest{
		Method: "POST",
		Host:   "shop.example.com:8443",
		Path:   target,
		Headers: map[string]string{
			":authority":                "shop.example.com:8443",
			"authorization":             "Bearer abc.def.ghi",
			"content-type":              "application/x-www-form-urlencoded",
			"x-forwarded-for":           "198.51.100.1,203.0.113.7",
			"x-envoy-auth-partial-body": "false",
		},
		Body: "rest_route=%2Fwp%2Fv2%2Fposts&title=x",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := &authz.Request{
		Method: "POST",
		Host:   "shop.example.com:8443",
		Target: target,
		Headers: map[string]string{
			":authority":                "shop.example.com:8443",
			"authorization":             "Bearer abc.def.ghi",
			"content-type":              "application/x-www-form-urlencoded",
			"x-forwarded-for":           "198.51.100.1,203.0.113.7",
			"x-envoy-auth-partial-body": "false",
		},
		Body:         []byte("rest_route=%2Fwp%2Fv2%2Fposts&title=x"),
		BodyComplete: true,
		RemoteAddr:   "203.0.113.7",
	}
	if got := rec.last(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("request mapped to\n%#v\nwant\n%#v", got, want)
	}
}

func TestCheckBodyForms(t *testing.T) {
	rec := &recorder{decision: allow()}
	ts := start(t, rec)
	nonUTF8 := []byte("a=\xff\xfe&rest_route=/wp/v2/users")

	for _, tc := range []struct {
		name string
		body string
		raw  []byte
		want []byte
	}{
		{"raw_body bytes (pack_as_bytes)", "", nonUTF8, nonUTF8},
		{"body string", "title=hello", nil, []byte("title=hello")},
		{"raw_body wins over body", "sanitised!", []byte("exact"), []byte("exact")},
		{"no body", "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ts.client.Check(ctxT(t), checkRequest(&authv3.AttributeContext_HttpRequest{
				Method: "POST", Host: "h", Path: "/wp-json/",
				Headers: map[string]string{"x-envoy-auth-partial-body": "false"},
				Body:    tc.body, RawBody: tc.raw,
			}))
			if err != nil {
				t.Fatal(err)
			}
			got := rec.last(t)
			if string(got.Body) != string(tc.want) || (tc.want == nil) != (got.Body == nil) {
				t.Fatalf("Body = %q, want %q", got.Body, tc.want)
			}
		})
	}
}

func TestCheckPartialBody(t *testing.T) {
	rec := &recorder{decision: allow()}
	ts := start(t, rec)

	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    string
		want    bool
	}{
		{"envoy says whole", map[string]string{"x-envoy-auth-partial-body": "false"}, "a=b", true},
		{"envoy says truncated", map[string]string{"x-envoy-auth-partial-body": "true"}, "a=b", false},
		{"unexpected flag value", map[string]string{"x-envoy-auth-partial-body": "no"}, "a=b", false},
		{"no flag: body not buffered", map[string]string{"content-length": "3"}, "", false},
		{"no flag, body present", map[string]string{}, "a=b", false},
		{"no flag, content-length 0", map[string]string{"content-length": "0"}, "", true},
		{"no flag, content-length 0 but chunked", map[string]string{"content-length": "0", "transfer-encoding": "chunked"}, "", false},
		{"no flag, no length (GET)", map[string]string{}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ts.client.Check(ctxT(t), checkRequest(&authv3.AttributeContext_HttpRequest{
				Method: "POST", Host: "h", Path: "/wp-json/", Headers: tc.headers, Body: tc.body,
			}))
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.last(t).BodyComplete; got != tc.want {
				t.Fatalf("BodyComplete = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckHeaderMap(t *testing.T) {
	rec := &recorder{decision: allow()}
	ts := start(t, rec)

	hv := func(k, v string) *corev3.HeaderValue { return &corev3.HeaderValue{Key: k, RawValue: []byte(v)} }
	_, err := ts.client.Check(ctxT(t), checkRequest(&authv3.AttributeContext_HttpRequest{
		Method: "GET", Host: "h", Path: "/?rest_route=/",
		HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			hv(":authority", "h"),
			hv("x-wp-auth", "key-1"),
			hv("X-WP-Auth", "key-2"), // duplicate name, other case
			hv("x-raw", "caf\xe9"),   // not UTF-8: raw_value keeps the byte
			{Key: "x-plain", Value: "from value field"},
			hv("x-envoy-auth-partial-body", "false"),
		}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := rec.last(t)
	want := map[string]string{
		":authority":                "h",
		"x-wp-auth":                 "key-1,key-2",
		"x-raw":                     "caf\xe9",
		"x-plain":                   "from value field",
		"x-envoy-auth-partial-body": "false",
	}
	if !reflect.DeepEqual(got.Headers, want) {
		t.Fatalf("Headers = %q, want %q", got.Headers, want)
	}
	if !got.BodyComplete {
		t.Fatal("partial-body flag in header_map not honoured")
	}
}

func TestCheckHeadersLowerCased(t *testing.T) {
	// A client other than Envoy may send mixed-case names in the map.
	r, ok := toRequest(checkRequest(&authv3.AttributeContext_HttpRequest{
		Method: "GET", Host: "h", Path: "/",
		Headers: map[string]string{"Authorization": "Basic eA==", "x-a": "1"},
	}))
	if !ok {
		t.Fatal("rejected")
	}
	want := map[string]string{"authorization": "Basic eA==", "x-a": "1"}
	if !reflect.DeepEqual(r.Headers, want) {
		t.Fatalf("Headers = %q, want %q", r.Headers, want)
	}
}

func TestCheckMalformedDenies(t *testing.T) {
	rec := &recorder{decision: allow()}
	ts := start(t, rec)

	for _, tc := range []struct {
		name string
		req  *authv3.CheckRequest
	}{
		{"empty", &authv3.CheckRequest{}},
		{"no request", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{}}},
		{"no http", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{}}}},
		{"no path", checkRequest(&authv3.AttributeContext_HttpRequest{Method: "GET", Host: "h"})},
		{"no method", checkRequest(&authv3.AttributeContext_HttpRequest{Host: "h", Path: "/"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := ts.client.Check(ctxT(t), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			assertAdapterDenial(t, resp, errBadCheckRequest)
		})
	}
	if n := len(rec.requests()); n != 0 {
		t.Fatalf("checker called %d times for malformed requests", n)
	}

	// In process, a nil request must not panic either.
	resp, err := NewServer(rec, nil).Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	assertAdapterDenial(t, resp, errBadCheckRequest)
}

func assertAdapterDenial(t *testing.T, resp *authv3.CheckResponse, want *wperror.Error) {
	t.Helper()
	if resp.GetStatus().GetCode() != int32(codes.PermissionDenied) || resp.GetStatus().GetMessage() != want.Code {
		t.Fatalf("grpc status = %v, want PERMISSION_DENIED %s", resp.GetStatus(), want.Code)
	}
	d := resp.GetDeniedResponse()
	if d == nil {
		t.Fatalf("no denied_response in %v", resp)
	}
	if int(d.GetStatus().GetCode()) != want.Status {
		t.Fatalf("http status = %v, want %d", d.GetStatus().GetCode(), want.Status)
	}
	if d.GetBody() != string(want.Body()) {
		t.Fatalf("body = %s, want %s", d.GetBody(), want.Body())
	}
	if !strings.Contains(d.GetBody(), `"code":"`+want.Code+`"`) || !strings.Contains(d.GetBody(), `"status":`+strconv.Itoa(want.Status)) {
		t.Fatalf("body %s is not the WordPress shape for %s", d.GetBody(), want.Code)
	}
}

func overwrite(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: k, Value: v},
		Append:       wrapperspb.Bool(false),
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

func appended(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: k, Value: v},
		Append:       wrapperspb.Bool(true),
		AppendAction: corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD,
	}
}

func TestCheckAllowResponse(t *testing.T) {
	rec := &recorder{decision: &authz.Decision{
		Allowed: true, Status: 200,
		UpstreamHeaders: []authz.Header{
			{Name: "x-wpauthz-identity", Value: "eyJhbGciOiJFZERTQSJ9.e30.sig"},
			{Name: "x-wpauthz-request-id", Value: "r1"},
		},
		UpstreamRemove: []string{"authorization", "x-wp-auth"},
		Reason:         "jwt ok",
	}}
	ts := start(t, rec)

	resp, err := ts.client.Check(ctxT(t), checkRequest(&authv3.AttributeContext_HttpRequest{Method: "GET", Host: "h", Path: "/wp-json/wp/v2/posts"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: []*corev3.HeaderValueOption{
				overwrite("x-wpauthz-identity", "eyJhbGciOiJFZERTQSJ9.e30.sig"),
				overwrite("x-wpauthz-request-id", "r1"),
			},
			HeadersToRemove: []string{"authorization", "x-wp-auth"},
		}},
	}
	if !proto.Equal(resp, want) {
		t.Fatalf("response\n%v\nwant\n%v", resp, want)
	}
	// Spelled out, because this is the line between "overwrite" and
	// "append next to the client's forged identity".
	h := resp.GetOkResponse().GetHeaders()[0]
	if h.GetAppend() == nil || h.GetAppend().GetValue() || h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
		t.Fatalf("identity header option %v does not overwrite", h)
	}
}

func TestCheckAllowWithoutMutations(t *testing.T) {
	ts := start(t, &recorder{decision: allow()})
	resp, err := ts.client.Check(ctxT(t), checkRequest(&authv3.AttributeContext_HttpRequest{Method: "GET", Host: "h", Path: "/"}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus().GetCode() != 0 || resp.GetOkResponse() == nil {
		t.Fatalf("response %v, want OK with ok_response", resp)
	}
	if len(resp.GetOkResponse().GetHeaders()) != 0 || len(resp.GetOkResponse().GetHeadersToRemove()) != 0 {
		t.Fatalf("unexpected mutations in %v", resp)
	}
}

func TestCheckDeniedResponses(t *testing.T) {
	rec := &recorder{}
	ts := start(t, rec)
	const ct = "application/json; charset=UTF-8"

	for _, tc := range []struct {
		name     string
		d        *authz.Decision
		wantCode codes.Code
		wantHTTP typev3.StatusCode
		wantHdrs []*corev3.HeaderValueOption
	}{
		{
			name: "401 bearer",
			d: &authz.Decision{Status: 401, Code: "rest_not_logged_in",
				ResponseHeaders: []authz.Header{{Name: "WWW-Authenticate", Value: `Bearer error="invalid_token"`}},
				Body:            []byte(`{"code":"rest_not_logged_in","message":"m","data":{"status":401}}`)},
			wantCode: codes.Unauthenticated, wantHTTP: typev3.StatusCode_Unauthorized,
			wantHdrs: []*corev3.HeaderValueOption{overwrite("WWW-Authenticate", `Bearer error="invalid_token"`), overwrite("content-type", ct)},
		},
		{
			name: "403 role",
			d: &authz.Decision{Status: 403, Code: "rest_forbidden",
				ResponseHeaders: []authz.Header{{Name: "Content-Type", Value: "application/json"}},
				Body:            []byte(`{"code":"rest_forbidden"}`)},
			wantCode: codes.PermissionDenied, wantHTTP: typev3.StatusCode_Forbidden,
			wantHdrs: []*corev3.HeaderValueOption{overwrite("Content-Type", "application/json")},
		},
		{
			name:     "404 disabled route",
			d:        &authz.Decision{Status: 404, Code: "rest_no_route", Body: []byte(`{"code":"rest_no_route"}`)},
			wantCode: codes.PermissionDenied, wantHTTP: typev3.StatusCode_NotFound,
			wantHdrs: []*corev3.HeaderValueOption{overwrite("content-type", ct)},
		},
		{
			name: "429 throttled",
			d: &authz.Decision{Status: 429, Code: "wpauthz_throttled",
				ResponseHeaders: []authz.Header{{Name: "Retry-After", Value: "30"}}, Body: []byte(`{}`)},
			wantCode: codes.PermissionDenied, wantHTTP: typev3.StatusCode_TooManyRequests,
			wantHdrs: []*corev3.HeaderValueOption{overwrite("Retry-After", "30"), overwrite("content-type", ct)},
		},
		{
			name: "two challenges: second appends",
			d: &authz.Decision{Status: 401, Code: "c",
				ResponseHeaders: []authz.Header{{Name: "www-authenticate", Value: "Bearer"}, {Name: "WWW-Authenticate", Value: `Basic realm="wp"`}}},
			wantCode: codes.Unauthenticated, wantHTTP: typev3.StatusCode_Unauthorized,
			wantHdrs: []*corev3.HeaderValueOption{overwrite("www-authenticate", "Bearer"), appended("WWW-Authenticate", `Basic realm="wp"`)},
		},
		{
			name:     "denied with status 200 is still a denial",
			d:        &authz.Decision{Status: 200, Code: "c"},
			wantCode: codes.PermissionDenied, wantHTTP: typev3.StatusCode_Forbidden,
		},
		{
			name:     "denied without status",
			d:        &authz.Decision{Code: "c"},
			wantCode: codes.PermissionDenied, wantHTTP: typev3.StatusCode_Forbidden,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.mu.Lock()
			rec.decision = tc.d
			rec.mu.Unlock()
			resp, err := ts.client.Check(ctxT(t), checkRequest(&authv3.AttributeContext_HttpRequest{Method: "GET", Host: "h", Path: "/wp-json/"}))
			if err != nil {
				t.Fatal(err)
			}
			want := &authv3.CheckResponse{
				Status: &rpcstatus.Status{Code: int32(tc.wantCode), Message: tc.d.Code},
				HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
					Status:  &typev3.HttpStatus{Code: tc.wantHTTP},
					Headers: tc.wantHdrs,
					Body:    string(tc.d.Body),
				}},
			}
			if !proto.Equal(resp, want) {
				t.Fatalf("response\n%v\nwant\n%v", resp, want)
			}
		})
	}
}

func TestDeniedResponseDoesNotAliasDecision(t *testing.T) {
	// The engine may hand out one shared Decision; adding content-type must
	// not write into its ResponseHeaders backing array.
	hs := make([]authz.Header, 1, 4)
	hs[0] = authz.Header{Name: "Retry-After", Value: "1"}
	d := &authz.Decision{Status: 429, ResponseHeaders: hs, Body: []byte("{}")}
	deniedResponse(d)
	if full := hs[:2]; full[1] != (authz.Header{}) {
		t.Fatalf("decision's backing array was written: %v", full)
	}
}

func TestCheckFailClosed(t *testing.T) {
	t.Run("nil decision", func(t *testing.T) {
		ts := start(t, &recorder{})
		resp, err := ts.client.Check(ctxT(t), checkRequest(&authv3.AttributeContext_HttpRequest{Method: "GET", Host: "h", Path: "/"}))
		if err != nil {
			t.Fatal(err)
		}
		assertAdapterDenial(t, resp, wperror.Unavailable)
	})
	t.Run("checker panics", func(t *testing.T) {
		ts := start(t, &recorder{fn: func(context.Context, *authz.Request) *authz.Decision { panic("boom") }})
		resp, err := ts.client.Check(ctxT(t), checkRequest(&authv3.AttributeContext_HttpRequest{Method: "GET", Host: "h", Path: "/"}))
		if err != nil {
			t.Fatal(err)
		}
		assertAdapterDenial(t, resp, wperror.Unavailable)
	})
	t.Run("context cancelled before check", func(t *testing.T) {
		rec := &recorder{decision: allow()}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		resp, err := NewServer(rec, nil).Check(ctx, checkRequest(&authv3.AttributeContext_HttpRequest{Method: "GET", Host: "h", Path: "/"}))
		if err != nil {
			t.Fatal(err)
		}
		assertAdapterDenial(t, resp, wperror.Unavailable)
		if len(rec.requests()) != 0 {
			t.Fatal("checker called with a cancelled context")
		}
	})
	t.Run("context cancelled during check", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rec := &recorder{fn: func(context.Context, *authz.Request) *authz.Decision {
			cancel()
			return allow()
		}}
		resp, err := NewServer(rec, nil).Check(ctx, checkRequest(&authv3.AttributeContext_HttpRequest{Method: "GET", Host: "h", Path: "/"}))
		if err != nil {
			t.Fatal(err)
		}
		assertAdapterDenial(t, resp, wperror.Unavailable)
	})
	t.Run("checker sees the call's context", func(t *testing.T) {
		type key struct{}
		var saw any
		rec := &recorder{fn: func(ctx context.Context, _ *authz.Request) *authz.Decision {
			saw = ctx.Value(key{})
			return allow()
		}}
		ctx := context.WithValue(context.Background(), key{}, "v")
		if _, err := NewServer(rec, nil).Check(ctx, checkRequest(&authv3.AttributeContext_HttpRequest{Method: "GET", Host: "h", Path: "/"})); err != nil {
			t.Fatal(err)
		}
		if saw != "v" {
			t.Fatal("checker did not get the request context")
		}
	})
}

func TestMaxMessageSize(t *testing.T) {
	rec := &recorder{decision: allow()}
	ts := start(t, rec)

	// A body of exactly the documented maximum is accepted...
	_, err := ts.client.Check(ctxT(t), checkRequest(&authv3.AttributeContext_HttpRequest{
		Method: "POST", Host: "h", Path: "/", RawBody: make([]byte, MaxRequestBodyBytes),
	}))
	if err != nil {
		t.Fatalf("max-size body refused: %v", err)
	}
	// ...one past the whole message bound is refused by gRPC before decoding.
	_, err = ts.client.Check(ctxT(t), checkRequest(&authv3.AttributeContext_HttpRequest{
		Method: "POST", Host: "h", Path: "/", RawBody: make([]byte, MaxCheckRequestBytes+1),
	}))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized message: err = %v, want ResourceExhausted", err)
	}
	if n := len(rec.requests()); n != 1 {
		t.Fatalf("checker called %d times, want 1", n)
	}
}

func TestHealth(t *testing.T) {
	ts := start(t, &recorder{decision: allow()})
	hc := healthpb.NewHealthClient(ts.conn)

	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		resp, err := hc.Check(ctxT(t), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("health %q: %v", service, err)
		}
		return resp.GetStatus()
	}
	for _, svc := range []string{"", ServiceName} {
		if got := check(svc); got != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health %q = %v, want SERVING", svc, got)
		}
	}
	if _, err := hc.Check(ctxT(t), &healthpb.HealthCheckRequest{Service: "no.such.Service"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown service: err = %v, want NotFound", err)
	}

	ts.health.Shutdown()
	for _, svc := range []string{"", ServiceName} {
		if got := check(svc); got != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("after shutdown, health %q = %v, want NOT_SERVING", svc, got)
		}
	}
}

func TestGracefulStop(t *testing.T) {
	ts := start(t, &recorder{decision: allow()})
	hc := healthpb.NewHealthClient(ts.conn)
	watchCtx, stopWatch := context.WithCancel(ctxT(t))
	defer stopWatch()
	stream, err := hc.Watch(watchCtx, &healthpb.HealthCheckRequest{Service: ServiceName})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first watch update %v, %v", m, err)
	}

	done := make(chan struct{})
	go func() { GracefulStop(ctxT(t), ts.grpc, ts.health); close(done) }()

	// The watcher learns NOT_SERVING before the server goes away...
	if m, err := stream.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("second watch update %v, %v", m, err)
	}
	// ...and once the last stream ends, the graceful stop completes.
	stopWatch()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("GracefulStop did not return")
	}
}

func TestGracefulStopGivesUp(t *testing.T) {
	ts := start(t, &recorder{decision: allow()})
	// An open stream that never ends would hold a graceful stop forever.
	stream, err := healthpb.NewHealthClient(ts.conn).Watch(ctxT(t), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { GracefulStop(ctx, ts.grpc, ts.health); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("GracefulStop did not stop hard after its context expired")
	}
}

func TestReflectionListsServices(t *testing.T) {
	ts := start(t, &recorder{decision: allow()})
	stream, err := reflectionpb.NewServerReflectionClient(ts.conn).ServerReflectionInfo(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		got[s.GetName()] = true
	}
	for _, want := range []string{ServiceName, "grpc.health.v1.Health"} {
		if !got[want] {
			t.Fatalf("reflection lists %v, missing %s", got, want)
		}
	}

	// And it can describe the Check method's file, as grpcurl needs.
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: ServiceName},
	}); err != nil {
		t.Fatal(err)
	}
	fd, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(fd.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Fatalf("no descriptor for %s: %v", ServiceName, fd)
	}
}
