package redisstore_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/store/redisstore"
	"github.com/wpauthz/wpauthz/test/redistest"
)

// BenchmarkThrottle: the cost of a login throttle, in memory and on a
// loopback redis-server: Throttled (every login and cold Basic check asks
// it for two keys) and Fail (every failed one records two). Serial numbers
// are one caller's latency; Parallel is the throughput of 8 concurrent
// callers per core.
//
//	go test -run '^$' -bench Throttle ./authz/store/redisstore/
func BenchmarkThrottle(b *testing.B) {
	srv := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	rs := redisstore.New(rdb, redisstore.Options{Prefix: "wpauthz:bench:"})
	b.Cleanup(func() { rs.Close(); rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rs.WaitSynced(ctx); err != nil {
		b.Fatal(err)
	}
	stores := []struct {
		name string
		s    store.Store
	}{{"memory", store.NewMemory(nil)}, {"redis", rs}}
	lim := store.Limit{Max: 5, Window: 15 * time.Minute}
	const keys = 1024
	names := make([]string, keys)
	for i := range names {
		names[i] = "login:user:default/local:user" + strconv.Itoa(i)
	}
	for _, st := range stores {
		// Half the keys have attempts counted, half none.
		for i := 0; i < keys; i += 2 {
			if _, err := st.s.Attempt(context.Background(), names[i], lim, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(st.name+"/Attempt", func(b *testing.B) {
			ctx := context.Background()
			now := time.Now()
			i := 0
			for b.Loop() {
				if _, err := st.s.Attempt(ctx, names[i%keys], lim, now); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(st.name+"/Throttled", func(b *testing.B) {
			ctx := context.Background()
			now := time.Now()
			i := 0
			for b.Loop() {
				if _, err := st.s.Throttled(ctx, names[i%keys], now); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(st.name+"/AttemptParallel", func(b *testing.B) {
			b.SetParallelism(8) // 8 callers per core in flight
			var n atomic.Int64
			now := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := st.s.Attempt(ctx, names[n.Add(1)%keys], lim, now); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run(st.name+"/ThrottledParallel", func(b *testing.B) {
			b.SetParallelism(8)
			var n atomic.Int64
			now := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := st.s.Throttled(ctx, names[n.Add(1)%keys], now); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
