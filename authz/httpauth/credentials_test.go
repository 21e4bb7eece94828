package httpauth

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/authztest"
)

// TestHardening5_UnverifiedCredentialsRemovedOverHTTP: Envoy's http_service
// (/check) learns what to remove from x-envoy-auth-headers-to-remove, for
// every request of item 5, with the header names spelled as the client
// spelled them, on the real engine.
func TestHardening5_UnverifiedCredentialsRemovedOverHTTP(t *testing.T) {
	ce := authztest.NewCredentialEngine(t, time.Now())
	srv := start(t, ce.Engine)
	for _, c := range ce.CredentialCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			req, err := http.NewRequest(c.Method, srv.URL+"/check"+c.Target, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = c.Host
			req.Header = http.Header{}
			for k, v := range c.Headers {
				req.Header[k] = []string{v} // as spelled: no canonicalization
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d (%s)", resp.StatusCode, resp.Header.Get("X-WPAuthz-Code"))
			}
			d := &authz.Decision{Allowed: true}
			if v := resp.Header.Get(envoyHeadersToRemove); v != "" {
				d.UpstreamRemove = strings.Split(v, ",")
			}
			if v := resp.Header.Get("X-WPAuthz-Identity"); v != "" {
				d.UpstreamHeaders = []authz.Header{{Name: "X-WPAuthz-Identity", Value: v}}
			}
			authztest.RequireStripped(t, c, d)
		})
	}
}
