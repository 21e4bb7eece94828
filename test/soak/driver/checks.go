package main

import (
	"encoding/base64"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// The demo credentials of config/samples/local (public, DEMO ONLY).
const (
	shopKey         = "wpk_Q811t7tzsgHtvGO40sKeR67JUcNioR7Z_0ZD4R5" // universal key, shop_manager
	janeKey         = "wpk_ZIs67t4U9loGQbsxqyEIGs85LlbDud6m_2DM8wG" // jane's key, editor
	unknownKey      = "wpk_Q811t7tzsgHtvGO40sKeR67JUcNioR7Y_0ZD4R5" // shopKey with one letter changed
	janePassword    = "jane-demo-password"
	janeAppPassword = "abcd EFGH ijkl MNOP qrst UVWX"
	samPassword     = "sam-demo-password"
)

// user is a WordPress user of the sample folder whose tokens the churn
// keeps in the pool.
type user string

const (
	jane user = "jane" // editor
	sam  user = "sam"  // subscriber
)

// token picks what a check presents.
type tokenUse int

const (
	noToken      tokenUse = iota
	liveToken             // a token of the check's user the churn has not revoked
	revokedToken          // a token whose revocation both replicas confirmed
	forgedToken           // a live token with its signature altered
)

// checkKind is one kind of check the load sends: the request, and the
// status each policy version must answer it with (200: allowed).
type checkKind struct {
	name   string
	weight int
	method string
	path   string
	// header and value carry a fixed credential (API key, Basic);
	// with a token use the header is "authorization: Bearer <token>".
	header, value string
	token         tokenUse
	user          user
	// throttled: the check takes a slot of user's login throttle (Basic),
	// so it is sent under that user's throttle semaphore.
	throttled bool
	// authenticated: an allow must carry X-WPAuthz-Identity.
	authenticated bool
	// even and odd are the statuses under even and odd policy versions.
	even, odd int
}

func (k *checkKind) want(version int) int {
	if version%2 == 1 {
		return k.odd
	}
	return k.even
}

func basic(name, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+secret))
}

// checkKinds is the mix. The weights add up to 100.
func checkKinds() []*checkKind {
	const posts, users, settings, orders = "/wp-json/wp/v2/posts", "/wp-json/wp/v2/users", "/wp-json/wp/v2/settings", "/wp-json/wc/v3/orders/1"
	return []*checkKind{
		{name: "anonymous read (allowed)", weight: 15, method: "GET", path: posts, even: 200, odd: 200},
		{name: "anonymous write (401)", weight: 8, method: "POST", path: posts, even: 401, odd: 401},
		{name: "anonymous users (flips)", weight: 8, method: "GET", path: users, even: 404, odd: 200},
		{name: "anonymous settings (disabled)", weight: 4, method: "GET", path: settings, even: 404, odd: 404},
		{name: "JWT editor write (flips)", weight: 15, method: "POST", path: posts, token: liveToken, user: jane, authenticated: true, even: 200, odd: 403},
		{name: "JWT subscriber write (403)", weight: 5, method: "POST", path: posts, token: liveToken, user: sam, authenticated: true, even: 403, odd: 403},
		{name: "JWT revoked (401)", weight: 6, method: "POST", path: posts, token: revokedToken, even: 401, odd: 401},
		{name: "JWT forged signature (401)", weight: 3, method: "POST", path: posts, token: forgedToken, user: jane, even: 401, odd: 401},
		{name: "API key shop orders (allowed)", weight: 8, method: "GET", path: orders, header: "x-api-key", value: shopKey, authenticated: true, even: 200, odd: 200},
		{name: "API key editor orders (403)", weight: 4, method: "GET", path: orders, header: "x-api-key", value: janeKey, authenticated: true, even: 403, odd: 403},
		{name: "API key editor write (flips)", weight: 6, method: "POST", path: posts, header: "x-api-key", value: janeKey, authenticated: true, even: 200, odd: 403},
		{name: "API key unknown (401)", weight: 3, method: "GET", path: orders, header: "x-api-key", value: unknownKey, even: 401, odd: 401},
		{name: "Basic app password (flips)", weight: 6, method: "POST", path: posts, header: "authorization", value: basic("jane", janeAppPassword), user: jane, throttled: true, authenticated: true, even: 200, odd: 403},
		{name: "Basic password editor (flips)", weight: 5, method: "POST", path: posts, header: "authorization", value: basic("jane", janePassword), user: jane, throttled: true, authenticated: true, even: 200, odd: 403},
		{name: "Basic password subscriber (403)", weight: 4, method: "POST", path: posts, header: "authorization", value: basic("sam", samPassword), user: sam, throttled: true, authenticated: true, even: 403, odd: 403},
	}
}

// pick draws a kind by weight.
func pick(kinds []*checkKind, total int, r *rand.Rand) *checkKind {
	n := r.IntN(total)
	for _, k := range kinds {
		if n < k.weight {
			return k
		}
		n -= k.weight
	}
	return kinds[len(kinds)-1]
}

// poolToken is an access token the churn issued. epoch moves whenever the
// churn changes what the token must be answered with (taken out to be
// revoked, confirmed revoked): a check whose token's epoch moved while it
// was in flight was sent inside a revocation window.
type poolToken struct {
	value string
	user  user
	epoch atomic.Int64
}

// family is one login: its access tokens (login, refresh) and its last
// refresh token.
type family struct {
	user    user
	access  []*poolToken
	refresh string
}

// tokenPool is what the checks draw tokens from.
type tokenPool struct {
	mu      sync.RWMutex
	live    map[user][]*family
	revoked []*poolToken // the most recent, oldest first
}

const keepRevoked = 64

func newTokenPool() *tokenPool { return &tokenPool{live: map[user][]*family{}} }

func (p *tokenPool) add(f *family) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live[f.user] = append(p.live[f.user], f)
}

// retireOldest takes u's oldest family out of the live pool when u has
// more than keep, for the churn to revoke.
func (p *tokenPool) retireOldest(u user, keep int) *family {
	p.mu.Lock()
	defer p.mu.Unlock()
	fs := p.live[u]
	if len(fs) <= keep {
		return nil
	}
	f := fs[0]
	p.live[u] = fs[1:]
	for _, t := range f.access {
		t.epoch.Add(1)
	}
	return f
}

// markRevoked puts tokens whose revocation both replicas answer into the
// revoked set.
func (p *tokenPool) markRevoked(ts ...*poolToken) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range ts {
		t.epoch.Add(1)
		p.revoked = append(p.revoked, t)
	}
	if n := len(p.revoked) - keepRevoked; n > 0 {
		p.revoked = append([]*poolToken(nil), p.revoked[n:]...)
	}
}

func (p *tokenPool) pickLive(u user, r *rand.Rand) *poolToken {
	p.mu.RLock()
	defer p.mu.RUnlock()
	fs := p.live[u]
	if len(fs) == 0 {
		return nil
	}
	f := fs[r.IntN(len(fs))]
	return f.access[r.IntN(len(f.access))]
}

func (p *tokenPool) pickRevoked(r *rand.Rand) *poolToken {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.revoked) == 0 {
		return nil
	}
	return p.revoked[r.IntN(len(p.revoked))]
}

// forge alters a token's signature: one character in the middle of the
// last segment is changed, which always changes the decoded bytes (the
// last character may carry only padding bits).
func forge(tok string) string {
	i := len(tok) - 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}
