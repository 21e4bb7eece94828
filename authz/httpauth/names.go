package httpauth

import "strings"

// lowerName lower-cases a canonical header name. net/http hands every name
// over in canonical form (Content-Type), so strings.ToLower would allocate for
// each one on every request; the names a REST call usually carries are
// answered with constants instead.
func lowerName(k string) string {
	switch k {
	case "Accept":
		return "accept"
	case "Accept-Encoding":
		return "accept-encoding"
	case "Accept-Language":
		return "accept-language"
	case "Access-Control-Request-Headers":
		return "access-control-request-headers"
	case "Access-Control-Request-Method":
		return "access-control-request-method"
	case "Authorization":
		return "authorization"
	case "Cache-Control":
		return "cache-control"
	case "Connection":
		return "connection"
	case "Content-Type":
		return "content-type"
	case "Cookie":
		return "cookie"
	case "If-Modified-Since":
		return "if-modified-since"
	case "If-None-Match":
		return "if-none-match"
	case "Origin":
		return "origin"
	case "Pragma":
		return "pragma"
	case "Referer":
		return "referer"
	case "Sec-Fetch-Dest":
		return "sec-fetch-dest"
	case "Sec-Fetch-Mode":
		return "sec-fetch-mode"
	case "Sec-Fetch-Site":
		return "sec-fetch-site"
	case "User-Agent":
		return "user-agent"
	case "X-Api-Key":
		return "x-api-key"
	case "X-Envoy-Auth-Partial-Body":
		return "x-envoy-auth-partial-body"
	case "X-Envoy-Expected-Rq-Timeout-Ms":
		return "x-envoy-expected-rq-timeout-ms"
	case "X-Envoy-External-Address":
		return "x-envoy-external-address"
	case "X-Envoy-Internal":
		return "x-envoy-internal"
	case "X-Forwarded-For":
		return "x-forwarded-for"
	case "X-Forwarded-Proto":
		return "x-forwarded-proto"
	case "X-Http-Method-Override":
		return "x-http-method-override"
	case "X-Request-Id":
		return "x-request-id"
	case "X-Requested-With":
		return "x-requested-with"
	case "X-Wp-Nonce":
		return "x-wp-nonce"
	case "X-Wpauthz-Identity":
		return "x-wpauthz-identity"
	}
	return strings.ToLower(k)
}
