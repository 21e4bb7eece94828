package httpauth

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wpauthz/wpauthz/authz"
)

type fixedChecker struct{ d *authz.Decision }

func (c fixedChecker) Check(context.Context, *authz.Request) *authz.Decision { return c.d }

// discardWriter is a ResponseWriter that keeps one header map, so the
// benchmark measures the handler and not a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkHandler measures the adapter alone (mapping both ways) around a
// Checker that does nothing: go test -bench Handler -benchmem ./authz/httpauth/
func BenchmarkHandler(b *testing.B) {
	allowD := &authz.Decision{
		Allowed: true, Status: 200,
		UpstreamHeaders: []authz.Header{{Name: "X-WPAuthz-Identity", Value: "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiI0MiJ9.c2ln"}},
		UpstreamRemove:  []string{"authorization"},
	}
	denyD := &authz.Decision{
		Status: 404, Code: "rest_no_route",
		Body: []byte(`{"code":"rest_no_route","message":"No route was found matching the URL and request method.","data":{"status":404}}`),
	}
	common := func(r *http.Request) {
		r.Header.Set("Accept", "application/json")
		r.Header.Set("Accept-Encoding", "gzip, br")
		r.Header.Set("Authorization", "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl")
		r.Header.Set("User-Agent", "Mozilla/5.0")
		r.Header.Set("Cookie", "wp-settings-1=x")
		r.Header.Set("X-Request-Id", "2b0c5f1e-6b8d-4f6e-9a55-1d8f1b5a9e2c")
	}
	body := []byte(`{"requests":[{"path":"/wp/v2/posts","method":"POST","body":{"title":"x"}}]}`)

	for _, bc := range []struct {
		name  string
		d     *authz.Decision
		build func() (*http.Request, func())
	}{
		{"traefik-allow", allowD, func() (*http.Request, func()) {
			r := httptest.NewRequest("GET", "/auth", nil)
			common(r)
			r.Header.Set("X-Forwarded-Method", "GET")
			r.Header.Set("X-Forwarded-Uri", "/wp-json/wc/v3/orders?per_page=20")
			r.Header.Set("X-Forwarded-Host", "shop.example.com")
			r.Header.Set("X-Forwarded-For", "198.51.100.1")
			r.Header.Set("X-Forwarded-Proto", "https")
			return r, func() {}
		}},
		{"nginx-deny", denyD, func() (*http.Request, func()) {
			r := httptest.NewRequest("GET", "/auth", nil)
			common(r)
			r.Header.Set("X-Original-URI", "/wp-json/wp/v2/users")
			r.Header.Set("X-Original-Method", "GET")
			r.Header.Set("X-Forwarded-Host", "shop.example.com")
			r.Header.Set("X-Forwarded-For", "198.51.100.1")
			return r, func() {}
		}},
		{"envoy-check-body-allow", allowD, func() (*http.Request, func()) {
			br := bytes.NewReader(body)
			r := httptest.NewRequest("POST", "/check/wp-json/batch/v1", nil)
			common(r)
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-Envoy-Auth-Partial-Body", "false")
			r.Header.Set("X-Forwarded-For", "198.51.100.1")
			r.Body = io.NopCloser(br)
			r.ContentLength = int64(len(body))
			return r, func() { br.Reset(body) }
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := NewHandler(fixedChecker{bc.d}, nil)
			r, reset := bc.build()
			w := &discardWriter{h: make(http.Header, 4)}
			b.ReportAllocs()
			for b.Loop() {
				reset()
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}
