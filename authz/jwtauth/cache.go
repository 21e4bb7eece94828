package jwtauth

import (
	"hash/maphash"
	"sync"
	"time"
)

// maxShards caps the shard count; 32 RWMutexes are plenty to keep readers
// on different cores off each other's cache lines.
const maxShards = 32

// minPerShard keeps small caches in few shards so the bound stays exact
// and eviction has something to choose from.
const minPerShard = 8

// evictSample is how many entries eviction looks at. Sampling a handful and
// dropping the one closest to expiry approximates "evict the least useful"
// at O(1) cost, without the bookkeeping of an LRU list on the hit path.
const evictSample = 4

// cache maps exact token strings to verified claims. Lookups take one shard
// read lock and allocate nothing; the total size never exceeds the
// configured bound (the per-shard bounds sum to it).
type cache struct {
	seed   maphash.Seed
	mask   uint64
	shards []cacheShard
}

type cacheShard struct {
	mu  sync.RWMutex
	m   map[string]*verified
	max int
	_   [64 - 24 - 8 - 8]byte // pad to a cache line (24-byte RWMutex) so shards do not false-share
}

func newCache(size int) *cache {
	n := 1
	for n*2 <= maxShards && n*2*minPerShard <= size {
		n *= 2
	}
	c := &cache{seed: maphash.MakeSeed(), mask: uint64(n - 1), shards: make([]cacheShard, n)}
	per, extra := size/n, size%n
	for i := range c.shards {
		c.shards[i].max = per
		if i < extra {
			c.shards[i].max++
		}
		c.shards[i].m = make(map[string]*verified)
	}
	return c
}

func (c *cache) shard(token string) *cacheShard {
	return &c.shards[maphash.String(c.seed, token)&c.mask]
}

// get returns the entry for token, or nil. Time checks are the caller's.
func (c *cache) get(token string) *verified {
	s := c.shard(token)
	s.mu.RLock()
	e := s.m[token]
	s.mu.RUnlock()
	return e
}

// remove drops token if it still maps to e (another goroutine may have
// replaced it in between).
func (c *cache) remove(token string, e *verified) {
	s := c.shard(token)
	s.mu.Lock()
	if s.m[token] == e {
		delete(s.m, token)
	}
	s.mu.Unlock()
}

// put stores e, evicting when the shard is full: among a few entries taken
// from Go's randomised map iteration, an expired one if any, else the one
// expiring soonest.
func (c *cache) put(token string, e *verified, now time.Time) {
	s := c.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[token]; !ok && len(s.m) >= s.max {
		var victim string
		var victimExp time.Time
		n := 0
		for k, v := range s.m {
			if n == 0 || v.expiresAt.Before(victimExp) {
				victim, victimExp = k, v.expiresAt
			}
			n++
			if n == evictSample || !now.Before(v.expiresAt) {
				break
			}
		}
		delete(s.m, victim)
	}
	s.m[token] = e
}

// len reports the number of cached tokens (for tests).
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
