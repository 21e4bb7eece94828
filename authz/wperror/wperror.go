// Package wperror renders denials in WordPress's REST error shape,
// {"code": "...", "message": "...", "data": {"status": N}}, with the stable
// codes documented in docs/errors.md. Bodies for the fixed codes are
// rendered once, so a denial costs no JSON encoding.
package wperror

import (
	"encoding/json"
	"net/http"
)

// Error is one documented denial.
type Error struct {
	Status  int
	Code    string
	Message string
	body    []byte
}

// Body is the JSON body.
func (e *Error) Body() []byte { return e.body }

func define(status int, code, message string) *Error {
	e := &Error{Status: status, Code: code, Message: message}
	e.body = render(status, code, message)
	return e
}

func render(status int, code, message string) []byte {
	b, err := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Data    struct {
			Status int `json:"status"`
		} `json:"data"`
	}{Code: code, Message: message, Data: struct {
		Status int `json:"status"`
	}{status}})
	if err != nil { // cannot happen for strings and ints
		panic(err)
	}
	return b
}

// The denials. Codes are part of the API: never rename one.
var (
	// NotLoggedIn: the route needs an identity and none was presented
	// (WordPress's own code for this case).
	NotLoggedIn = define(http.StatusUnauthorized, "rest_not_logged_in", "You are not currently logged in.")
	// InvalidToken: a bearer token is malformed, badly signed, for another
	// issuer or audience, or revoked.
	InvalidToken = define(http.StatusUnauthorized, "wpauthz_invalid_token", "The access token is invalid.")
	// TokenExpired: a bearer token is past its expiry.
	TokenExpired = define(http.StatusUnauthorized, "wpauthz_token_expired", "The access token has expired.")
	// TokenNotYetValid: a bearer token's nbf or iat lies ahead (beyond the
	// leeway): a clock is wrong somewhere; logging in again will not help.
	TokenNotYetValid = define(http.StatusUnauthorized, "wpauthz_token_not_yet_valid", "The access token is not valid yet.")
	// InvalidAPIKey: an API key is unknown, malformed, disabled or expired.
	InvalidAPIKey = define(http.StatusUnauthorized, "wpauthz_invalid_api_key", "The API key is invalid.")
	// UnsupportedCredentials: a credential scheme this policy does not
	// accept (e.g. Basic while Basic is off, an unknown scheme).
	UnsupportedCredentials = define(http.StatusUnauthorized, "wpauthz_unsupported_credentials", "The credentials use a scheme this site does not accept.")
	// MultipleCredentials: more than one credential was presented.
	MultipleCredentials = define(http.StatusUnauthorized, "wpauthz_multiple_credentials", "Present exactly one credential.")
	// AuthMethodNotAllowed: valid identity, but the route requires another
	// authentication method.
	AuthMethodNotAllowed = define(http.StatusUnauthorized, "wpauthz_auth_method_not_allowed", "This route does not accept this authentication method.")
	// Forbidden: authenticated but lacking a required role (WordPress's code).
	Forbidden = define(http.StatusForbidden, "rest_forbidden", "Sorry, you are not allowed to do that.")
	// NoRoute: the endpoint is disabled; answered as WordPress answers an
	// unknown route.
	NoRoute = define(http.StatusNotFound, "rest_no_route", "No route was found matching the URL and request method.")
	// Disabled: the endpoint is disabled, when the policy answers 403.
	Disabled = define(http.StatusForbidden, "rest_forbidden", "Sorry, you are not allowed to do that.")
	// BatchDenied: /batch/v1 without a rule that explicitly allows it, or a
	// sub-request that the policy refuses.
	BatchDenied = define(http.StatusForbidden, "wpauthz_batch_denied", "Batch requests are not allowed here.")
	// AmbiguousRequest: WordPress's routing of the request cannot be
	// determined with certainty (odd encodings, dot segments, a form body
	// that was not inspected).
	AmbiguousRequest = define(http.StatusBadRequest, "wpauthz_ambiguous_request", "The request could not be routed unambiguously.")
	// InvalidHost: the request's host is not one wpauthz can match exactly
	// as the proxy in front matches it (a trailing dot, userinfo, a port
	// that is not a number, a list, characters outside a host name, none
	// at all), so no policy may be chosen for it.
	InvalidHost = define(http.StatusBadRequest, "wpauthz_invalid_host", "The request's host is not a plain host name.")
	// UnknownHost: no policy covers the host.
	UnknownHost = define(http.StatusForbidden, "wpauthz_unknown_host", "This host is not served.")
	// BadCheckRequest: an Envoy CheckRequest without the HTTP attributes
	// wpauthz needs. A denial, never a gRPC error, so that a
	// failure_mode_allow setting cannot turn it into an allow.
	BadCheckRequest = define(http.StatusBadRequest, "wpauthz_bad_check_request", "The authorization request is malformed.")
	// BadForwardAuthRequest: an HTTP forward-auth call that does not say
	// (or says twice, in two conventions) what the original request was.
	BadForwardAuthRequest = define(http.StatusBadRequest, "wpauthz_bad_forward_auth_request", "The forward-auth request does not describe the original request.")
	// Unavailable: the check could not be completed (cancelled, shutting
	// down, the WordPress database unreachable); fail closed.
	Unavailable = define(http.StatusServiceUnavailable, "wpauthz_unavailable", "The authorization service is unavailable.")
	// ServerBusy: an HTTP listener is already reading as many request
	// bodies as it may at once (serve --http-max-body-reads); Retry-After
	// says when to try again.
	ServerBusy = define(http.StatusServiceUnavailable, "wpauthz_busy", "The server is reading too many requests at once. Try again shortly.")
	// InvalidCredentials: a user name and password (Basic or the login
	// endpoint) that do not match — one answer for an unknown user and a
	// wrong password, so that nobody learns which users exist.
	InvalidCredentials = define(http.StatusUnauthorized, "wpauthz_invalid_credentials", "The username or password is incorrect.")
	// TooManyAttempts: too many failed logins for this WordPress user or
	// from this client; Retry-After says when to try again.
	TooManyAttempts = define(http.StatusTooManyRequests, "wpauthz_too_many_attempts", "Too many failed login attempts. Try again later.")
	// InvalidRequest: a token endpoint request with missing, repeated,
	// oversized or malformed parameters (bad JSON, arrays).
	InvalidRequest = define(http.StatusBadRequest, "wpauthz_invalid_request", "The request is missing a parameter or is malformed.")
	// InvalidRefreshToken: a refresh token that is unknown, expired,
	// revoked, or already spent (which revokes its whole family).
	InvalidRefreshToken = define(http.StatusUnauthorized, "wpauthz_invalid_refresh_token", "The refresh token is invalid.")
	// JWTAuthInvalidCredentials: the failed login of the "JWT
	// Authentication for WP REST API" compatible endpoint (that plugin's
	// status and code prefix; one code for unknown user and wrong password).
	JWTAuthInvalidCredentials = define(http.StatusForbidden, "[jwt_auth] invalid_credentials", "The username or password is incorrect.")
	// JWTAuthInvalidToken: the compatible /jwt-auth/v1/token/validate
	// refusing a token (the plugin's code).
	JWTAuthInvalidToken = define(http.StatusForbidden, "jwt_auth_invalid_token", "The token is invalid.")
	// JWTAuthNoAuthHeader: the compatible validate endpoint without an
	// Authorization header (the plugin's code).
	JWTAuthNoAuthHeader = define(http.StatusForbidden, "jwt_auth_no_auth_header", "Authorization header not found.")
	// InvalidNotification: a user-change notification on the internal
	// listener that is unsigned, badly signed, too old or too new, or for
	// a site without a notification key. One answer for all, so a caller
	// learns nothing about which sites exist.
	InvalidNotification = define(http.StatusUnauthorized, "wpauthz_invalid_notification", "The notification is not signed with this site's key.")
)

// All lists the documented denials (for docs and tests).
var All = []*Error{NotLoggedIn, InvalidToken, TokenExpired, TokenNotYetValid, InvalidAPIKey, UnsupportedCredentials, MultipleCredentials, AuthMethodNotAllowed, Forbidden, NoRoute, Disabled, BatchDenied, AmbiguousRequest, InvalidHost, UnknownHost, BadCheckRequest, BadForwardAuthRequest, Unavailable, ServerBusy,
	InvalidCredentials, TooManyAttempts, InvalidRequest, InvalidRefreshToken, JWTAuthInvalidCredentials, JWTAuthInvalidToken, JWTAuthNoAuthHeader,
	InvalidNotification}

// New renders an error that is not one of the fixed denials.
func New(status int, code, message string) *Error { return define(status, code, message) }
