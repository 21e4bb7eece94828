package tokenflow

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/tokenservice"
)

func benchEngine(b *testing.B) (*authz.Engine, *tokenservice.Service) {
	snap, problems := policy.Compile(bundle(b), policy.Options{})
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	st := store.NewMemory(nil)
	e := authz.New(authz.Options{Store: st})
	e.Swap(snap)
	ts := tokenservice.New(tokenservice.Options{Snapshot: e.Snapshot, Store: st})
	return e, ts
}

// BenchmarkCheck compares the check path (decision and identity
// assertion) for Basic with a warm credential cache against a JWT.
func BenchmarkCheck(b *testing.B) {
	e, ts := benchEngine(b)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/wp-json/api/v1/token", strings.NewReader("username=jane&password="+janePassword))
	req.Host, req.RequestURI = "localhost", "/wp-json/api/v1/token"
	req.Header.Set("Content-Type", formType)
	ts.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatal(rec.Body.String())
	}
	tok := strings.Split(strings.Split(rec.Body.String(), `"access_token":"`)[1], `"`)[0]
	for name, auth := range map[string]string{
		"Basic-password-warm":     "Basic " + base64.StdEncoding.EncodeToString([]byte("jane:"+janePassword)),
		"Basic-app-password-warm": "Basic " + base64.StdEncoding.EncodeToString([]byte("jane:"+janeApp)),
		"JWT-ES256":               "Bearer " + tok,
	} {
		r := &authz.Request{Method: "POST", Host: "localhost", Target: "/wp-json/wp/v2/posts", Headers: map[string]string{"authorization": auth}, RemoteAddr: "192.0.2.1"}
		if d := e.Check(context.Background(), r); !d.Allowed {
			b.Fatalf("%s: %d %s", name, d.Status, d.Body)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d := e.Check(context.Background(), r); !d.Allowed {
					b.Fatal(d.Code)
				}
			}
		})
	}
}

// BenchmarkLogin is the login endpoint's throughput per hash format: jane's
// password is phpass (WordPress before 6.8), sam's "$wp$" bcrypt cost 10
// (6.8+). Throttling is keyed per user and client; successes reset it.
//
// "cold" forgets the verified credentials before every login, so each one
// runs the hash check: the cost of a first login. "warm" is a repeated
// login of the same credentials within the credential cache's lifetime.
func BenchmarkLogin(b *testing.B) {
	e, ts := benchEngine(b)
	users := e.Snapshot().Policies()[0].Users
	for name, creds := range map[string]string{
		"phpass-cold":    "username=jane&password=" + janePassword,
		"wp-bcrypt-cold": "username=sam&password=" + samPassword,
		"wp-bcrypt-warm": "username=sam&password=" + samPassword,
	} {
		cold := strings.HasSuffix(name, "-cold")
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if cold {
					users.ForgetAll()
				}
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("POST", "/wp-json/api/v1/token", strings.NewReader(creds))
				req.Host, req.RequestURI = "localhost", "/wp-json/api/v1/token"
				req.Header.Set("Content-Type", formType)
				ts.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Body.String())
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
		})
	}
}
