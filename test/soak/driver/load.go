package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// tally counts one check kind's outcomes.
type tally struct {
	total        atomic.Int64
	right        atomic.Int64 // the decision of the version in force, outside any window
	reloadWindow atomic.Int64 // right for the old or the new version, sent around a reload
	revokeWindow atomic.Int64 // sent while the token's revocation was under way
	wrong        atomic.Int64
	errors       atomic.Int64
}

// failures keeps the first few problems, for the report.
type failures struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (f *failures) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if len(f.first) < 20 {
		f.first = append(f.first, time.Now().UTC().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
	}
}

func (f *failures) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// judge says whether got is a right answer for k: wants are the statuses
// the versions the request may have met decide (versions), revoking
// whether the token's revocation was under way while it was in flight
// (then 401 is right too).
func judge(k *checkKind, got answer, versions []int, revoking bool) bool {
	ok := false
	for _, v := range versions {
		ok = ok || got.status == k.want(v)
	}
	if revoking && got.status == 401 {
		ok = true
	}
	if ok && got.status == 200 && k.authenticated && !got.identity {
		return false // allowed without telling WordPress who it is
	}
	return ok
}

// load sends the mixed checks at a steady total rate.
type load struct {
	replicas []*replica
	kinds    []*checkKind
	weights  int
	tallies  map[*checkKind]*tally
	byPath   [2]atomic.Int64 // gRPC, HTTP
	latency  [2]latencies    // gRPC, HTTP: send to answer, as the client sees it
	pool     *tokenPool
	hist     *history
	throttle map[user]chan struct{}
	fail     *failures
	behind   atomic.Int64 // sends more than a second late (the machine could not keep up)
}

func newLoad(replicas []*replica, pool *tokenPool, hist *history, throttle map[user]chan struct{}, fail *failures) *load {
	l := &load{replicas: replicas, kinds: checkKinds(), tallies: map[*checkKind]*tally{}, pool: pool, hist: hist, throttle: throttle, fail: fail}
	for _, k := range l.kinds {
		l.weights += k.weight
		l.tallies[k] = &tally{}
	}
	return l
}

// run sends rate checks per second with workers senders until ctx ends.
func (l *load) run(ctx context.Context, rate float64, workers int) {
	var wg sync.WaitGroup
	interval := time.Duration(float64(workers) / rate * float64(time.Second))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			// Spread the workers' schedules over one interval.
			next := time.Now().Add(time.Duration(r.Int64N(int64(interval))))
			for ctx.Err() == nil {
				if d := time.Until(next); d > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
				} else if -d > time.Second {
					l.behind.Add(1)
					next = time.Now()
				}
				next = next.Add(interval)
				l.one(ctx, r)
			}
		}()
	}
	wg.Wait()
}

// one sends one check and judges its answer.
func (l *load) one(ctx context.Context, r *rand.Rand) {
	k := pick(l.kinds, l.weights, r)
	rep := l.replicas[r.IntN(len(l.replicas))]
	headers := map[string]string{}
	if k.header != "" {
		headers[k.header] = k.value
	}
	var tok *poolToken
	var epoch int64
	switch k.token {
	case liveToken, forgedToken:
		tok = l.pool.pickLive(k.user, r)
	case revokedToken:
		tok = l.pool.pickRevoked(r)
	}
	if k.token != noToken {
		if tok == nil {
			return // the churn has not filled the pool yet
		}
		epoch = tok.epoch.Load()
		v := tok.value
		if k.token == forgedToken {
			v = forge(v)
		}
		headers["authorization"] = "Bearer " + v
	}
	if k.throttled {
		select {
		case l.throttle[k.user] <- struct{}{}:
			defer func() { <-l.throttle[k.user] }()
		case <-ctx.Done():
			return
		}
	}
	grpc := r.IntN(2) == 0
	sent := time.Now()
	var got answer
	var err error
	if grpc {
		got, err = rep.checkGRPC(ctx, k.method, k.path, headers)
	} else {
		got, err = rep.checkHTTP(ctx, k.method, k.path, headers)
	}
	done := time.Now()
	if ctx.Err() != nil {
		return // the run ended while the check was in flight: not counted
	}
	adapter, path := "HTTP", 1
	if grpc {
		adapter, path = "gRPC", 0
	}
	l.byPath[path].Add(1)
	if err == nil {
		l.latency[path].add(done.Sub(sent))
	}
	t := l.tallies[k]
	t.total.Add(1)
	if err != nil {
		t.errors.Add(1)
		l.fail.add("%s %s on %s: %s: error: %v", adapter, k.name, rep.name, k.path, err)
		return
	}
	versions, inReload := l.hist.versions(sent, done)
	revoking := tok != nil && k.token == liveToken && tok.epoch.Load() != epoch
	if !judge(k, got, versions, revoking) {
		t.wrong.Add(1)
		wants := []int{}
		for _, v := range versions {
			if !slices.Contains(wants, k.want(v)) {
				wants = append(wants, k.want(v))
			}
		}
		l.fail.add("%s %s on %s: got %d (identity %v), want %v (policy versions %v, revocation under way %v)",
			adapter, k.name, rep.name, got.status, got.identity, wants, versions, revoking)
		return
	}
	switch {
	case revoking:
		t.revokeWindow.Add(1)
	case inReload:
		t.reloadWindow.Add(1)
	default:
		t.right.Add(1)
	}
}
