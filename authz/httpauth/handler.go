// Package httpauth answers HTTP external-authorization calls on the same
// engine as the Envoy gRPC adapter:
//
//   - /auth: nginx auth_request and Traefik/Caddy forward auth. The proxy
//     describes the original request in forwarding headers
//     (X-Original-URI/X-Original-Method for nginx, X-Forwarded-Method/-Uri/
//     -Host/-For for Traefik and Caddy) and passes the original headers, but
//     never the body.
//   - /check/<original request-target>: Envoy's ext_authz http_service with
//     path_prefix "/check". The request is the original one: its method,
//     Host, headers and (with with_request_body) body.
//
// A 200 allows; any other status denies and is the answer the proxy gives the
// client. Like every adapter, this one only translates: it has no policy.
//
// The listener serving this handler trusts the forwarding headers, so it must
// be reachable from the proxy only.
package httpauth

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/wperror"
)

const (
	// AuthPath is the forward-auth endpoint.
	AuthPath = "/auth"
	// CheckPrefix is Envoy's http_service path_prefix; the original
	// request-target follows it.
	CheckPrefix = "/check"

	// MaxBodyBytes bounds how much of an original body /check reads (Envoy
	// with_request_body.max_request_bytes should not exceed it). A longer
	// body is passed on truncated, with BodyComplete false.
	MaxBodyBytes = 1 << 20
)

// CodeBadForwardAuthRequest is the code of the denial (400) of an /auth call
// that does not say the original request's URI or method, or says it in both
// the nginx and the Traefik/Caddy convention: there is nothing reliable to
// decide on.
var CodeBadForwardAuthRequest = wperror.BadForwardAuthRequest.Code

// The denials this adapter makes itself. When the engine gives no decision
// (or panics) the request is refused as the engine refuses a check it cannot
// complete: wperror.Unavailable.
var (
	errNoOriginalURI    = wperror.New(http.StatusBadRequest, CodeBadForwardAuthRequest, "The forward-auth request does not say the original request URI.")
	errNoOriginalMethod = wperror.New(http.StatusBadRequest, CodeBadForwardAuthRequest, "The forward-auth request does not say the original request method.")
	errBothConventions  = wperror.New(http.StatusBadRequest, CodeBadForwardAuthRequest, "The forward-auth request describes the original request twice (X-Original-* and X-Forwarded-Uri/-Method).")
	errUnavailable      = wperror.Unavailable
	errBodyUnreadable   = wperror.New(http.StatusBadRequest, wperror.BadCheckRequest.Code, "The request body could not be read.")
)

// Response headers that carry a denial's real status and code to nginx,
// which only understands 401 and 403 from an auth_request (see
// docs/integrations.md). Canonical form, so they are set without
// re-canonicalising on every request.
const (
	headerStatus = "X-Wpauthz-Status"
	headerCode   = "X-Wpauthz-Code"
)

// envoyHeadersToRemove is how Envoy's http_service receives
// OkHttpResponse.headers_to_remove: a comma-separated list.
const envoyHeadersToRemove = "X-Envoy-Auth-Headers-To-Remove"

const jsonContentType = "application/json; charset=UTF-8"

// Handler serves /auth and /check/…; everything else is 404.
type Handler struct {
	checker authz.Checker
	log     *slog.Logger
	maxBody int64
}

// NewHandler returns the HTTP ext_authz handler over c. A nil log discards.
//
// Mount it so that it sees the raw request-target: not behind an
// http.ServeMux pattern, which cleans paths and redirects non-canonical ones
// (/check/wp-json/wp/v2/%2e%2e/users would become a 301 instead of being
// checked as WordPress will route it). Route puts it in front of a mux.
func NewHandler(c authz.Checker, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{checker: c, log: log, maxBody: MaxBodyBytes}
}

// Route returns a handler that sends /auth and /check/… to authzHandler,
// before next (typically an http.ServeMux with /healthz, the token service…)
// gets a chance to rewrite their paths, and everything else to next.
func Route(authzHandler, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := endpoint(r.RequestURI); ok {
			authzHandler.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type kind int

const (
	forwardAuth kind = iota
	envoyCheck
)

// endpoint classifies a raw request-target.
func endpoint(requestURI string) (kind, bool) {
	if strings.HasPrefix(requestURI, CheckPrefix+"/") {
		return envoyCheck, true
	}
	path := requestURI
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == AuthPath {
		return forwardAuth, true
	}
	return 0, false
}

// ServeHTTP answers /auth and /check/…, and 404 for anything else.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k, ok := endpoint(r.RequestURI)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if k == envoyCheck {
		h.serveCheck(w, r)
		return
	}
	h.serveForwardAuth(w, r)
}

// Forwarding headers (canonical form, as in r.Header).
const (
	hOriginalURI     = "X-Original-Uri"
	hOriginalMethod  = "X-Original-Method"
	hForwardedURI    = "X-Forwarded-Uri"
	hForwardedMethod = "X-Forwarded-Method"
	hForwardedHost   = "X-Forwarded-Host"
	hForwardedFor    = "X-Forwarded-For"
	hRealIP          = "X-Real-Ip"
)

// forwardingHeaders describe the original request (or the hop to us); they
// are consumed here, not passed on as if the client had sent them. The
// framing headers describe the auth request, not the original one (whose
// body the proxy does not send), so they are dropped too.
var forwardingHeaders = map[string]bool{
	hOriginalURI: true, hOriginalMethod: true,
	hForwardedURI: true, hForwardedMethod: true, hForwardedHost: true, hForwardedFor: true,
	"X-Forwarded-Proto": true, "X-Forwarded-Port": true, "X-Forwarded-Server": true,
	"X-Forwarded-Prefix": true, hRealIP: true,
	"Content-Length": true, "Transfer-Encoding": true,
}

// checkDropped are headers of a /check request that describe the auth
// request rather than the original: Envoy replaces Content-Length with the
// size of the body it forwards (0 without with_request_body).
var checkDropped = map[string]bool{"Content-Length": true, "Transfer-Encoding": true}

func (h *Handler) serveForwardAuth(w http.ResponseWriter, r *http.Request) {
	hdr := r.Header
	_, origURI := hdr[hOriginalURI]
	_, origMethod := hdr[hOriginalMethod]
	_, fwdURI := hdr[hForwardedURI]
	_, fwdMethod := hdr[hForwardedMethod]
	nginx := origURI || origMethod
	var e *wperror.Error
	var target, method string
	switch {
	case nginx && (fwdURI || fwdMethod):
		// Both conventions at once: one of them came from the client.
		// Traefik and Caddy pass the client's headers through (a forged
		// X-Original-URI), nginx does too unless told otherwise (a forged
		// X-Forwarded-Uri). Picking either could check a request other
		// than the one the proxy forwards, so neither is picked.
		e = errBothConventions
	case nginx:
		target, method = first(hdr[hOriginalURI]), first(hdr[hOriginalMethod])
	default:
		target, method = first(hdr[hForwardedURI]), first(hdr[hForwardedMethod])
	}
	if e == nil && target == "" {
		e = errNoOriginalURI
	} else if e == nil && method == "" {
		e = errNoOriginalMethod
	}
	if e != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "forward auth: "+e.Message, slog.Bool("nginx", nginx))
		h.deny(w, errorDecision(e), nginx)
		return
	}

	// The proxies set X-Forwarded-Host to the one host they route by;
	// a list ("weak.test,main.test") or repeated header is not that, and
	// is passed on whole so that the engine refuses it: its first element
	// need not be the host the proxy routed by.
	host := r.Host
	if fwd, ok := hdr[hForwardedHost]; ok {
		host = strings.Join(fwd, ",")
	}
	remote := firstHop(first(hdr[hForwardedFor]))
	if remote == "" {
		remote = strings.TrimSpace(first(hdr[hRealIP]))
	}

	req := &authz.Request{
		Method:     method,
		Host:       host,
		Target:     target,
		Headers:    lowerHeaders(hdr, forwardingHeaders),
		RemoteAddr: stripPort(remote),
		// No body: these proxies do not send it.
	}
	h.decide(r.Context(), w, req, nginx, false)
}

func (h *Handler) serveCheck(w http.ResponseWriter, r *http.Request) {
	body, whole, err := h.readBody(r)
	if err != nil {
		// The client went away or was cut off by the read deadline: there
		// is no request left to decide on. Debug, not warn: slow clients
		// must not turn into a flood of log lines.
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "http authz: check body unreadable", slog.String("err", err.Error()))
		h.deny(w, errorDecision(errBodyUnreadable), false)
		return
	}
	headers := lowerHeaders(r.Header, checkDropped)
	req := &authz.Request{
		Method: r.Method,
		Host:   r.Host,
		// The raw request-target minus the prefix, never r.URL.Path:
		// WordPress routes on the undecoded form.
		Target:  r.RequestURI[len(CheckPrefix):],
		Headers: headers,
		Body:    body,
		// Envoy sets x-envoy-auth-partial-body only when it buffered a
		// body (with_request_body), after dropping any client copy.
		BodyComplete: whole && headers["x-envoy-auth-partial-body"] == "false",
		RemoteAddr:   envoyClientAddr(headers),
	}
	h.decide(r.Context(), w, req, false, true)
}

// readBody reads at most h.maxBody bytes and reports whether that was all;
// err is a failure to read (not the bound being reached).
//
// The buffer grows with what arrives, never to the declared Content-Length
// up front: a client that declares 1 MiB and sends a byte a minute would
// otherwise hold 1 MiB per connection. The start is sized for a typical
// body (or the declared one, when smaller) to avoid regrowing.
func (h *Handler) readBody(r *http.Request) ([]byte, bool, error) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, true, nil
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, initialBodyBuffer)))
	}
	// One byte over the bound tells "exactly at the bound" from "cut".
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, h.maxBody+1)); err != nil {
		return nil, false, err
	}
	b := buf.Bytes()
	if int64(len(b)) > h.maxBody {
		return b[:h.maxBody], false, nil
	}
	return b, true, nil
}

// initialBodyBuffer is the most readBody allocates before bytes arrive.
const initialBodyBuffer = 4 << 10

// envoyClientAddr is the client address Envoy vouches for: the
// x-envoy-external-address it sets for external requests, else the last
// X-Forwarded-For hop (the one Envoy appends with use_remote_address).
func envoyClientAddr(headers map[string]string) string {
	if a := strings.TrimSpace(headers["x-envoy-external-address"]); a != "" {
		return stripPort(a)
	}
	xff := headers["x-forwarded-for"]
	if i := strings.LastIndexByte(xff, ','); i >= 0 {
		xff = xff[i+1:]
	}
	return stripPort(strings.TrimSpace(xff))
}

func (h *Handler) decide(ctx context.Context, w http.ResponseWriter, req *authz.Request, nginx, envoy bool) {
	d := h.check(ctx, req)
	if h.log.Enabled(ctx, slog.LevelDebug) {
		// Never the target or headers: they carry credentials.
		h.log.LogAttrs(ctx, slog.LevelDebug, "http authz: decision",
			slog.String("method", req.Method), slog.String("host", req.Host),
			slog.Bool("allowed", d.Allowed), slog.Int("status", d.Status),
			slog.String("code", d.Code), slog.String("reason", d.Reason))
	}
	if !d.Allowed {
		h.deny(w, d, nginx)
		return
	}
	out := w.Header()
	setHeaders(out, d.UpstreamHeaders)
	if envoy && len(d.UpstreamRemove) > 0 {
		out[envoyHeadersToRemove] = []string{strings.Join(d.UpstreamRemove, ",")}
	}
	w.WriteHeader(http.StatusOK)
}

// check asks the engine, failing closed on a missing decision or a panic.
func (h *Handler) check(ctx context.Context, req *authz.Request) (d *authz.Decision) {
	defer func() {
		if p := recover(); p != nil {
			h.log.LogAttrs(ctx, slog.LevelError, "http authz: checker panicked", slog.Any("panic", p))
			d = errorDecision(errUnavailable)
		}
	}()
	if d = h.checker.Check(ctx, req); d == nil {
		h.log.LogAttrs(ctx, slog.LevelError, "http authz: checker returned no decision")
		return errorDecision(errUnavailable)
	}
	return d
}

func errorDecision(e *wperror.Error) *authz.Decision {
	return &authz.Decision{Status: e.Status, Code: e.Code, Body: e.Body()}
}

// deny writes a denial. For nginx, whose auth_request turns any status but
// 2xx, 401 and 403 into a 500, other statuses become 403 and the real status
// and code travel in X-WPAuthz-Status / X-WPAuthz-Code for the nginx config
// to render (docs/integrations.md).
func (h *Handler) deny(w http.ResponseWriter, d *authz.Decision, nginx bool) {
	st := d.Status
	if st < 400 || st > 599 {
		// A denial must never read as success: a 2xx here would let the
		// request through every forward-auth proxy.
		st = http.StatusForbidden
	}
	out := w.Header()
	if len(d.Body) > 0 {
		out["Content-Type"] = []string{jsonContentType}
	}
	setHeaders(out, d.ResponseHeaders)
	if nginx {
		out[headerStatus] = []string{strconv.Itoa(st)}
		out[headerCode] = []string{d.Code}
		if st != http.StatusUnauthorized && st != http.StatusForbidden {
			st = http.StatusForbidden
		}
	}
	w.WriteHeader(st)
	_, _ = w.Write(d.Body)
}

// setHeaders overwrites each named header; a name repeated within hs adds
// to the earlier value instead (two WWW-Authenticate challenges).
func setHeaders(out http.Header, hs []authz.Header) {
	for i := range hs {
		if repeated(hs[:i], hs[i].Name) {
			out.Add(hs[i].Name, hs[i].Value)
		} else {
			out.Set(hs[i].Name, hs[i].Value)
		}
	}
}

func repeated(hs []authz.Header, name string) bool {
	for i := range hs {
		if strings.EqualFold(hs[i].Name, name) {
			return true
		}
	}
	return false
}

// lowerHeaders copies hdr with lower-cased names, minus drop (canonical
// names); repeated headers are joined with "," as Envoy joins them.
//
// The kept headers are gathered on the stack first so the map is made at its
// exact size: a map sized for every incoming header (forwarding ones
// included) or grown while filled costs several extra allocations.
func lowerHeaders(hdr http.Header, drop map[string]bool) map[string]string {
	type kv struct{ k, v string }
	var buf [32]kv
	kept := buf[:0]
	for k, vs := range hdr {
		if drop[k] || len(vs) == 0 {
			continue
		}
		v := vs[0]
		if len(vs) > 1 {
			v = strings.Join(vs, ",")
		}
		kept = append(kept, kv{lowerName(k), v})
	}
	out := make(map[string]string, len(kept))
	for _, e := range kept {
		out[e.k] = e.v
	}
	return out
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// firstHop is the first element of a comma-separated forwarding list: the
// original client's value as recorded by the outermost proxy.
func firstHop(v string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// stripPort drops a port from "ip:port" or "[ipv6]:port"; a bare address
// (the usual case) is returned as is without net.SplitHostPort's error
// allocation.
func stripPort(a string) string {
	colon := strings.IndexByte(a, ':')
	switch {
	case colon < 0:
		return a // IPv4 or name, no port
	case a[0] == '[':
		if host, _, err := net.SplitHostPort(a); err == nil {
			return host
		}
		return strings.TrimSuffix(a[1:], "]")
	case strings.IndexByte(a[colon+1:], ':') < 0:
		return a[:colon] // IPv4:port
	default:
		return a // bare IPv6
	}
}
