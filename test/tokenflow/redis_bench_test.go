package tokenflow

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/store/redisstore"
	"github.com/wpauthz/wpauthz/authz/tokenservice"
	"github.com/wpauthz/wpauthz/test/redistest"
)

// benchStores are the stores the Redis benchmarks compare: memory, and
// Redis (a real redis-server on loopback) holding 10,000 revocations.
func benchStores(b *testing.B) map[string]func(b *testing.B) store.Store {
	return map[string]func(b *testing.B) store.Store{
		"memory": func(*testing.B) store.Store { return store.NewMemory(nil) },
		"redis": func(b *testing.B) store.Store {
			srv := redistest.Start(b)
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
			s := redisstore.New(rdb, redisstore.Options{})
			b.Cleanup(func() { s.Close(); rdb.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.WaitSynced(ctx); err != nil {
				b.Fatal(err)
			}
			for i := range 10_000 {
				if err := s.RevokeToken(ctx, fmt.Sprintf("bench-%d", i), time.Now().Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			return s
		},
	}
}

func benchEngineWith(b *testing.B, st store.Store) (*authz.Engine, *tokenservice.Service) {
	snap, problems := policy.Compile(bundle(b), policy.Options{})
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	e := authz.New(authz.Options{Store: st})
	e.Swap(snap)
	return e, tokenservice.New(tokenservice.Options{Snapshot: e.Snapshot, Store: st})
}

func post(ts *tokenservice.Service, path, body string) (int, map[string]any) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Host, req.RequestURI = "localhost", path
	req.Header.Set("Content-Type", formType)
	ts.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

// BenchmarkStoreCheckJWT is a bearer check (revocations read locally) with
// the memory store and with Redis attached: the cost must not change.
func BenchmarkStoreCheckJWT(b *testing.B) {
	for name, open := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			e, ts := benchEngineWith(b, open(b))
			st, out := post(ts, "/wp-json/api/v1/token", "username=jane&password="+janePassword)
			if st != 200 {
				b.Fatal(out)
			}
			r := &authz.Request{Method: "POST", Host: "localhost", Target: "/wp-json/wp/v2/posts",
				Headers: map[string]string{"authorization": "Bearer " + out["access_token"].(string)}, RemoteAddr: "192.0.2.1"}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if d := e.Check(context.Background(), r); !d.Allowed {
						b.Fatal(d.Code)
					}
				}
			})
		})
	}
}

// BenchmarkStoreTokenEndpoints is the token endpoints' throughput per
// store: a warm login (credential cache hit, so the store dominates) and a
// refresh rotation.
func BenchmarkStoreTokenEndpoints(b *testing.B) {
	for name, open := range benchStores(b) {
		e, ts := benchEngineWith(b, open(b))
		_ = e
		b.Run(name+"/login-warm", func(b *testing.B) {
			for b.Loop() {
				if st, out := post(ts, "/wp-json/api/v1/token", "username=sam&password="+samPassword); st != 200 {
					b.Fatal(out)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
		})
		b.Run(name+"/refresh", func(b *testing.B) {
			st, out := post(ts, "/wp-json/api/v1/token", "username=sam&password="+samPassword)
			if st != 200 {
				b.Fatal(out)
			}
			refresh := out["refresh_token"].(string)
			for b.Loop() {
				st, out := post(ts, "/wp-json/api/v1/token/refresh", "refresh_token="+refresh)
				if st != 200 {
					b.Fatal(out)
				}
				refresh = out["refresh_token"].(string)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
		})
	}
}
