package store

import (
	"container/list"
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultMaxFamilies is the memory store's default bound on refresh-token
// families (all users together).
const DefaultMaxFamilies = 100_000

// MemoryOptions configure a Memory.
type MemoryOptions struct {
	// Now is the clock used to sweep expired entries (time.Now when nil).
	Now func() time.Time
	// MaxFamilies bounds the refresh-token families kept, all users
	// together (DefaultMaxFamilies when 0). At the bound a new login
	// revokes the oldest family of the store: see CreateRefresh.
	MaxFamilies int
	// Logger hears when the bound is reached (discarded when nil).
	Logger *slog.Logger
}

// Memory is an in-process Store: the standalone mode's, and the reference
// the conformance suite is written against. State is lost on restart.
type Memory struct {
	mu        sync.RWMutex
	revoked   map[string]time.Time // jti -> token expiry
	watermark map[string]watermark
	refresh   map[string]*memRefresh
	families  map[string]*memFamily
	users     map[string]*list.List // policy, subject -> their families, oldest first
	order     *list.List            // every family, oldest first
	throttles map[string]*memThrottle
	subs      Subscribers
	lastSweep time.Time
	now       func() time.Time

	maxFamilies  int
	log          *slog.Logger
	capRevoked   int64 // live families revoked by a per-user cap
	fullRevoked  int64 // live families revoked at the store-wide bound
	lastFullWarn time.Time
}

type watermark struct{ before, forgetAt time.Time }

type memRefresh struct {
	rec   RefreshRecord
	spent bool
}

type memFamily struct {
	id      string
	revoked bool
	members []string
	expires time.Time
	user    string        // key of users
	inUser  *list.Element // in users[user]
	inOrder *list.Element // in order
}

// memThrottle is one key's GCRA state (see store.Throttles).
type memThrottle struct {
	tat     time.Time // theoretical arrival time of the next attempt
	allowAt time.Time // when the next attempt conforms: tat - tolerance
}

// NewMemory returns an empty store. now is the clock used to sweep
// expired entries (time.Now when nil).
func NewMemory(now func() time.Time) *Memory { return NewMemoryWith(MemoryOptions{Now: now}) }

// NewMemoryWith returns an empty store configured by o.
func NewMemoryWith(o MemoryOptions) *Memory {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxFamilies <= 0 {
		o.MaxFamilies = DefaultMaxFamilies
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Memory{
		revoked: map[string]time.Time{}, watermark: map[string]watermark{}, refresh: map[string]*memRefresh{},
		families: map[string]*memFamily{}, users: map[string]*list.List{}, order: list.New(),
		throttles: map[string]*memThrottle{}, now: o.Now, maxFamilies: o.MaxFamilies, log: o.Logger,
	}
}

func (m *Memory) Close() error { return nil }

func (m *Memory) Subscribe(f func(Event)) func() { return m.subs.Subscribe(f) }

// sweep drops entries that can no longer matter (m.mu held for writing).
func (m *Memory) sweep() {
	now := m.now()
	if now.Sub(m.lastSweep) < time.Minute {
		return
	}
	m.lastSweep = now
	n := len(m.revoked)
	for k, exp := range m.revoked {
		if now.After(exp) {
			delete(m.revoked, k)
		}
	}
	m.revoked = shrunk(m.revoked, n)
	for k, w := range m.watermark {
		if now.After(w.forgetAt) {
			delete(m.watermark, k)
		}
	}
	for k, r := range m.refresh {
		if now.After(r.rec.ExpiresAt) && now.After(r.rec.FamilyExpiresAt) {
			delete(m.refresh, k)
		}
	}
	nf, nr := len(m.families), len(m.refresh)
	for _, f := range m.families {
		if now.After(f.expires) {
			m.dropFamilyLocked(f)
		}
	}
	m.families, m.refresh = shrunk(m.families, nf), shrunk(m.refresh, nr)
	for k, t := range m.throttles {
		if !now.Before(t.tat) { // at rest: the same as no entry
			delete(m.throttles, k)
		}
	}
}

// shrunk returns m, or a copy of it when a sweep took it from peak entries
// to less than a quarter of that: a Go map keeps the memory of its
// largest size, and a burst (a flood of logins revoking each other's
// access tokens) must not stay allocated once it is forgotten.
func shrunk[K comparable, V any](m map[K]V, peak int) map[K]V {
	if peak < 1024 || len(m) >= peak/4 {
		return m
	}
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (m *Memory) RevokeToken(_ context.Context, jti string, expires time.Time) error {
	if jti == "" {
		return nil
	}
	m.mu.Lock()
	m.sweep()
	if old, ok := m.revoked[jti]; !ok || expires.After(old) {
		m.revoked[jti] = expires
	}
	m.mu.Unlock()
	m.subs.Publish(Event{Kind: TokenRevoked, JTI: jti})
	return nil
}

func (m *Memory) TokenRevoked(jti string) bool {
	m.mu.RLock()
	_, ok := m.revoked[jti]
	m.mu.RUnlock()
	return ok
}

func (m *Memory) RevokeSubject(_ context.Context, subject string, before time.Time, keep time.Duration) error {
	m.mu.Lock()
	m.sweep()
	w := m.watermark[subject]
	if before.After(w.before) {
		w.before = before
	}
	if f := before.Add(keep); f.After(w.forgetAt) {
		w.forgetAt = f
	}
	m.watermark[subject] = w
	m.mu.Unlock()
	m.subs.Publish(Event{Kind: SubjectRevoked, Subject: subject, Before: before})
	return nil
}

func (m *Memory) RevokedBefore(subject string) time.Time {
	m.mu.RLock()
	w := m.watermark[subject]
	m.mu.RUnlock()
	return w.before
}

// CreateRefresh stores the first token of a new family. Before it does,
// the user's (rec.Policy, rec.Subject) expired families are forgotten,
// and the user keeps at most maxPerUser families (0: no cap): revoked
// ones are forgotten first, then the oldest live ones revoked, with their
// access tokens. At the store-wide bound (MemoryOptions.MaxFamilies) the
// oldest family of the store goes the same way, and the store warns: a
// new login always succeeds, at the cost of the oldest one (refusing
// logins instead would let a flood of logins lock every user out for the
// refresh TTL).
func (m *Memory) CreateRefresh(_ context.Context, rec RefreshRecord, maxPerUser int) error {
	m.mu.Lock()
	m.sweep()
	if _, ok := m.refresh[rec.ID]; ok {
		m.mu.Unlock()
		return ErrExists
	}
	var evs []Event
	f := m.families[rec.Family]
	if f == nil {
		now := rec.IssuedAt
		user := rec.Policy + "\x00" + rec.Subject
		fams := m.users[user]
		if fams == nil {
			fams = list.New()
			m.users[user] = fams
		}
		for e := fams.Front(); e != nil; {
			next := e.Next()
			if old := e.Value.(*memFamily); !now.Before(old.expires) {
				m.dropFamilyLocked(old)
			}
			e = next
		}
		for maxPerUser > 0 && fams.Len() >= maxPerUser {
			victim := fams.Front().Value.(*memFamily)
			for e := fams.Front(); e != nil; e = e.Next() {
				if old := e.Value.(*memFamily); old.revoked {
					victim = old
					break
				}
			}
			if !victim.revoked {
				m.capRevoked++
			}
			evs = append(evs, m.evictFamilyLocked(victim, now)...)
		}
		for m.order.Len() >= m.maxFamilies {
			victim := m.order.Front().Value.(*memFamily)
			if !victim.revoked {
				m.fullRevoked++
			}
			evs = append(evs, m.evictFamilyLocked(victim, now)...)
			if t := m.now(); t.Sub(m.lastFullWarn) >= time.Minute {
				m.lastFullWarn = t
				m.log.Warn("refresh-token store full: each new login revokes the oldest one",
					"maxFamilies", m.maxFamilies, "revokedAtBound", m.fullRevoked)
			}
		}
		f = &memFamily{id: rec.Family, expires: rec.FamilyExpiresAt, user: user}
		f.inUser = fams.PushBack(f)
		f.inOrder = m.order.PushBack(f)
		m.families[rec.Family] = f
	}
	if f.revoked {
		m.mu.Unlock()
		return ErrFamilyRevoked
	}
	f.members = append(f.members, rec.ID)
	m.refresh[rec.ID] = &memRefresh{rec: rec}
	m.mu.Unlock()
	m.subs.Publish(evs...)
	return nil
}

// evictFamilyLocked revokes f when it is live (as RevokeFamily) and
// forgets it.
func (m *Memory) evictFamilyLocked(f *memFamily, now time.Time) []Event {
	var evs []Event
	if !f.revoked {
		evs = m.revokeFamilyLocked(f.id, f, now)
	}
	m.dropFamilyLocked(f)
	return evs
}

// dropFamilyLocked forgets a family and its records.
func (m *Memory) dropFamilyLocked(f *memFamily) {
	for _, id := range f.members {
		delete(m.refresh, id)
	}
	delete(m.families, f.id)
	m.order.Remove(f.inOrder)
	if fams := m.users[f.user]; fams != nil {
		fams.Remove(f.inUser)
		if fams.Len() == 0 {
			delete(m.users, f.user)
		}
	}
}

func (m *Memory) GetRefresh(_ context.Context, id string, now time.Time) (RefreshRecord, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r := m.refresh[id]
	if r == nil || r.spent || !now.Before(r.rec.ExpiresAt) || !now.Before(r.rec.FamilyExpiresAt) {
		return RefreshRecord{}, ErrNotFound
	}
	if f := m.families[r.rec.Family]; f == nil || f.revoked {
		return RefreshRecord{}, ErrFamilyRevoked
	}
	return r.rec, nil
}

func (m *Memory) RotateRefresh(ctx context.Context, id string, next RefreshRecord, now time.Time) (RefreshRecord, error) {
	m.mu.Lock()
	m.sweep()
	r := m.refresh[id]
	if r == nil {
		m.mu.Unlock()
		return RefreshRecord{}, ErrNotFound
	}
	f := m.families[r.rec.Family]
	switch {
	case f == nil || f.revoked:
		m.mu.Unlock()
		return RefreshRecord{}, ErrFamilyRevoked
	case r.spent:
		evs := m.revokeFamilyLocked(r.rec.Family, f, now)
		m.mu.Unlock()
		m.subs.Publish(evs...)
		return RefreshRecord{}, ErrReused
	case !now.Before(r.rec.ExpiresAt) || !now.Before(r.rec.FamilyExpiresAt):
		m.mu.Unlock()
		return RefreshRecord{}, ErrNotFound
	}
	if _, dup := m.refresh[next.ID]; dup {
		m.mu.Unlock()
		return RefreshRecord{}, ErrExists
	}
	r.spent = true
	next.Family = r.rec.Family
	next.FamilyExpiresAt = r.rec.FamilyExpiresAt
	if next.ExpiresAt.After(next.FamilyExpiresAt) {
		next.ExpiresAt = next.FamilyExpiresAt
	}
	f.members = append(f.members, next.ID)
	m.refresh[next.ID] = &memRefresh{rec: next}
	var evs []Event
	for len(f.members) > MaxSpentPerFamily+1 {
		if old := m.refresh[f.members[0]]; old != nil {
			if old.rec.AccessJTI != "" && now.Before(old.rec.AccessExpiresAt) {
				m.revoked[old.rec.AccessJTI] = old.rec.AccessExpiresAt
				evs = append(evs, Event{Kind: TokenRevoked, JTI: old.rec.AccessJTI, Subject: old.rec.Subject})
			}
			delete(m.refresh, f.members[0])
		}
		f.members = f.members[1:]
	}
	m.mu.Unlock()
	m.subs.Publish(evs...)
	return r.rec, nil
}

func (m *Memory) RevokeFamily(_ context.Context, family string, now time.Time) error {
	m.mu.Lock()
	f := m.families[family]
	if f == nil {
		m.mu.Unlock()
		return ErrNotFound
	}
	evs := m.revokeFamilyLocked(family, f, now)
	m.mu.Unlock()
	m.subs.Publish(evs...)
	return nil
}

// revokeFamilyLocked marks the family revoked and revokes the access
// tokens issued with its members that are still alive.
func (m *Memory) revokeFamilyLocked(family string, f *memFamily, now time.Time) []Event {
	f.revoked = true
	evs := []Event{{Kind: FamilyRevoked, Family: family}}
	for _, id := range f.members {
		r := m.refresh[id]
		if r == nil || r.rec.AccessJTI == "" || !now.Before(r.rec.AccessExpiresAt) {
			continue
		}
		m.revoked[r.rec.AccessJTI] = r.rec.AccessExpiresAt
		evs = append(evs, Event{Kind: TokenRevoked, JTI: r.rec.AccessJTI, Subject: r.rec.Subject})
	}
	return evs
}

func (m *Memory) Throttled(_ context.Context, key string, now time.Time) (time.Duration, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if t := m.throttles[key]; t != nil && now.Before(t.allowAt) {
		return t.allowAt.Sub(now), nil
	}
	return 0, nil
}

// Attempt is GCRA (store.Throttles) under the lock: a conforming attempt
// pushes the key's TAT one interval past max(TAT, now).
func (m *Memory) Attempt(_ context.Context, key string, limit Limit, now time.Time) (time.Duration, error) {
	if limit.Max <= 0 || limit.Window <= 0 {
		return 0, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep()
	t := m.throttles[key]
	if t == nil {
		t = &memThrottle{}
		m.throttles[key] = t
	}
	tat := t.tat
	if tat.Before(now) {
		tat = now
	}
	if allow := tat.Add(-limit.Tolerance()); now.Before(allow) {
		return allow.Sub(now), nil
	}
	t.tat = tat.Add(limit.Interval())
	t.allowAt = t.tat.Add(-limit.Tolerance())
	return 0, nil
}

func (m *Memory) Release(_ context.Context, key string, limit Limit, now time.Time) error {
	if limit.Max <= 0 || limit.Window <= 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.throttles[key]
	if t == nil {
		return nil
	}
	t.tat = t.tat.Add(-limit.Interval())
	if !now.Before(t.tat) {
		delete(m.throttles, key) // at rest
		return nil
	}
	t.allowAt = t.tat.Add(-limit.Tolerance())
	return nil
}

var _ Store = (*Memory)(nil)

// MemoryStats are counts of what a Memory holds (for metrics and tests).
type MemoryStats struct {
	// Families and RefreshRecords are the refresh-token families and
	// records retained (live, spent or revoked).
	Families, RefreshRecords int
	// RevokedTokens are the revoked access token IDs remembered until
	// the tokens expire.
	RevokedTokens int
	// CapRevoked counts live families revoked because their user reached
	// the per-user cap; FullRevoked those revoked at the store-wide
	// bound (MemoryOptions.MaxFamilies).
	CapRevoked, FullRevoked int64
}

// Stats counts what m holds.
func (m *Memory) Stats() MemoryStats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return MemoryStats{Families: len(m.families), RefreshRecords: len(m.refresh), RevokedTokens: len(m.revoked),
		CapRevoked: m.capRevoked, FullRevoked: m.fullRevoked}
}
