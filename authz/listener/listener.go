// Package listener builds the http.Server of every wpauthz HTTP listener
// (the public one and the internal one) with what a listener facing
// untrusted clients needs: a deadline for the whole request, one for the
// answer, one for idle keep-alive connections, a bound on the header, and a
// cap on the requests reading a body at once. cmd/wpauthz and the tests
// build their servers here, so what is tested is what runs.
package listener

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/wpauthz/wpauthz/authz/wperror"
)

// Limits are one listener's bounds. A zero duration means no limit (as in
// net/http); so does MaxBodyReads <= 0.
type Limits struct {
	// ReadTimeout bounds reading a whole request, headers and body, from
	// its first byte: a client trickling its body is cut off after it.
	ReadTimeout time.Duration
	// ReadHeaderTimeout bounds reading the headers; at most ReadTimeout.
	ReadHeaderTimeout time.Duration
	// WriteTimeout bounds the time from the end of the headers to the end
	// of the answer, the check itself included.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends nothing for
	// this long.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
	// MaxBodyReads caps the requests with a body that are served at once;
	// more are refused with 503 wpauthz_busy. Requests without a body
	// (health probes, nginx's auth_request, Traefik's forward auth) are
	// never counted: they cannot be slow once their headers are in.
	MaxBodyReads int
}

// Defaults. The idle timeout outlives nginx's upstream keepalive_timeout
// (60 s), so that the proxy, not wpauthz, closes a pooled connection and
// never sends a request on one wpauthz is closing.
const (
	DefaultReadTimeout       = 10 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 90 * time.Second
	DefaultMaxBodyReads      = 128
)

// RetryAfter is the Retry-After, in seconds, of a wpauthz_busy refusal.
const RetryAfter = 1

// NewServer returns the server for h under l. Its errors (TLS handshakes,
// bad requests cut off by a deadline) go to log at warn level.
func NewServer(h http.Handler, l Limits, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	header := l.ReadHeaderTimeout
	if l.ReadTimeout > 0 && (header <= 0 || header > l.ReadTimeout) {
		header = l.ReadTimeout
	}
	return &http.Server{
		Handler:           CapBodyReads(h, l.MaxBodyReads),
		ReadTimeout:       l.ReadTimeout,
		ReadHeaderTimeout: header,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// CapBodyReads serves at most n requests with a body at once and refuses
// the others at once with 503 wpauthz_busy and Retry-After, rather than
// queueing them: with the read deadline, a slot is held at most
// ReadTimeout, and a client that opens many slow requests gets refusals,
// not memory. n <= 0 returns next unchanged.
func CapBodyReads(next http.Handler, n int) http.Handler {
	if n <= 0 {
		return next
	}
	slots := make(chan struct{}, n)
	retryAfter := []string{strconv.Itoa(RetryAfter)}
	busy := wperror.ServerBusy
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			h := w.Header()
			h["Content-Type"] = []string{"application/json; charset=UTF-8"}
			h["Retry-After"] = retryAfter
			// The unread body is not worth draining: close the connection.
			h["Connection"] = []string{"close"}
			w.WriteHeader(busy.Status)
			_, _ = w.Write(busy.Body())
			return
		}
		defer func() { <-slots }()
		next.ServeHTTP(w, r)
	})
}
