package envoy

import (
	"context"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/wpauthz/wpauthz/authz"
)

type fixedChecker struct{ d *authz.Decision }

func (c fixedChecker) Check(context.Context, *authz.Request) *authz.Decision { return c.d }

// benchRequest looks like what Envoy sends for a browser-ish REST call.
func benchRequest() *authv3.CheckRequest {
	return checkRequest(&authv3.AttributeContext_HttpRequest{
		Id: "1234567890", Method: "GET", Host: "shop.example.com",
		Path: "/wp-json/wc/v3/orders?per_page=20&page=2", Scheme: "https", Protocol: "HTTP/2",
		Headers: map[string]string{
			":authority": "shop.example.com", ":method": "GET", ":path": "/wp-json/wc/v3/orders?per_page=20&page=2", ":scheme": "https",
			"accept": "application/json", "accept-encoding": "gzip, br", "accept-language": "en-GB,en;q=0.9",
			"authorization": "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl",
			"user-agent":    "Mozilla/5.0", "x-forwarded-for": "198.51.100.1", "x-forwarded-proto": "https",
			"x-request-id": "2b0c5f1e-6b8d-4f6e-9a55-1d8f1b5a9e2c", "x-envoy-expected-rq-timeout-ms": "15000",
		},
	})
}

// BenchmarkCheck measures the adapter alone (mapping both ways) around a
// Checker that does nothing: go test -bench Check -benchmem ./authz/envoy/
func BenchmarkCheck(b *testing.B) {
	for _, bc := range []struct {
		name string
		d    *authz.Decision
	}{
		{"allow", &authz.Decision{
			Allowed: true, Status: 200,
			UpstreamHeaders: []authz.Header{{Name: "x-wpauthz-identity", Value: "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiI0MiJ9.c2ln"}},
			UpstreamRemove:  []string{"authorization"},
		}},
		{"deny", &authz.Decision{
			Status: 401, Code: "rest_not_logged_in",
			ResponseHeaders: []authz.Header{{Name: "www-authenticate", Value: `Bearer realm="shop.example.com", error="invalid_token"`}},
			Body:            []byte(`{"code":"rest_not_logged_in","message":"You are not currently logged in.","data":{"status":401}}`),
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := NewServer(fixedChecker{bc.d}, nil)
			req := benchRequest()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
