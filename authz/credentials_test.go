package authz_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/authztest"
)

// TestHardening5_UnverifiedCredentialsNeverReachWordPress: with a custom
// credential header, a client's Authorization (any scheme), an API-key
// header the policy does not use, and every spelling of a credential or
// identity header that PHP reads under the same $_SERVER key are removed
// from every forwarded request, allowed or anonymous, REST or not.
func TestHardening5_UnverifiedCredentialsNeverReachWordPress(t *testing.T) {
	ce := authztest.NewCredentialEngine(t, time.Now())
	cases := ce.CredentialCases(t)
	// Twice: anonymous decisions are shared per policy after the first.
	for _, round := range []string{"first", "again"} {
		for _, c := range cases {
			t.Run(round+"/"+c.Name, func(t *testing.T) {
				h := map[string]string{}
				for k, v := range c.Headers {
					h[strings.ToLower(k)] = v
				}
				d := ce.Engine.Check(context.Background(), &authz.Request{Method: c.Method, Host: c.Host, Target: c.Target, Headers: h, RemoteAddr: "203.0.113.9"})
				authztest.RequireStripped(t, c, d)
			})
		}
	}
}
