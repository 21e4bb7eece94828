package authz

// Request is the transport-neutral view of an HTTP request that an adapter
// (Envoy gRPC, HTTP forward auth) hands to the engine.
type Request struct {
	// Method is the request method as the client sent it.
	Method string
	// Host is the authority (Host / :authority), possibly with a port.
	Host string
	// Target is the raw request-target: path plus optional "?query",
	// exactly as on the wire, not decoded. WordPress routes on the raw
	// REQUEST_URI, so the engine must see it undecoded.
	Target string
	// Headers holds the request headers with lower-cased names. Repeated
	// headers are joined with "," (as Envoy does).
	Headers map[string]string
	// Body is the request body when the proxy forwarded it.
	Body []byte
	// BodyComplete is true when Body is the whole body.
	BodyComplete bool
	// RemoteAddr is the client address as the proxy saw it (for audit and
	// throttling), without port when known.
	RemoteAddr string
}

// Header is one HTTP header to add or overwrite.
type Header struct {
	Name  string
	Value string
}

// Decision is the engine's answer. Adapters translate it field by field
// and contain no policy logic of their own.
type Decision struct {
	// Allowed forwards the request to WordPress.
	Allowed bool
	// Status is the HTTP status of the denial (401, 403, 404, 429, 400);
	// 200 when Allowed.
	Status int
	// Code is the stable WordPress-style error code ("rest_no_route",
	// "rest_forbidden", ...); empty when Allowed.
	Code string

	// UpstreamHeaders are set on the request forwarded to WordPress,
	// overwriting any value the client sent (the identity header).
	UpstreamHeaders []Header
	// UpstreamRemove are header names (lower-case) removed from the request
	// forwarded to WordPress (credentials, client-sent identity headers).
	UpstreamRemove []string

	// ResponseHeaders are sent to the client with a denial
	// (WWW-Authenticate, Retry-After, Content-Type).
	ResponseHeaders []Header
	// Body is the denial body: WordPress's error shape as JSON.
	Body []byte

	// Reason explains the decision for logs and audit; it never contains
	// credentials.
	Reason string
}
