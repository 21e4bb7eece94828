package envoy

import (
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/authztest"
)

// TestHardening5_UnverifiedCredentialsRemovedOverGRPC: what the engine
// removes reaches Envoy as headers_to_remove, for every request of item 5,
// sent as Envoy sends them (lower-case names) to the real gRPC server on the
// real engine.
func TestHardening5_UnverifiedCredentialsRemovedOverGRPC(t *testing.T) {
	ce := authztest.NewCredentialEngine(t, time.Now())
	ts := start(t, ce.Engine)
	for _, c := range ce.CredentialCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			h := map[string]string{}
			for k, v := range c.Headers {
				h[strings.ToLower(k)] = v
			}
			path := c.Target
			resp, err := ts.client.Check(ctxT(t), checkRequest(&authv3.AttributeContext_HttpRequest{Method: c.Method, Host: c.Host, Path: path, Headers: h}))
			if err != nil {
				t.Fatal(err)
			}
			ok := resp.GetOkResponse()
			if ok == nil {
				t.Fatalf("denied: %v", resp)
			}
			d := &authz.Decision{Allowed: true, UpstreamRemove: ok.GetHeadersToRemove()}
			for _, o := range ok.GetHeaders() {
				d.UpstreamHeaders = append(d.UpstreamHeaders, authz.Header{Name: o.GetHeader().GetKey(), Value: o.GetHeader().GetValue()})
			}
			authztest.RequireStripped(t, c, d)
		})
	}
}
