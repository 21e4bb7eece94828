package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/store/redisstore"
	"github.com/wpauthz/wpauthz/authz/store/storetest"
	"github.com/wpauthz/wpauthz/test/redistest"
)

var base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return base }

// open starts a Store with its own client on addr and waits for its view.
func open(t *testing.T, addr, prefix string, opts redisstore.Options) *redisstore.Store {
	t.Helper()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}, DialTimeout: 500 * time.Millisecond, MaxRetries: 1})
	return openOn(t, rdb, prefix, opts)
}

// openURL starts a Store on a client built as wpauthz serve builds it
// (--redis-url, --redis-mode).
func openURL(t *testing.T, url, mode, prefix string, opts redisstore.Options) *redisstore.Store {
	t.Helper()
	rdb, err := redisstore.NewClient(redisstore.ClientOptions{URL: url, Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	return openOn(t, rdb, prefix, opts)
}

// openOn starts a Store on rdb (closed with it) and waits for its view.
func openOn(t *testing.T, rdb redis.UniversalClient, prefix string, opts redisstore.Options) *redisstore.Store {
	t.Helper()
	opts.Prefix = prefix
	if opts.CallTimeout == 0 {
		// These suites check what the store keeps, not how soon it
		// answers: under -race on a busy machine a call can pass the
		// 200 ms default (the outage tests set theirs).
		opts.CallTimeout = 5 * time.Second
	}
	s := redisstore.New(rdb, opts)
	t.Cleanup(func() { s.Close(); rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitSynced(ctx); err != nil {
		t.Fatalf("store never synced: %v", err)
	}
	return s
}

var seq atomic.Int64

func prefix() string { return fmt.Sprintf("wpauthz:t%d:", seq.Add(1)) }

// keeper lets the conformance suite read throttle keys' TTLs
// (storetest.ThrottleKeeper) through a client of its own.
type keeper struct {
	*redisstore.Store
	rdb     redis.UniversalClient
	prefix  string
	replica func(t *testing.T) *redisstore.Store
}

// Replica implements storetest.Replicator: another store, with its own
// client, on the same server and prefix.
func (k keeper) Replica(t *testing.T) store.Store { return k.replica(t) }

func (k keeper) ThrottleKept(ctx context.Context, key string, _ time.Time) (time.Duration, bool, error) {
	d, err := k.rdb.PTTL(ctx, k.prefix+"thr:"+key).Result()
	switch {
	case err != nil:
		return 0, false, err
	case d == -2: // no key
		return 0, false, nil
	case d < 0:
		return 0, true, fmt.Errorf("throttle key %q has no TTL", key)
	}
	return d, true, nil
}

// RefreshState counts the refresh state under the prefix
// (storetest.RefreshCounter): family hashes and records in the users'
// slots, checking that the indexes outside them hold no more.
func (k keeper) RefreshState(ctx context.Context) (families, records int, err error) {
	c, err := k.RefreshKeys(ctx)
	if err != nil {
		return 0, 0, err
	}
	if c["indexes"] > c["families"]+c["records"] {
		return 0, 0, fmt.Errorf("indexes outlive their state: %v", c)
	}
	return c["families"], c["records"], nil
}

// conformance runs the storetest suite on stores built by mk.
func conformance(t *testing.T, mk func(t *testing.T, prefix string) (*redisstore.Store, redis.UniversalClient)) {
	storetest.Run(t, func(t *testing.T) (store.Store, func()) {
		p := prefix()
		s, rdb := mk(t, p)
		replica := func(t *testing.T) *redisstore.Store { r, _ := mk(t, p); return r }
		return keeper{Store: s, rdb: rdb, prefix: p, replica: replica}, func() {}
	})
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	conformance(t, func(t *testing.T, p string) (*redisstore.Store, redis.UniversalClient) {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
		t.Cleanup(func() { rdb.Close() })
		return open(t, srv.Addr, p, redisstore.Options{Now: fixedClock}), rdb
	})
}

// TestThrottleState: the script keeps full µs precision (epoch µs have
// 16 digits; Lua's tostring keeps 14), and the key goes away by itself
// once the bucket is empty.
func TestThrottleState(t *testing.T) {
	srv := redistest.Start(t)
	p := prefix()
	s := open(t, srv.Addr, p, redisstore.Options{})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 12, 0, 0, 123_457_000, time.UTC) // odd µs
	lim := store.Limit{Max: 3, Window: 3 * time.Second}
	for range 3 {
		if _, err := s.Attempt(ctx, "odd", lim, now); err != nil {
			t.Fatal(err)
		}
	}
	st, err := rdb.HGetAll(ctx, p+"thr:odd").Result()
	if err != nil {
		t.Fatal(err)
	}
	wantTAT := now.Add(3 * time.Second).UnixMicro()
	if st["t"] != strconv.FormatInt(wantTAT, 10) || st["a"] != strconv.FormatInt(wantTAT-2_000_000, 10) {
		t.Fatalf("state %v, want t=%d a=%d", st, wantTAT, wantTAT-2_000_000)
	}
	if w, err := s.Throttled(ctx, "odd", now.Add(time.Microsecond)); err != nil || w != time.Second-time.Microsecond {
		t.Fatalf("Throttled = %v %v", w, err)
	}
	// One failure of 2 per 300ms: kept 150ms, then gone.
	if _, err := s.Attempt(ctx, "short", store.Limit{Max: 2, Window: 300 * time.Millisecond}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if d := rdb.PTTL(ctx, p+"thr:short").Val(); d <= 0 || d > 150*time.Millisecond {
		t.Fatalf("TTL %v, want (0, 150ms]", d)
	}
	if !waitFor(t, 5*time.Second, func() bool { return rdb.Exists(ctx, p+"thr:short").Val() == 0 }) {
		t.Fatal("throttle key never expired")
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Microsecond)
	}
	return true
}

// TestPropagation: revoke on A, denied on B, with the delay measured.
func TestPropagation(t *testing.T) {
	srv := redistest.Start(t)
	p := prefix()
	a := open(t, srv.Addr, p, redisstore.Options{})
	b := open(t, srv.Addr, p, redisstore.Options{})
	propagation(t, a, b, 200)
}

func propagation(t *testing.T, a, b store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	delays := make([]time.Duration, 0, n)
	for i := range n {
		jti := fmt.Sprintf("jti-%d", i)
		if b.TokenRevoked(jti) {
			t.Fatalf("%s revoked early", jti)
		}
		start := time.Now()
		if err := a.RevokeToken(ctx, jti, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if !waitFor(t, 5*time.Second, func() bool { return b.TokenRevoked(jti) }) {
			t.Fatalf("%s not revoked on B within 5s", jti)
		}
		delays = append(delays, time.Since(start))
	}
	// Watermarks travel the same way.
	if err := a.RevokeSubject(ctx, "42", time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if !waitFor(t, 5*time.Second, func() bool { return !b.RevokedBefore("42").IsZero() }) {
		t.Fatal("watermark not propagated")
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("propagation over %d revocations (RevokeToken call on A until B's local view has it): p50 %v, p99 %v, max %v",
		n, delays[n/2], delays[n*99/100], delays[n-1])
}

// TestRotationRaceAcrossReplicas: the same refresh token presented to two
// replicas at once: one wins, the other is reuse, the family dies.
func TestRotationRaceAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	p := prefix()
	a := open(t, srv.Addr, p, redisstore.Options{})
	b := open(t, srv.Addr, p, redisstore.Options{})
	ctx := context.Background()
	now := time.Now()
	mk := func(id string) store.RefreshRecord {
		return store.RefreshRecord{ID: id, Family: "race", Subject: "2", IssuedAt: now, ExpiresAt: now.Add(time.Hour),
			FamilyExpiresAt: now.Add(24 * time.Hour), AccessJTI: "acc-" + id, AccessExpiresAt: now.Add(10 * time.Minute)}
	}
	for round := range 50 {
		fam := fmt.Sprintf("race-%d", round)
		first := mk(fam + "-0")
		first.Family = fam
		if err := a.CreateRefresh(ctx, first, 0); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, s := range []store.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = s.RotateRefresh(ctx, first.ID, mk(fmt.Sprintf("%s-%d", fam, i+1)), time.Now())
			}()
		}
		close(start)
		wg.Wait()
		var wins, reused int
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrReused), errors.Is(err, store.ErrFamilyRevoked):
				reused++
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if wins != 1 || reused != 1 {
			t.Fatalf("round %d: %d winners, %d refused (%v)", round, wins, reused, errs)
		}
		// The family is dead everywhere, with its access tokens.
		for i := range 2 {
			id := fmt.Sprintf("%s-%d", fam, i+1)
			if _, err := b.GetRefresh(ctx, id, time.Now()); err == nil {
				t.Fatalf("round %d: %s alive after reuse", round, id)
			}
		}
		for _, s := range []store.Store{a, b} {
			if !waitFor(t, 5*time.Second, func() bool { return s.TokenRevoked("acc-" + first.ID) }) {
				t.Fatalf("round %d: access token of the family not revoked", round)
			}
		}
	}
}

// TestOutage: Redis killed, then restarted empty.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	p := prefix()
	const bound = 1500 * time.Millisecond
	opts := redisstore.Options{MaxStaleness: bound, PingInterval: 100 * time.Millisecond}
	a := open(t, srv.Addr, p, opts)
	b := open(t, srv.Addr, p, opts)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if err := a.RevokeToken(ctx, "before-outage", exp); err != nil {
		t.Fatal(err)
	}
	if !waitFor(t, 5*time.Second, func() bool { return b.TokenRevoked("before-outage") }) {
		t.Fatal("not propagated")
	}

	srv.Kill()
	killed := time.Now()
	if !waitFor(t, 5*time.Second, func() bool { return !b.Healthy() }) {
		t.Fatal("B still healthy after Redis died")
	}
	t.Logf("outage noticed after %v", time.Since(killed))
	// Inside the bound: checks answer from the local view.
	if b.Stale() && time.Since(killed) < bound-2*opts.PingInterval {
		t.Fatal("stale before the bound")
	}
	if !b.TokenRevoked("before-outage") {
		t.Fatal("local view lost a revocation")
	}
	// Token endpoints' operations fail at once.
	start := time.Now()
	if _, err := b.Attempt(ctx, "user:x", store.Limit{Max: 3, Window: time.Minute}, time.Now()); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Fail during outage: %v", err)
	}
	if _, err := b.RotateRefresh(ctx, "x", store.RefreshRecord{ID: "y"}, time.Now()); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("RotateRefresh during outage: %v", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("failing closed took %v", d)
	}
	// Past the bound: stale, so the engine fails closed.
	if !waitFor(t, 5*time.Second, b.Stale) {
		t.Fatal("never stale")
	}
	t.Logf("stale after %v (bound %v)", time.Since(killed), bound)

	// Redis comes back empty; another path revokes meanwhile (a third
	// store on the fresh server) before A and B reconnect.
	srv.Restart(t)
	c := open(t, srv.Addr, p, redisstore.Options{})
	if err := c.RevokeToken(ctx, "during-outage", exp); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*redisstore.Store{"A": a, "B": b} {
		if !waitFor(t, 10*time.Second, func() bool { return s.Healthy() && !s.Stale() }) {
			t.Fatalf("%s never resynced", name)
		}
		if !waitFor(t, 5*time.Second, func() bool { return s.TokenRevoked("during-outage") }) {
			t.Fatalf("%s missed the revocation made during the outage", name)
		}
		if !s.TokenRevoked("before-outage") {
			t.Fatalf("%s: a revocation came back to life", name)
		}
	}
	// The replicas wrote their view back: a fresh replica sees it too.
	d := open(t, srv.Addr, p, redisstore.Options{})
	if !waitFor(t, 5*time.Second, func() bool { return d.TokenRevoked("before-outage") }) {
		t.Fatal("revocation lost by Redis's restart was not written back")
	}
}

// TestCluster runs the conformance suite and the two-replica revocation
// test on a three-master Redis Cluster.
func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	t.Run("Conformance", func(t *testing.T) {
		conformance(t, func(t *testing.T, p string) (*redisstore.Store, redis.UniversalClient) {
			rdb, err := redisstore.NewClient(redisstore.ClientOptions{URL: cl.URL, Mode: "cluster"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rdb.Close() })
			return openURL(t, cl.URL, "cluster", p, redisstore.Options{Now: fixedClock}), rdb
		})
	})
	t.Run("Propagation", func(t *testing.T) {
		p := prefix()
		propagation(t, openURL(t, cl.URL, "cluster", p, redisstore.Options{}), openURL(t, cl.URL, "cluster", p, redisstore.Options{}), 200)
	})
}

// TestSentinel: one master, one replica, three sentinels; stores built
// from the URL as --redis-mode sentinel builds them. Revocations propagate,
// survive a SENTINEL FAILOVER and the master being killed, and keep
// propagating on the new master; nothing revoked comes back.
func TestSentinel(t *testing.T) {
	top := redistest.StartSentinel(t)
	if _, err := redisstore.NewClient(redisstore.ClientOptions{URL: strings.Split(top.URL, "&master_name")[0], Mode: "sentinel"}); err == nil {
		t.Fatal("a sentinel URL without master_name was accepted")
	}
	t.Run("Conformance", func(t *testing.T) {
		conformance(t, func(t *testing.T, p string) (*redisstore.Store, redis.UniversalClient) {
			rdb, err := redisstore.NewClient(redisstore.ClientOptions{URL: top.URL, Mode: "sentinel"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rdb.Close() })
			return openURL(t, top.URL, "sentinel", p, redisstore.Options{Now: fixedClock}), rdb
		})
	})

	p := prefix()
	opts := redisstore.Options{PingInterval: 100 * time.Millisecond}
	a := openURL(t, top.URL, "sentinel", p, opts)
	b := openURL(t, top.URL, "sentinel", p, opts)
	ctx := context.Background()
	t.Run("Propagation", func(t *testing.T) { propagation(t, a, b, 200) })

	var revoked []string
	revoke := func(t *testing.T, jti string) {
		t.Helper()
		if err := a.RevokeToken(ctx, jti, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("revoke %s: %v", jti, err)
		}
		revoked = append(revoked, jti)
		if !waitFor(t, 5*time.Second, func() bool { return b.TokenRevoked(jti) }) {
			t.Fatalf("%s not revoked on B within 5s", jti)
		}
	}
	// afterFailover: at once, a revocation reaches B, though B's
	// subscription may still sit on the demoted master; both replicas
	// lose nothing, and revocations keep propagating; a replica started
	// now sees everything revoked so far.
	afterFailover := func(t *testing.T, round string, master *redistest.Server) {
		t.Helper()
		if !waitFor(t, 20*time.Second, a.Healthy) {
			t.Fatal("A never recovered after the failover")
		}
		start := time.Now()
		revoke(t, round+"-first")
		t.Logf("%s: first revocation after the promotion reached B in %v", round, time.Since(start))
		for name, s := range map[string]*redisstore.Store{"A": a, "B": b} {
			if !waitFor(t, 20*time.Second, func() bool { return s.Healthy() && !s.Stale() }) {
				t.Fatalf("%s never recovered after the failover", name)
			}
			for _, j := range revoked {
				if !s.TokenRevoked(j) {
					t.Fatalf("%s: %s came back after the failover", name, j)
				}
			}
		}
		for i := range 20 {
			revoke(t, fmt.Sprintf("%s-after-%d", round, i))
		}
		if err := a.RevokeSubject(ctx, "sub-"+round, time.Now(), time.Hour); err != nil {
			t.Fatal(err)
		}
		if !waitFor(t, 5*time.Second, func() bool { return !b.RevokedBefore("sub-" + round).IsZero() }) {
			t.Fatal("watermark not propagated after the failover")
		}
		c := openURL(t, top.URL, "sentinel", p, redisstore.Options{})
		for _, j := range revoked {
			if !waitFor(t, 5*time.Second, func() bool { return c.TokenRevoked(j) }) {
				t.Fatalf("a replica started after the failover misses %s", j)
			}
		}
		// The data is on the node the sentinels name.
		direct := redis.NewClient(&redis.Options{Addr: master.Addr})
		defer direct.Close()
		if n := direct.ZCard(ctx, p+"{rev}:jti").Val(); n < int64(len(revoked)) {
			t.Fatalf("new master %s holds %d revocations, want at least %d", master.Addr, n, len(revoked))
		}
	}

	t.Run("SentinelFailover", func(t *testing.T) {
		for i := range 20 {
			revoke(t, fmt.Sprintf("before-failover-%d", i))
		}
		was := top.Master(t)
		now := top.Failover(t)
		t.Logf("SENTINEL FAILOVER: master %s -> %s", was.Addr, now.Addr)
		afterFailover(t, "failover", now)
		top.WaitReplica(t, was)
	})

	t.Run("MasterKilled", func(t *testing.T) {
		for i := range 20 {
			revoke(t, fmt.Sprintf("before-kill-%d", i))
		}
		killed, now := top.KillMaster(t)
		t.Logf("killed master %s; sentinels promoted %s", killed.Addr, now.Addr)
		afterFailover(t, "kill", now)
		// The killed node comes back empty; the sentinels make it a
		// replica of the new master and it copies everything.
		killed.Restart(t)
		direct := redis.NewClient(&redis.Options{Addr: killed.Addr})
		defer direct.Close()
		if !waitFor(t, 30*time.Second, func() bool { return direct.ZCard(ctx, p+"{rev}:jti").Val() >= int64(len(revoked)) }) {
			t.Fatal("the restarted node never resynced from the new master")
		}
	})
}

// TestFrozenRedis: Redis stops answering without closing connections (a
// partition): the missing pongs make the view unhealthy, then stale.
func TestFrozenRedis(t *testing.T) {
	srv := redistest.Start(t)
	const bound, ping = 2 * time.Second, 100 * time.Millisecond
	s := open(t, srv.Addr, prefix(), redisstore.Options{MaxStaleness: bound, PingInterval: ping})
	srv.Pause()
	frozen := time.Now()
	if !waitFor(t, 5*time.Second, func() bool { return !s.Healthy() }) {
		t.Fatal("still healthy while Redis is frozen")
	}
	t.Logf("unhealthy after %v", time.Since(frozen))
	// Staleness counts from the last pong, up to a ping interval before
	// the freeze.
	if s.Stale() && time.Since(frozen) < bound-2*ping {
		t.Fatal("stale before the bound")
	}
	if !waitFor(t, 5*time.Second, s.Stale) {
		t.Fatal("never stale")
	}
	t.Logf("stale after %v (bound %v)", time.Since(frozen), bound)
	srv.Resume()
	if !waitFor(t, 10*time.Second, func() bool { return s.Healthy() && !s.Stale() }) {
		t.Fatal("never recovered")
	}
}

// TestHardening6_RefreshKeysExpire: every refresh key the scripts write
// (the user's family list, family hashes and member lists, records,
// indexes) carries a TTL no longer than its family's, so nothing outlives
// the state it belongs to even if no later login prunes it.
func TestHardening6_RefreshKeysExpire(t *testing.T) {
	srv := redistest.Start(t)
	p := prefix()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	now := time.Now()
	s := open(t, srv.Addr, p, redisstore.Options{})
	ctx := context.Background()
	const family = 2 * time.Hour
	for i := range 5 {
		r := store.RefreshRecord{ID: fmt.Sprint("k", i), Family: fmt.Sprint("kf", i), Policy: "default/local", Subject: "2",
			IssuedAt: now, ExpiresAt: now.Add(family), FamilyExpiresAt: now.Add(family), AccessJTI: fmt.Sprint("ka", i), AccessExpiresAt: now.Add(time.Minute)}
		if err := s.CreateRefresh(ctx, r, 3); err != nil {
			t.Fatal(err)
		}
	}
	next := store.RefreshRecord{ID: "k4b", Policy: "default/local", Subject: "2", IssuedAt: now, ExpiresAt: now.Add(family), AccessJTI: "ka4b", AccessExpiresAt: now.Add(time.Minute)}
	if _, err := s.RotateRefresh(ctx, "k4", next, now); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, p+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range keys {
		if strings.Contains(k, "{rev}") {
			continue
		}
		n++
		d, err := rdb.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if d <= 0 || d > family+2*time.Minute {
			t.Errorf("%s: TTL %v, want within the family's %v (and a minute for skew)", strings.TrimPrefix(k, p), d, family)
		}
	}
	// Three families (the cap) of one record each, one of them rotated:
	// the user list, 3 family hashes, 3 member lists, 4 records, 4 + 3
	// indexes.
	if n != 1+3+3+4+7 {
		t.Errorf("%d refresh keys: %q", n, keys)
	}
}
