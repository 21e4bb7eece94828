// Package envoy serves Envoy's external authorization gRPC API
// (envoy.service.auth.v3.Authorization/Check) on top of an authz.Checker.
//
// The adapter only translates: a CheckRequest becomes an authz.Request, the
// engine decides, and the authz.Decision becomes a CheckResponse. It holds no
// policy of its own. Where the transport leaves a question open (a malformed
// request, a cancelled call, a missing decision) it denies: Envoy must never
// forward a request to WordPress that the engine did not explicitly allow.
package envoy

import (
	"context"
	"log/slog"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/wperror"
)

// CodeBadCheckRequest is the code of the denial (400) of a CheckRequest
// without HTTP attributes, method or path. Envoy always sends them, so the
// caller is misconfigured or not Envoy; there is nothing to decide on.
var CodeBadCheckRequest = wperror.BadCheckRequest.Code

// The denials this adapter makes itself. A call that is cancelled, or for
// which the engine gives no decision (or panics), is refused as the engine
// refuses a check it cannot complete: wperror.Unavailable.
var (
	errBadCheckRequest = wperror.BadCheckRequest
	errUnavailable     = wperror.Unavailable
)

// partialBodyHeader is the header Envoy adds to the check request when
// with_request_body is configured and a body was buffered: "true" when the
// body was cut at max_request_bytes, "false" when it is whole. Envoy drops
// any client-sent copy before adding its own.
const partialBodyHeader = "x-envoy-auth-partial-body"

const jsonContentType = "application/json; charset=UTF-8"

// Server implements authv3.AuthorizationServer over an authz.Checker.
type Server struct {
	authv3.UnimplementedAuthorizationServer

	checker authz.Checker
	log     *slog.Logger
}

var _ authv3.AuthorizationServer = (*Server)(nil)

// NewServer returns a Check service that asks c. A nil log discards.
func NewServer(c authz.Checker, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{checker: c, log: log}
}

// Check answers one ext_authz call. It never returns an error: a gRPC error
// is an authorization-service *failure* to Envoy, which failure_mode_allow
// could turn into an allow, whereas a denied CheckResponse is always a denial.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (resp *authv3.CheckResponse, err error) {
	if ctx.Err() != nil {
		return failClosed(errUnavailable), nil
	}
	r, ok := toRequest(req)
	if !ok {
		s.log.LogAttrs(ctx, slog.LevelWarn, "ext_authz: refusing check request without HTTP attributes")
		return failClosed(errBadCheckRequest), nil
	}

	defer func() {
		// One request that trips an engine bug must not take down the
		// replica (and with it every other request); it is refused.
		if p := recover(); p != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "ext_authz: checker panicked", slog.Any("panic", p))
			resp, err = failClosed(errUnavailable), nil
		}
	}()
	d := s.checker.Check(ctx, r)
	if d == nil {
		s.log.LogAttrs(ctx, slog.LevelError, "ext_authz: checker returned no decision")
		return failClosed(errUnavailable), nil
	}
	if ctx.Err() != nil {
		// Envoy has given up on this call; whatever the engine concluded
		// under a dead context is not trusted.
		return failClosed(errUnavailable), nil
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		// Never the target or headers: query strings and headers carry
		// credentials. Reason is credential-free by contract.
		s.log.LogAttrs(ctx, slog.LevelDebug, "ext_authz: decision",
			slog.String("method", r.Method), slog.String("host", r.Host),
			slog.Bool("allowed", d.Allowed), slog.Int("status", d.Status),
			slog.String("code", d.Code), slog.String("reason", d.Reason))
	}
	if d.Allowed {
		return okResponse(d), nil
	}
	return deniedResponse(d), nil
}

// toRequest maps attributes.request.http (and the source address) onto an
// authz.Request. It reports false when there is nothing to decide on.
func toRequest(req *authv3.CheckRequest) (*authz.Request, bool) {
	attrs := req.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	if h == nil || h.GetMethod() == "" || h.GetPath() == "" {
		return nil, false
	}
	headers := headersOf(h)

	// raw_body is set when pack_as_bytes is on (the exact bytes); body is
	// the UTF-8-sanitised string otherwise. Envoy fills one or the other.
	body := h.GetRawBody()
	if len(body) == 0 && h.GetBody() != "" {
		body = []byte(h.GetBody())
	}

	return &authz.Request{
		Method:       h.GetMethod(),
		Host:         h.GetHost(),
		Target:       h.GetPath(), // request-target as on the wire, query included, undecoded
		Headers:      headers,
		Body:         body,
		BodyComplete: bodyComplete(headers, body),
		RemoteAddr:   attrs.GetSource().GetAddress().GetSocketAddress().GetAddress(),
	}, true
}

// bodyComplete reports whether body is the whole request body.
//
// Envoy says so explicitly with x-envoy-auth-partial-body, but only when it
// buffered a body. It adds nothing for a request that has no body at all, so
// a request whose own Content-Length is 0 (Envoy's codecs reject a body that
// disagrees with Content-Length) is also known to be complete. Anything else,
// including a proxy that was not configured with with_request_body, is not.
func bodyComplete(headers map[string]string, body []byte) bool {
	switch headers[partialBodyHeader] {
	case "false":
		return true
	case "":
		return len(body) == 0 && headers["content-length"] == "0" && headers["transfer-encoding"] == ""
	default:
		return false
	}
}

// headersOf returns the request headers with lower-cased names, duplicates
// joined with ",". Envoy sends either the headers map (already lower-cased
// and joined) or, with encode_raw_headers, header_map: a list of raw values
// that may repeat a name. In the common case the proto's own map is used
// as is, without copying.
func headersOf(h *authv3.AttributeContext_HttpRequest) map[string]string {
	src := h.GetHeaders()
	raw := h.GetHeaderMap().GetHeaders()
	if len(raw) == 0 && allLower(src) {
		return src
	}
	out := make(map[string]string, len(src)+len(raw))
	for k, v := range src {
		addJoined(out, lowerASCII(k), v)
	}
	for _, hv := range raw {
		v := hv.GetValue()
		if rv := hv.GetRawValue(); len(rv) > 0 {
			v = string(rv)
		}
		addJoined(out, lowerASCII(hv.GetKey()), v)
	}
	return out
}

func addJoined(m map[string]string, k, v string) {
	if old, ok := m[k]; ok {
		m[k] = old + "," + v
		return
	}
	m[k] = v
}

// lowerASCII lower-cases A–Z only, as proxies compare header names:
// Unicode folding would turn "AUTHOR\u0130ZATION" or a Kelvin sign into the
// name of a credential header that neither the proxy nor PHP sees.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func allLower(m map[string]string) bool {
	for k := range m {
		for i := 0; i < len(k); i++ {
			if c := k[i]; 'A' <= c && c <= 'Z' {
				return false
			}
		}
	}
	return true
}

// Messages every response may share: they are never modified after they
// are built, and gRPC only reads (marshals) a response, so concurrent
// calls can point at the same ones.
var (
	statusOK    = &rpcstatus.Status{Code: int32(codes.OK)}
	appendFalse = &wrapperspb.BoolValue{Value: false}
	appendTrue  = &wrapperspb.BoolValue{Value: true}
)

func okResponse(d *authz.Decision) *authv3.CheckResponse {
	ok := &authv3.OkHttpResponse{
		Headers: headerOptions(d.UpstreamHeaders, false),
		// Shared, not copied: the response is only read (marshalled).
		HeadersToRemove: d.UpstreamRemove,
	}
	return &authv3.CheckResponse{
		Status:       statusOK,
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
	}
}

func deniedResponse(d *authz.Decision) *authv3.CheckResponse {
	st := denyStatus(d.Status)
	// Without a content-type, Envoy's local reply would label the JSON
	// body text/plain.
	addType := len(d.Body) > 0 && !hasHeader(d.ResponseHeaders, "content-type")
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(grpcCode(st)), Message: d.Code},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(st)},
			Headers: headerOptions(d.ResponseHeaders, addType),
			Body:    string(d.Body),
		}},
	}
}

// failClosed is a denial made by the adapter itself.
func failClosed(e *wperror.Error) *authv3.CheckResponse {
	return deniedResponse(&authz.Decision{Status: e.Status, Code: e.Code, Body: e.Body()})
}

// denyStatus is the HTTP status of a denial. A status outside 4xx/5xx would
// not read as a refusal to the client (and a 2xx from the HTTP adapters would
// even let the request through), so it becomes 403.
func denyStatus(s int) int {
	if s < 400 || s > 599 {
		return 403
	}
	return s
}

// grpcCode is the CheckResponse status of a denial. Envoy treats every
// non-OK code as "denied"; the code only makes logs and traces readable.
func grpcCode(httpStatus int) codes.Code {
	if httpStatus == 401 {
		return codes.Unauthenticated
	}
	return codes.PermissionDenied
}

// headerOptions turns decision headers into HeaderValueOptions that
// overwrite, plus content-type: application/json when addJSONType is set.
//
// Envoy's ext_authz documents that HeaderValueOption.append "defaults to
// false" in CheckResponse messages (add, or override an existing header),
// but HeaderValueOption.append_action defaults to APPEND_IF_EXISTS_OR_ADD,
// and Envoy versions that honour append_action read an unset append as "use
// append_action": a client-sent X-WPAuthz-Identity would then survive next to
// ours. Older versions ignore append_action and look only at append. So both
// are set explicitly: append=false (which wins wherever it is present) and
// append_action=OVERWRITE_IF_EXISTS_OR_ADD (for versions that drop append).
//
// A name repeated within the list (two WWW-Authenticate challenges) is
// overwritten once and then appended, so the decision's own values survive.
//
// Options and values share one allocation: this runs on every request.
func headerOptions(hs []authz.Header, addJSONType bool) []*corev3.HeaderValueOption {
	n := len(hs)
	if addJSONType {
		n++
	}
	if n == 0 {
		return nil
	}
	type option struct {
		opt corev3.HeaderValueOption
		val corev3.HeaderValue
	}
	block := make([]option, n)
	out := make([]*corev3.HeaderValueOption, n)
	for i := range n {
		b := &block[i]
		if i < len(hs) {
			b.val.Key, b.val.Value = hs[i].Name, hs[i].Value
		} else {
			b.val.Key, b.val.Value = "content-type", jsonContentType
		}
		b.opt.Header = &b.val
		if i < len(hs) && hasHeader(hs[:i], hs[i].Name) {
			b.opt.Append = appendTrue
			b.opt.AppendAction = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
		} else {
			b.opt.Append = appendFalse
			b.opt.AppendAction = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		}
		out[i] = &b.opt
	}
	return out
}

func hasHeader(hs []authz.Header, name string) bool {
	for i := range hs {
		if strings.EqualFold(hs[i].Name, name) {
			return true
		}
	}
	return false
}
