package jwtauth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func cachedVerifier(t testing.TB, f fixture, size int) *Verifier {
	t.Helper()
	cfg := baseConfig(f)
	cfg.CacheSize = size
	cfg.Leeway = 5 * time.Second
	return mustNew(t, cfg)
}

// TestCacheRespectsTime: a cached token gives, for every clock value, the
// same answer as an uncached verification — in particular it still expires
// on time, and a clock before nbf/iat is still refused.
func TestCacheRespectsTime(t *testing.T) {
	f := fixtureFor(t, ES256)
	cached := cachedVerifier(t, f, 0)
	cfg := baseConfig(f)
	cfg.Leeway = 5 * time.Second
	uncached := mustNew(t, cfg)

	tok := craft(t, f.alg, f.signer, header(f.alg, "k1"), claimsJSON(t, map[string]any{
		"nbf": testNow.Add(-time.Minute).Unix(),
		"iat": testNow.Add(-2 * time.Minute).Unix(),
		"exp": testNow.Add(time.Hour).Unix(),
	}))
	if _, err := cached.Verify(tok, testNow); err != nil {
		t.Fatal(err)
	}
	if n := cached.cache.len(); n != 1 {
		t.Fatalf("cache holds %d tokens, want 1", n)
	}

	offsets := []time.Duration{
		-3 * time.Minute, -2*time.Minute - 6*time.Second, -2*time.Minute - 5*time.Second, -61 * time.Second,
		-65 * time.Second, -time.Minute, 0, 59 * time.Minute, time.Hour, time.Hour + 4*time.Second,
		time.Hour + 5*time.Second, time.Hour + time.Minute, 0,
	}
	for _, off := range offsets {
		now := testNow.Add(off)
		_, wantErr := uncached.Verify(tok, now)
		_, gotErr := cached.Verify(tok, now)
		if wantErr != gotErr {
			t.Fatalf("at %v: cached %v, uncached %v", off, gotErr, wantErr)
		}
	}
	// After the expiry the cached entry is gone; the late "0" above
	// re-verified and re-cached it.
	if n := cached.cache.len(); n != 1 {
		t.Fatalf("cache holds %d tokens, want 1", n)
	}
	_, err := cached.Verify(tok, testNow.Add(2*time.Hour))
	assertReason(t, tok, err, errExpired)
	if n := cached.cache.len(); n != 0 {
		t.Fatalf("expired token still cached (%d entries)", n)
	}
}

// TestCacheHitIsUsed: a hit does not re-verify. Proved by planting a
// different result for the token in the cache.
func TestCacheHitIsUsed(t *testing.T) {
	f := fixtureFor(t, EdDSA)
	v := cachedVerifier(t, f, 0)
	tok, err := v.Mint(Claims{Subject: "5", Roles: []string{"editor"}}, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := v.Verify(tok, testNow)
	if err != nil {
		t.Fatal(err)
	}
	e := v.cache.get(tok)
	if e == nil {
		t.Fatal("token not cached")
	}
	e.claims.Login = "from-cache" // test-only: mark the entry
	c2, err := v.Verify(tok, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Login != "" || c2.Login != "from-cache" {
		t.Fatalf("cache not consulted: %q %q", c1.Login, c2.Login)
	}

	// Callers cannot corrupt the cache through the returned claims.
	c2.Subject = "1"
	c2.Roles = append(c2.Roles, "administrator")
	c3, err := v.Verify(tok, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if c3.Subject != "5" || len(c3.Roles) != 1 {
		t.Fatalf("cached claims modified through a returned copy: %+v", c3)
	}
}

// TestCacheBound: the cache never holds more than CacheSize tokens, and
// tokens evicted from it still verify (just slower).
func TestCacheBound(t *testing.T) {
	f := fixtureFor(t, HS256)
	for _, size := range []int{1, 7, 20, 100, 1000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			v := cachedVerifier(t, f, size)
			toks := make([]string, 3*size+10)
			for i := range toks {
				var err error
				if toks[i], err = v.Mint(Claims{UserID: int64(i + 1)}, time.Hour, testNow); err != nil {
					t.Fatal(err)
				}
			}
			for round := 0; round < 2; round++ {
				for i, tok := range toks {
					c, err := v.Verify(tok, testNow)
					if err != nil {
						t.Fatal(err)
					}
					if c.UserID != int64(i+1) {
						t.Fatalf("token %d answered as user %d", i, c.UserID)
					}
					if n := v.cache.len(); n > size {
						t.Fatalf("cache holds %d tokens, bound %d", n, size)
					}
				}
			}
			if n := v.cache.len(); n != size {
				t.Fatalf("cache holds %d tokens after filling, want exactly %d", n, size)
			}
		})
	}
}

// TestCacheEvictsExpiredFirst: when full, an expired entry in the sample
// is the one evicted.
func TestCacheEvictsExpiredFirst(t *testing.T) {
	f := fixtureFor(t, HS256)
	v := cachedVerifier(t, f, 1) // one shard of one entry: the sample is that entry
	short, _ := v.Mint(Claims{UserID: 1}, time.Minute, testNow)
	long, _ := v.Mint(Claims{UserID: 2}, time.Hour, testNow)
	if _, err := v.Verify(short, testNow); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(long, testNow.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if v.cache.get(short) != nil || v.cache.get(long) == nil {
		t.Fatal("expired entry not replaced")
	}
}

// TestCacheEvictsSoonestExpiry: with nothing expired, the sampled entry
// closest to expiry is evicted. A two-entry cache is one shard whose whole
// content is the sample, so the victim is determined; repeating with fresh
// caches makes a random choice fail this test with near certainty.
func TestCacheEvictsSoonestExpiry(t *testing.T) {
	f := fixtureFor(t, HS256)
	for range 20 {
		v := cachedVerifier(t, f, 2)
		soon, _ := v.Mint(Claims{UserID: 1}, time.Hour, testNow)
		late, _ := v.Mint(Claims{UserID: 2}, 2*time.Hour, testNow)
		next, _ := v.Mint(Claims{UserID: 3}, 3*time.Hour, testNow)
		for _, tok := range []string{late, soon, next} {
			if _, err := v.Verify(tok, testNow); err != nil {
				t.Fatal(err)
			}
		}
		if v.cache.get(soon) != nil || v.cache.get(late) == nil || v.cache.get(next) == nil {
			t.Fatal("evicted an entry other than the one expiring soonest")
		}
	}
}

// TestCacheDisabled: a negative CacheSize turns caching off.
func TestCacheDisabled(t *testing.T) {
	f := fixtureFor(t, ES256)
	v := mustNew(t, baseConfig(f))
	if v.cache != nil {
		t.Fatal("cache present with CacheSize -1")
	}
	tok, _ := v.Mint(Claims{UserID: 1}, time.Hour, testNow)
	for range 3 {
		if _, err := v.Verify(tok, testNow); err != nil {
			t.Fatal(err)
		}
	}
	cfg := baseConfig(f)
	cfg.CacheSize = 0
	if v := mustNew(t, cfg); v.cache == nil || v.cache.len() != 0 {
		t.Fatal("CacheSize 0 must mean the default cache")
	}
}

// TestCacheConcurrent hammers a small cache from many goroutines with
// evictions and expiries going on; run with -race.
func TestCacheConcurrent(t *testing.T) {
	f := fixtureFor(t, HS256)
	v := cachedVerifier(t, f, 64)
	toks := make([]string, 200)
	for i := range toks {
		ttl := time.Hour
		if i%4 == 0 {
			ttl = time.Minute
		}
		toks[i], _ = v.Mint(Claims{UserID: int64(i + 1)}, ttl, testNow)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 2000 {
				i := (n*7 + g*13) % len(toks)
				now := testNow.Add(time.Duration(n%3) * time.Minute)
				c, err := v.Verify(toks[i], now)
				expired := i%4 == 0 && n%3 == 2 // ttl 1m + 5s leeway: still valid at +1m
				switch {
				case expired && err == nil:
					errs <- fmt.Errorf("token %d accepted after expiry", i)
					return
				case !expired && err != nil:
					errs <- fmt.Errorf("token %d: %v", i, err)
					return
				case err == nil && c.UserID != int64(i+1):
					errs <- fmt.Errorf("token %d answered as user %d", i, c.UserID)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := v.cache.len(); n > 64 {
		t.Fatalf("cache holds %d tokens, bound 64", n)
	}
}

// TestCacheShards: small caches stay in one shard (so the bound is exact and
// eviction has a sample to choose from), shards double while each keeps at
// least minPerShard entries, up to maxShards, and the per-shard bounds
// always add up to the configured size.
func TestCacheShards(t *testing.T) {
	for _, tc := range []struct{ size, shards int }{
		{1, 1}, {15, 1}, {16, 2}, {31, 2}, {32, 4}, {255, 16}, {256, 32}, {257, 32}, {10000, 32},
	} {
		c := newCache(tc.size)
		if len(c.shards) != tc.shards || c.mask != uint64(tc.shards-1) {
			t.Errorf("size %d: %d shards (mask %#x), want %d", tc.size, len(c.shards), c.mask, tc.shards)
		}
		sum, lo, hi := 0, tc.size, 0
		for i := range c.shards {
			m := c.shards[i].max
			sum += m
			lo, hi = min(lo, m), max(hi, m)
		}
		if sum != tc.size || hi-lo > 1 {
			t.Errorf("size %d: shard bounds sum to %d (smallest %d, largest %d), want the size, spread evenly", tc.size, sum, lo, hi)
		}
	}
}
