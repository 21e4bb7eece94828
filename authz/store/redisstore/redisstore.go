// Package redisstore is the store.Store shared by wpauthz replicas through
// Redis (single node, Sentinel or Cluster: any redis.UniversalClient).
//
// # Keys
//
// Every key starts with Options.Prefix ("wpauthz:" by default). Keys in
// braces share a Cluster hash slot, so each Lua script touches one slot:
//
//	{rev}:jti          sorted set: revoked token ID -> token expiry (ms);
//	                   entries below now are pruned on every revocation
//	{rev}:wm           hash: subject -> watermark (ms, only moves forward)
//	{rev}:wmforget     sorted set: subject -> when the watermark may go
//	{rev}:events       pub/sub channel: JSON batches of revocations
//	{rev}:hb:ID        pub/sub channel: one replica's heartbeats to itself
//	{u:POLICY/SUBJECT}:fams      list: the user's refresh families, oldest
//	                             first (the per-user cap, store.RefreshTokens)
//	{u:POLICY/SUBJECT}:f:FAMILY  hash: revoked flag, fexp, m:ID ->
//	                             "accessJTI|accessExp"
//	{u:POLICY/SUBJECT}:fm:FAMILY list: the family's members, oldest first
//	                             (at most store.MaxSpentPerFamily spent)
//	{u:POLICY/SUBJECT}:rt:ID     hash: one refresh token (rec JSON, exp,
//	                             fexp, spent); expires with its family
//	rtf:ID             string: refresh token ID -> "POLICY/SUBJECT FAMILY"
//	                   (immutable index)
//	fu:FAMILY          string: family -> "POLICY/SUBJECT" (immutable index)
//	thr:KEY            hash: one throttle key's GCRA state (t: theoretical
//	                   arrival time, a: when the next attempt conforms;
//	                   µs), expiring when the bucket is empty (at t)
//
// A user's families share one slot, so that a login enforces the user's
// cap (dropping expired and revoked families, revoking the oldest live
// ones) in one script. Rotation runs as one script on that slot too: it
// checks the spent flag and sets it in the same step, so two presenters of
// one refresh token never both win; the loser sees "spent", which revokes
// the family. The indexes outside the slot are deleted after the script
// (and expire with their family if that fails): an index to a dropped
// record finds nothing.
//
// # Local view
//
// Each Store keeps every live revocation in memory: TokenRevoked and
// RevokedBefore read only that. It is fed by the events channel and, each
// time the subscription is (re)established, by a full read of {rev}:jti
// and {rev}:wm, merged in (never replaced: an entry only leaves the view
// when it expires, so nothing revoked comes back even if Redis lost its
// data; such entries are written back to Redis by the resync).
//
// The view counts as current only while the subscription hears the
// Store's own heartbeats, published through the client that writes: after
// a Sentinel failover the demoted master keeps answering PINGs for up to
// 10s before the sentinels reconfigure it, but no longer gets the writes;
// the missing heartbeats make the Store resubscribe (go-redis then dials
// the new master) and resync within three ping intervals.
//
// # Outage policy
//
// While the subscription is down the view may miss revocations. Stale
// reports it once the view has not been confirmed current for
// Options.MaxStaleness; the engine then fails checks closed (503).
// Everything else (login, refresh, revoke, the login throttles) needs
// Redis and fails with ErrUnavailable (store.ErrUnavailable) while it is
// unreachable; callers answer 503, never "invalid".
//
// "At once" holds for a frozen Redis too: every call on a request path
// runs under Options.CallTimeout (the client must have
// ContextTimeoutEnabled, as NewClient's do, or go-redis waits for its
// socket timeouts instead), and the first call that fails for want of an
// answer marks Redis unreachable: later calls fail without trying until
// the subscription hears this Store's heartbeat again (one is sent at
// once after the failure, then every PingInterval). A request thus waits for Redis at
// most one CallTimeout, however many calls it makes. A connection whose
// call timed out is discarded by go-redis, never reused with a reply
// still pending. Healthy is for readiness.
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wpauthz/wpauthz/authz/store"
)

// ErrUnavailable wraps every error caused by Redis being unreachable; it
// is store.ErrUnavailable.
var ErrUnavailable = store.ErrUnavailable

// DefaultCallTimeout is Options.CallTimeout's default: far above what
// one Store call takes on a healthy Redis (a few round trips of well
// under a millisecond on a LAN; a new TLS connection, a script load or an
// fsync on every write add milliseconds), and short enough that a
// request refused for want of Redis is answered within 250 ms.
const DefaultCallTimeout = 200 * time.Millisecond

// Options configure a Store.
type Options struct {
	// Prefix starts every key and the channel name; "wpauthz:" when empty.
	Prefix string
	// MaxStaleness is how long checks keep answering from the local view
	// after losing Redis (default 30s).
	MaxStaleness time.Duration
	// PingInterval is how often an idle subscription is checked with a
	// heartbeat published through the writing client (default 1s; three
	// missed intervals, at least a second, mean the subscription is dead:
	// Redis down, frozen, or a Sentinel failover left it on the old
	// master).
	PingInterval time.Duration
	// CallTimeout bounds each call on a request path (one Store method,
	// its round trips together); DefaultCallTimeout when 0.
	CallTimeout time.Duration
	// Now is the clock for TTLs and sweeping the view (time.Now when nil).
	Now func() time.Time
	// Logger (slog.Default when nil).
	Logger *slog.Logger
}

// Store is the Redis-backed store.Store.
type Store struct {
	rdb    redis.UniversalClient
	opts   Options
	now    func() time.Time
	log    *slog.Logger
	kJTI   string
	kWM    string
	kWMF   string
	ch     string
	hbCh   string          // this Store's heartbeat channel
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	done   chan struct{}
	psMu   sync.Mutex
	ps     *redis.PubSub

	mu        sync.RWMutex
	revoked   map[string]int64 // jti -> expiry (ms)
	watermark map[string]wm
	lastSweep time.Time

	subs store.Subscribers

	synced atomic.Bool  // subscription up and resync done
	lastOK atomic.Int64 // wall-clock ns when the view was last known current
	// lastFail is when a call last went unanswered (wall-clock ns): Redis
	// counts as unreachable until lastOK passes it.
	lastFail atomic.Int64
	probing  atomic.Bool // a heartbeat sent after a failure is on its way
	resyncs  atomic.Int64
}

type wm struct{ before, forget int64 }

// event is the wire form of one revocation.
type event struct {
	K store.EventKind `json:"k"`
	J string          `json:"j,omitempty"`
	S string          `json:"s,omitempty"`
	F string          `json:"f,omitempty"`
	B int64           `json:"b,omitempty"` // watermark (ms)
	E int64           `json:"e,omitempty"` // jti expiry / watermark forget-at (ms)
}

// New starts a Store on rdb: it subscribes to the events channel and loads
// the revocations in the background. Close stops it (rdb is not closed).
func New(rdb redis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = "wpauthz:"
	}
	if opts.MaxStaleness <= 0 {
		opts.MaxStaleness = 30 * time.Second
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := opts.Prefix
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		rdb: rdb, opts: opts, now: opts.Now, log: opts.Logger,
		kJTI: p + "{rev}:jti", kWM: p + "{rev}:wm", kWMF: p + "{rev}:wmforget", ch: p + "{rev}:events", hbCh: p + "{rev}:hb:" + randomID(),
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
		revoked: map[string]int64{}, watermark: map[string]wm{},
	}
	go s.run(ctx)
	return s
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// WaitSynced waits until the local view has been loaded from Redis.
func (s *Store) WaitSynced(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !s.synced.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Healthy reports whether the subscription is up, the view resynced, a
// message or a heartbeat arrived within the last few ping intervals (at
// least a second), and none of the calls since went unanswered.
func (s *Store) Healthy() bool {
	return s.synced.Load() && s.sinceOK() <= s.deadAfter() && s.lastFail.Load() <= s.lastOK.Load()
}

// Stale reports whether the local view can no longer be trusted: it has
// not been confirmed current (a message or its own heartbeat on the
// subscription) for longer than MaxStaleness, or was never loaded. Cheap: the engine
// calls it on every bearer check.
func (s *Store) Stale() bool { return s.sinceOK() > s.opts.MaxStaleness }

// deadAfter is how long without a message or heartbeat means the
// subscription is dead (three ping intervals, at least a second).
func (s *Store) deadAfter() time.Duration { return max(3*s.opts.PingInterval, time.Second) }

// sinceOK is how long ago the view was last confirmed current (very long
// when never).
func (s *Store) sinceOK() time.Duration {
	last := s.lastOK.Load()
	if last == 0 {
		return time.Duration(1<<63 - 1)
	}
	return time.Since(time.Unix(0, last))
}

// Resyncs counts completed full loads of the view (tests).
func (s *Store) Resyncs() int64 { return s.resyncs.Load() }

func (s *Store) Close() error {
	s.cancel()
	s.psMu.Lock()
	if s.ps != nil {
		_ = s.ps.Close() // unblocks a pending receive
	}
	s.psMu.Unlock()
	<-s.done
	return nil
}

// run keeps the subscription alive. go-redis reconnects a PubSub by
// itself and resubscribes; the server's subscribe confirmation is the cue
// to resync.
func (s *Store) run(ctx context.Context) {
	defer close(s.done)
	ps := s.subscribe(ctx)
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, s.opts.PingInterval)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne interface{ Timeout() bool }
			timeout := errors.As(err, &ne) && ne.Timeout()
			if timeout && s.synced.Load() {
				// Idle: send a heartbeat, unless they stopped coming
				// back (a connection that no longer delivers anything,
				// or one to a node that no longer gets the writes).
				if s.sinceOK() <= s.deadAfter() {
					s.heartbeat(ctx)
					continue
				}
				err = errors.New("no heartbeat came back")
				_ = ps.Close()
				ps = s.subscribe(ctx)
			}
			if s.synced.Swap(false) {
				s.log.Warn("redis subscription lost; serving revocations from the local view", "err", err)
			}
			// Let go-redis reconnect without spinning.
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == s.ch {
				if err := s.resync(ctx); err != nil {
					s.synced.Store(false)
					s.log.Warn("redis resync failed", "err", err)
					_ = ps.Close() // start over: reconnect, resubscribe, resync
					select {
					case <-ctx.Done():
						return
					case <-time.After(200 * time.Millisecond):
					}
					ps = s.subscribe(ctx)
					continue
				}
				s.lastOK.Store(time.Now().UnixNano())
				s.synced.Store(true)
			}
		case *redis.Pong:
			if s.synced.Load() {
				s.lastOK.Store(time.Now().UnixNano())
			}
		case *redis.Message:
			if s.synced.Load() {
				s.lastOK.Store(time.Now().UnixNano())
			}
			if m.Channel == s.hbCh {
				continue
			}
			var evs []event
			if err := json.Unmarshal([]byte(m.Payload), &evs); err != nil {
				s.log.Warn("bad revocation event", "err", err)
				continue
			}
			s.apply(evs)
			s.notify(evs)
		}
	}
}

// heartbeat publishes on this Store's own heartbeat channel through the
// client that writes revocations, so it comes back only if the
// subscription hears what is written: a PING would be answered by a
// demoted Sentinel master that no longer gets the writes, and the view
// would look current while it misses every revocation.
func (s *Store) heartbeat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.PingInterval)
	defer cancel()
	_ = s.rdb.Publish(ctx, s.hbCh, "1").Err() // a missing heartbeat is the signal
}

func (s *Store) subscribe(ctx context.Context) *redis.PubSub {
	s.psMu.Lock()
	defer s.psMu.Unlock()
	s.ps = s.rdb.Subscribe(ctx, s.ch, s.hbCh)
	if ctx.Err() != nil {
		_ = s.ps.Close()
	}
	return s.ps
}

// resync merges Redis's revocations into the view and writes back the
// view's entries Redis lacks (Redis restarted without its data).
func (s *Store) resync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nowMS := s.now().UnixMilli()
	jtis, err := s.rdb.ZRangeByScoreWithScores(ctx, s.kJTI, &redis.ZRangeBy{Min: strconv.FormatInt(nowMS, 10), Max: "+inf"}).Result()
	if err != nil {
		return err
	}
	wms, err := s.rdb.HGetAll(ctx, s.kWM).Result()
	if err != nil {
		return err
	}
	forget, err := s.rdb.ZRangeWithScores(ctx, s.kWMF, 0, -1).Result()
	if err != nil {
		return err
	}
	remoteJTI := make(map[string]int64, len(jtis))
	for _, z := range jtis {
		remoteJTI[z.Member.(string)] = int64(z.Score)
	}
	remoteWM := make(map[string]wm, len(wms))
	for subj, v := range wms {
		b, _ := strconv.ParseInt(v, 10, 64)
		remoteWM[subj] = wm{before: b}
	}
	for _, z := range forget {
		if w, ok := remoteWM[z.Member.(string)]; ok {
			w.forget = int64(z.Score)
			remoteWM[z.Member.(string)] = w
		}
	}
	var missingJTI []any
	var missingWM []event
	var added []event
	s.mu.Lock()
	for j, e := range remoteJTI {
		if old, ok := s.revoked[j]; !ok || old < e {
			if !ok {
				added = append(added, event{K: store.TokenRevoked, J: j, E: e})
			}
			s.revoked[j] = e
		}
	}
	for j, e := range s.revoked {
		if r, ok := remoteJTI[j]; (!ok || r < e) && e >= nowMS {
			missingJTI = append(missingJTI, j, e)
		}
	}
	for subj, r := range remoteWM {
		l := s.watermark[subj]
		if r.before > l.before {
			added = append(added, event{K: store.SubjectRevoked, S: subj, B: r.before})
			l.before = r.before
		}
		l.forget = max(l.forget, r.forget)
		s.watermark[subj] = l
	}
	for subj, l := range s.watermark {
		if r, ok := remoteWM[subj]; (!ok || r.before < l.before) && l.forget >= nowMS {
			missingWM = append(missingWM, event{K: store.SubjectRevoked, S: subj, B: l.before, E: l.forget})
		}
	}
	s.mu.Unlock()
	if len(missingJTI) > 0 {
		args := append([]any{nowMS, s.ch, ""}, missingJTI...)
		if err := revokeTokens.Run(ctx, s.rdb, []string{s.kJTI}, args...).Err(); err != nil {
			return err
		}
	}
	for _, e := range missingWM {
		if err := revokeSubject.Run(ctx, s.rdb, []string{s.kWM, s.kWMF}, e.S, e.B, e.E, nowMS, s.ch, "").Err(); err != nil {
			return err
		}
	}
	s.resyncs.Add(1)
	if len(missingJTI)+len(missingWM) > 0 {
		s.log.Info("redis resync wrote back revocations it lacked", "tokens", len(missingJTI)/2, "subjects", len(missingWM))
	}
	s.notify(added)
	return nil
}

// apply merges events into the view.
func (s *Store) apply(evs []event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	for _, e := range evs {
		switch e.K {
		case store.TokenRevoked:
			if old, ok := s.revoked[e.J]; e.J != "" && (!ok || old < e.E) {
				s.revoked[e.J] = e.E
			}
		case store.SubjectRevoked:
			w := s.watermark[e.S]
			w.before = max(w.before, e.B)
			w.forget = max(w.forget, e.E)
			s.watermark[e.S] = w
		}
	}
}

func (s *Store) sweepLocked() {
	now := s.now()
	if now.Sub(s.lastSweep) < time.Minute {
		return
	}
	s.lastSweep = now
	ms := now.UnixMilli()
	for k, e := range s.revoked {
		if e < ms {
			delete(s.revoked, k)
		}
	}
	for k, w := range s.watermark {
		if w.forget < ms {
			delete(s.watermark, k)
		}
	}
}

func (s *Store) notify(evs []event) {
	out := make([]store.Event, len(evs))
	for i, e := range evs {
		out[i] = store.Event{Kind: e.K, JTI: e.J, Subject: e.S, Family: e.F}
		if e.B != 0 {
			out[i].Before = time.UnixMilli(e.B).UTC()
		}
	}
	s.subs.Publish(out...)
}

func (s *Store) Subscribe(f func(store.Event)) func() { return s.subs.Subscribe(f) }

// call starts a call on a request path: it fails fast while Redis is
// known to be unreachable, and bounds the call by CallTimeout. The caller
// must call cancel.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if !s.Healthy() {
		return ctx, func() {}, fmt.Errorf("%w: not connected", ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	return ctx, cancel, nil
}

// unavailable wraps a failed call's error in ErrUnavailable. A call that
// got no answer (a timeout, a refused or broken connection, not an error
// reply) marks Redis unreachable, so that the rest of the request, and
// the requests after it, fail at once rather than each waiting out its
// timeout. A caller that went away marks nothing.
func (s *Store) unavailable(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		s.lastFail.Store(time.Now().UnixNano())
		s.probe()
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// probe sends a heartbeat at once after a failed call, so that a Redis
// that was only slow for a moment is trusted again as soon as the
// heartbeat comes back, rather than at the next ping interval.
func (s *Store) probe() {
	if !s.probing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.probing.Store(false)
		ctx, cancel := context.WithTimeout(s.ctx, s.opts.CallTimeout)
		defer cancel()
		_ = s.rdb.Publish(ctx, s.hbCh, "1").Err() // a missing heartbeat is the signal
	}()
}

func (s *Store) ttl(until time.Time) int64 {
	d := until.Sub(s.now()).Milliseconds() + 60_000 // a minute for clock skew
	return max(d, 1000)
}

// revokeJTIs revokes tokens (pairs jti, expiry ms) plus extra events in
// one script run, and applies them locally at once.
func (s *Store) revokeJTIs(ctx context.Context, pairs []any, extra ...event) error {
	evs := append([]event(nil), extra...)
	for i := 0; i < len(pairs); i += 2 {
		evs = append(evs, event{K: store.TokenRevoked, J: pairs[i].(string), E: pairs[i+1].(int64)})
	}
	payload, _ := json.Marshal(evs)
	args := append([]any{s.now().UnixMilli(), s.ch, string(payload)}, pairs...)
	if err := revokeTokens.Run(ctx, s.rdb, []string{s.kJTI}, args...).Err(); err != nil {
		return s.unavailable(err)
	}
	s.apply(evs)
	return nil
}

func (s *Store) RevokeToken(ctx context.Context, jti string, expires time.Time) error {
	if jti == "" {
		return nil
	}
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return err
	}
	return s.revokeJTIs(ctx, []any{jti, expires.UnixMilli()})
}

func (s *Store) TokenRevoked(jti string) bool {
	s.mu.RLock()
	_, ok := s.revoked[jti]
	s.mu.RUnlock()
	return ok
}

func (s *Store) RevokeSubject(ctx context.Context, subject string, before time.Time, keep time.Duration) error {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return err
	}
	e := event{K: store.SubjectRevoked, S: subject, B: before.UnixMilli(), E: before.Add(keep).UnixMilli()}
	payload, _ := json.Marshal([]event{e})
	err = revokeSubject.Run(ctx, s.rdb, []string{s.kWM, s.kWMF}, subject, e.B, e.E, s.now().UnixMilli(), s.ch, string(payload)).Err()
	if err != nil {
		return s.unavailable(err)
	}
	s.apply([]event{e})
	return nil
}

func (s *Store) RevokedBefore(subject string) time.Time {
	s.mu.RLock()
	w := s.watermark[subject]
	s.mu.RUnlock()
	if w.before == 0 {
		return time.Time{}
	}
	return time.UnixMilli(w.before).UTC()
}

// userTag is the hash tag of one user's refresh state.
func userTag(policy, subject string) string { return "u:" + policy + "/" + subject }

// base is the prefix of every key in a user's slot.
func (s *Store) base(tag string) string { return s.opts.Prefix + "{" + tag + "}:" }
func (s *Store) rtKey(tag, id string) string {
	return s.base(tag) + "rt:" + id
}
func (s *Store) famKey(tag, family string) string { return s.base(tag) + "f:" + family }
func (s *Store) famsKey(tag string) string        { return s.base(tag) + "fams" }
func (s *Store) membersKey(tag, family string) string {
	return s.base(tag) + "fm:" + family
}
func (s *Store) idxKey(id string) string        { return s.opts.Prefix + "rtf:" + id }
func (s *Store) famIdxKey(family string) string { return s.opts.Prefix + "fu:" + family }

func (s *Store) CreateRefresh(ctx context.Context, rec store.RefreshRecord, maxPerUser int) error {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return err
	}
	tag := userTag(rec.Policy, rec.Subject)
	ttl := s.ttl(rec.FamilyExpiresAt)
	ok, err := s.rdb.SetNX(ctx, s.idxKey(rec.ID), tag+" "+rec.Family, time.Duration(ttl)*time.Millisecond).Result()
	if err != nil {
		return s.unavailable(err)
	}
	if !ok {
		return store.ErrExists
	}
	if err := s.rdb.Set(ctx, s.famIdxKey(rec.Family), tag, time.Duration(ttl)*time.Millisecond).Err(); err != nil {
		s.rdb.Del(ctx, s.idxKey(rec.ID))
		return s.unavailable(err)
	}
	js, _ := json.Marshal(rec)
	res, err := createRefresh.Run(ctx, s.rdb, []string{s.famsKey(tag), s.famKey(tag, rec.Family), s.rtKey(tag, rec.ID), s.membersKey(tag, rec.Family)},
		string(js), rec.ExpiresAt.UnixMilli(), rec.FamilyExpiresAt.UnixMilli(), rec.AccessJTI, rec.AccessExpiresAt.UnixMilli(), rec.ID, ttl,
		rec.IssuedAt.UnixMilli(), maxPerUser, rec.Family, s.base(tag)).Slice()
	if err != nil {
		s.rdb.Del(ctx, s.idxKey(rec.ID))
		return s.unavailable(err)
	}
	switch status, _ := res[0].(string); status {
	case "ok":
	case "famrevoked":
		s.rdb.Del(ctx, s.idxKey(rec.ID))
		return store.ErrFamilyRevoked
	default:
		s.rdb.Del(ctx, s.idxKey(rec.ID))
		return store.ErrExists
	}
	ids, _ := res[1].([]any)
	dropped, _ := res[2].([]any)
	jtis, _ := res[3].([]any)
	if len(dropped) > 0 {
		// Dropped families are gone from the slot; their indexes only
		// point at nothing now.
		_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, id := range ids {
				p.Del(ctx, s.idxKey(id.(string)))
			}
			for _, f := range dropped {
				p.Del(ctx, s.famIdxKey(f.(string)))
			}
			return nil
		})
	}
	revoked, _ := res[4].([]any)
	if len(revoked) == 0 && len(jtis) == 0 {
		return nil
	}
	evs := make([]event, 0, len(revoked))
	for _, f := range revoked {
		evs = append(evs, event{K: store.FamilyRevoked, F: f.(string)})
	}
	return s.revokeJTIs(ctx, pairs(jtis), evs...)
}

// RefreshKeys counts the refresh-token keys under the Store's prefix, by
// kind: "families", "members" (their member lists), "records" (in the
// users' slots), "users" (their family lists), "indexes" (rtf: and fu:). It SCANs every master: for
// tests and admin tools, not for a request path.
func (s *Store) RefreshKeys(ctx context.Context) (map[string]int, error) {
	var mu sync.Mutex
	counts := map[string]int{}
	scan := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, s.opts.Prefix+"*", 1000).Iterator()
		for it.Next(ctx) {
			k := strings.TrimPrefix(it.Val(), s.opts.Prefix)
			kind := ""
			switch {
			case strings.HasPrefix(k, "rtf:"), strings.HasPrefix(k, "fu:"):
				kind = "indexes"
			case !strings.HasPrefix(k, "{u:"):
			case strings.Contains(k, "}:f:"):
				kind = "families"
			case strings.Contains(k, "}:fm:"):
				kind = "members"
			case strings.Contains(k, "}:rt:"):
				kind = "records"
			case strings.HasSuffix(k, "}:fams"):
				kind = "users"
			}
			if kind != "" {
				mu.Lock()
				counts[kind]++
				mu.Unlock()
			}
		}
		return it.Err()
	}
	var err error
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		err = fmt.Errorf("redisstore: cannot scan a %T", s.rdb)
	}
	return counts, s.unavailable(err)
}

// family finds a refresh token's user tag and family.
func (s *Store) family(ctx context.Context, id string) (tag, family string, err error) {
	v, err := s.rdb.Get(ctx, s.idxKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", "", store.ErrNotFound
	}
	if err != nil {
		return "", "", s.unavailable(err)
	}
	i := strings.LastIndexByte(v, ' ')
	if i < 0 {
		// An index of the {f:FAMILY} layout: a token issued before the
		// upgrade, whose state is no longer read.
		return "", "", store.ErrNotFound
	}
	return v[:i], v[i+1:], nil
}

func (s *Store) GetRefresh(ctx context.Context, id string, now time.Time) (store.RefreshRecord, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return store.RefreshRecord{}, err
	}
	tag, fam, err := s.family(ctx, id)
	if err != nil {
		return store.RefreshRecord{}, err
	}
	var fields *redis.SliceCmd
	var frev *redis.StringCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		fields = p.HMGet(ctx, s.rtKey(tag, id), "rec", "spent")
		frev = p.HGet(ctx, s.famKey(tag, fam), "revoked")
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return store.RefreshRecord{}, s.unavailable(err)
	}
	v := fields.Val()
	js, _ := v[0].(string)
	spent, _ := v[1].(string)
	if js == "" || spent == "1" {
		return store.RefreshRecord{}, store.ErrNotFound
	}
	var r store.RefreshRecord
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		return store.RefreshRecord{}, err
	}
	if !now.Before(r.ExpiresAt) || !now.Before(r.FamilyExpiresAt) {
		return store.RefreshRecord{}, store.ErrNotFound
	}
	if frev.Val() != "0" {
		return store.RefreshRecord{}, store.ErrFamilyRevoked
	}
	return r, nil
}

func (s *Store) RotateRefresh(ctx context.Context, id string, next store.RefreshRecord, now time.Time) (store.RefreshRecord, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return store.RefreshRecord{}, err
	}
	tag, fam, err := s.family(ctx, id)
	if err != nil {
		return store.RefreshRecord{}, err
	}
	// The family's bounds come from the spent record; the script checks
	// it, so read it here only to shape next.
	fexpStr, err := s.rdb.HGet(ctx, s.rtKey(tag, id), "fexp").Result()
	if errors.Is(err, redis.Nil) {
		return store.RefreshRecord{}, store.ErrNotFound
	} else if err != nil {
		return store.RefreshRecord{}, s.unavailable(err)
	}
	fexp, _ := strconv.ParseInt(fexpStr, 10, 64)
	next.Family = fam
	next.FamilyExpiresAt = time.UnixMilli(fexp).UTC()
	if next.ExpiresAt.After(next.FamilyExpiresAt) {
		next.ExpiresAt = next.FamilyExpiresAt
	}
	ttl := s.ttl(next.FamilyExpiresAt)
	ok, err := s.rdb.SetNX(ctx, s.idxKey(next.ID), tag+" "+fam, time.Duration(ttl)*time.Millisecond).Result()
	if err != nil {
		return store.RefreshRecord{}, s.unavailable(err)
	}
	if !ok {
		return store.RefreshRecord{}, store.ErrExists
	}
	js, _ := json.Marshal(next)
	res, err := rotateRefresh.Run(ctx, s.rdb, []string{s.rtKey(tag, id), s.famKey(tag, fam), s.rtKey(tag, next.ID), s.membersKey(tag, fam)},
		now.UnixMilli(), string(js), next.ExpiresAt.UnixMilli(), fexp, next.AccessJTI, next.AccessExpiresAt.UnixMilli(), next.ID, ttl,
		store.MaxSpentPerFamily, s.base(tag)).Slice()
	if err != nil {
		s.rdb.Del(ctx, s.idxKey(next.ID))
		return store.RefreshRecord{}, s.unavailable(err)
	}
	status, _ := res[0].(string)
	if status != "ok" {
		s.rdb.Del(ctx, s.idxKey(next.ID))
	}
	switch status {
	case "ok":
		var spent store.RefreshRecord
		js, _ := res[1].(string)
		if err := json.Unmarshal([]byte(js), &spent); err != nil {
			return store.RefreshRecord{}, err
		}
		if err := s.forgetMembers(ctx, res[2:], now); err != nil {
			return store.RefreshRecord{}, err
		}
		return spent, nil
	case "reused":
		if err := s.revokeJTIs(ctx, pairs(res[1:]), event{K: store.FamilyRevoked, F: fam}); err != nil {
			return store.RefreshRecord{}, err
		}
		return store.RefreshRecord{}, store.ErrReused
	case "famrevoked":
		return store.RefreshRecord{}, store.ErrFamilyRevoked
	case "exists":
		return store.RefreshRecord{}, store.ErrExists
	default:
		return store.RefreshRecord{}, store.ErrNotFound
	}
}

// forgetMembers finishes what rotateRefresh started for the members it
// forgot past store.MaxSpentPerFamily (id, "jti|exp" pairs): their
// indexes go, their access tokens still live are revoked.
func (s *Store) forgetMembers(ctx context.Context, v []any, now time.Time) error {
	if len(v) == 0 {
		return nil
	}
	var revoke []any
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i+1 < len(v); i += 2 {
			id, _ := v[i].(string)
			p.Del(ctx, s.idxKey(id))
			m, _ := v[i+1].(string)
			jti, exp, _ := strings.Cut(m, "|")
			if e, err := strconv.ParseInt(exp, 10, 64); err == nil && jti != "" && e > now.UnixMilli() {
				revoke = append(revoke, jti, e)
			}
		}
		return nil
	})
	if len(revoke) == 0 {
		return nil
	}
	return s.revokeJTIs(ctx, revoke)
}

// pairs turns a script's jti, exp list into revokeTokens arguments.
func pairs(v []any) []any {
	out := make([]any, 0, len(v))
	for i := 0; i+1 < len(v); i += 2 {
		j, _ := v[i].(string)
		es, _ := v[i+1].(string)
		e, _ := strconv.ParseInt(es, 10, 64)
		out = append(out, j, e)
	}
	return out
}

func (s *Store) RevokeFamily(ctx context.Context, family string, now time.Time) error {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return err
	}
	tag, err := s.rdb.Get(ctx, s.famIdxKey(family)).Result()
	if errors.Is(err, redis.Nil) {
		return store.ErrNotFound
	}
	if err != nil {
		return s.unavailable(err)
	}
	res, err := revokeFamily.Run(ctx, s.rdb, []string{s.famKey(tag, family)}, now.UnixMilli()).Slice()
	if errors.Is(err, redis.Nil) {
		return store.ErrNotFound
	}
	if err != nil {
		return s.unavailable(err)
	}
	return s.revokeJTIs(ctx, pairs(res), event{K: store.FamilyRevoked, F: family})
}

func (s *Store) thrKey(key string) string { return s.opts.Prefix + "thr:" + key }

// Throttled reads when key's next attempt conforms. Like Attempt it uses
// the caller's now, not Redis's TIME (store.Throttles says why).
func (s *Store) Throttled(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return 0, err
	}
	v, err := s.rdb.HGet(ctx, s.thrKey(key), "a").Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, s.unavailable(err)
	}
	allow, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("throttle %q: bad state %q", key, v)
	}
	if d := allow - now.UnixMicro(); d > 0 {
		return time.Duration(d) * time.Microsecond, nil
	}
	return 0, nil
}

// Attempt takes a slot with one script run on the key's slot (GCRA,
// store.Throttles), at the caller's now: the test and the count are one
// step, whatever the number of replicas.
func (s *Store) Attempt(ctx context.Context, key string, limit store.Limit, now time.Time) (time.Duration, error) {
	if limit.Max <= 0 || limit.Window <= 0 {
		return 0, nil
	}
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return 0, err
	}
	us, err := attempt.Run(ctx, s.rdb, []string{s.thrKey(key)},
		now.UnixMicro(), limit.Interval().Microseconds(), limit.Tolerance().Microseconds()).Int64()
	if err != nil {
		return 0, s.unavailable(err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

func (s *Store) Release(ctx context.Context, key string, limit store.Limit, now time.Time) error {
	if limit.Max <= 0 || limit.Window <= 0 {
		return nil
	}
	ctx, cancel, err := s.call(ctx)
	defer cancel()
	if err != nil {
		return err
	}
	return s.unavailable(release.Run(ctx, s.rdb, []string{s.thrKey(key)},
		now.UnixMicro(), limit.Interval().Microseconds(), limit.Tolerance().Microseconds()).Err())
}

var _ store.Store = (*Store)(nil)
