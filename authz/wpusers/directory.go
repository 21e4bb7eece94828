package wpusers

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Config tunes a Directory. Zero values take the defaults.
type Config struct {
	// TTL is how long a user record is used without asking the source
	// (default 30s).
	TTL time.Duration
	// MaxStale is how long past TTL a record is still served while a
	// background query refreshes it (default 5m). Past it, a look-up waits
	// for the source.
	MaxStale time.Duration
	// CredentialTTL is how long a verified credential skips the hash
	// check (default 10m). It never outlives the hash it was verified
	// against: see the package comment.
	CredentialTTL time.Duration
	// Size bounds each cache (default 10000 entries).
	Size int
	// QueryTimeout bounds one look-up in the source (default 2s).
	QueryTimeout time.Duration
	// MaxConcurrentHashes bounds the bcrypt/phpass checks running at once
	// (default 2×GOMAXPROCS); a caller waits for a slot until its context
	// ends.
	MaxConcurrentHashes int
	// FormatsTTL is how often the hash formats in use are read again
	// from the source (default 10m): they fix the work of every attempt
	// (see dummy.go).
	FormatsTTL time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// Accept says which secrets Authenticate may accept.
type Accept struct {
	// Passwords: the user's WordPress password (wp_authenticate rules).
	Passwords bool
	// AppPasswords: the user's application passwords, when WordPress has
	// them in use.
	AppPasswords bool
}

// How a credential was verified.
const (
	ByPassword    = "password"
	ByAppPassword = "application-password"
)

// Directory is a cached, bounded view of a Source. Safe for concurrent use.
type Directory struct {
	src Source
	cfg Config
	key [32]byte // HMAC key for the credentials cache; never leaves memory

	mu      sync.Mutex
	records map[int64]*recordEntry
	names   map[string]*nameEntry // lower-cased login or email
	creds   map[[32]byte]*credEntry
	inUse   *flagEntry
	work    *workProfile // dummy.go

	workLoading atomic.Bool // a background read of the formats runs

	flight singleflight.Group
	hashes chan struct{}
	// hashChecks counts hash comparisons (tests assert equal work for
	// unknown users and wrong passwords by count, never by time).
	hashChecks atomic.Int64
	// onHash, when set (tests), hears the format of every hash check, so
	// that tests can compare which work each path does.
	onHash func(format string)

	// dummies are the dummy hashes made so far, by format (dummy.go).
	dummyMu sync.Mutex
	dummies map[string]string
}

type recordEntry struct {
	user       *User
	fetched    time.Time
	refreshing bool
}

type nameEntry struct {
	id      int64 // 0: not found
	fetched time.Time
}

type credEntry struct {
	userID  int64
	how     string
	hash    string // the stored hash the secret matched
	expires time.Time
}

type flagEntry struct {
	value   bool
	fetched time.Time
}

// New returns a Directory over src.
func New(src Source, cfg Config) *Directory {
	if cfg.TTL <= 0 {
		cfg.TTL = 30 * time.Second
	}
	if cfg.MaxStale <= 0 {
		cfg.MaxStale = 5 * time.Minute
	}
	if cfg.CredentialTTL <= 0 {
		cfg.CredentialTTL = 10 * time.Minute
	}
	if cfg.Size <= 0 {
		cfg.Size = 10000
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = 2 * time.Second
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.FormatsTTL <= 0 {
		cfg.FormatsTTL = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Directory{
		src: src, cfg: cfg,
		records: map[int64]*recordEntry{}, names: map[string]*nameEntry{}, creds: map[[32]byte]*credEntry{},
		hashes:  make(chan struct{}, cfg.MaxConcurrentHashes),
		dummies: map[string]string{},
	}
	if _, err := rand.Read(d.key[:]); err != nil {
		panic("wpusers: no randomness: " + err.Error())
	}
	return d
}

// Source returns the underlying source.
func (d *Directory) Source() Source { return d.src }

// Close closes the source.
func (d *Directory) Close() error { return d.src.Close() }

// Authenticate checks name (login or email) and secret. It returns the
// user and how the secret matched (ByPassword or ByAppPassword), or
// ErrInvalidCredentials — the same error, after comparable work, whether
// the user is unknown or the secret wrong — or ErrUnavailable.
func (d *Directory) Authenticate(ctx context.Context, name, secret string, accept Accept) (*User, string, error) {
	if !accept.Passwords && !accept.AppPasswords {
		return nil, "", ErrInvalidCredentials
	}
	now := d.cfg.Now()
	ck := d.credKey(name, secret, accept)
	if u, how, ok := d.cachedCredential(ctx, ck, now); ok {
		return u, how, nil
	}

	u, err := d.lookupName(ctx, name, now)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, "", err
	}
	if u != nil && u.Spam {
		u = nil // WordPress refuses them: the same work as for nobody
	}
	// Every attempt does the site's fixed work, whoever asks (dummy.go).
	p := d.workProfile(now)
	inUse := false
	if accept.AppPasswords {
		if inUse, err = d.appPasswordsInUse(ctx, now); err != nil {
			return nil, "", err
		}
	}
	var own string
	var aps []AppPassword
	if u != nil {
		own, aps = u.PassHash, u.AppPasswords
	}
	if pw := NormalizePassword(secret); accept.Passwords && !emptyPHP(pw) {
		ok, err := d.checkPassword(ctx, pw, own, p)
		if err != nil {
			return nil, "", err
		}
		if ok {
			d.putCredential(ck, u.ID, ByPassword, u.PassHash, now)
			return u, ByPassword, nil
		}
	}
	if accept.AppPasswords && inUse {
		h, err := d.checkAppPassword(ctx, StripAppPassword(secret), aps, p)
		if err != nil {
			return nil, "", err
		}
		if h != "" {
			d.putCredential(ck, u.ID, ByAppPassword, h, now)
			return u, ByAppPassword, nil
		}
	}
	return nil, "", ErrInvalidCredentials
}

// User returns a user by ID from the cache (stale records are served
// while a background query refreshes them), else from the source.
func (d *Directory) User(ctx context.Context, id int64) (*User, error) {
	return d.lookupID(ctx, id, d.cfg.Now())
}

// Lookup finds a user by login or email without checking any secret,
// exactly as Authenticate finds them (the login throttle keys its per-user
// bucket on the result; admin tools use it too).
func (d *Directory) Lookup(ctx context.Context, name string) (*User, error) {
	return d.lookupName(ctx, name, d.cfg.Now())
}

// Forget drops everything cached about a user: the record, the names
// pointing at it, and every credential verified for it.
func (d *Directory) Forget(userID int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.records, userID)
	for k, e := range d.names {
		if e.id == userID {
			delete(d.names, k)
		}
	}
	for k, e := range d.creds {
		if e.userID == userID {
			delete(d.creds, k)
		}
	}
}

// ForgetAll empties the caches.
func (d *Directory) ForgetAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.records)
	clear(d.names)
	clear(d.creds)
	d.inUse = nil
}

func (d *Directory) credKey(name, secret string, accept Accept) [32]byte {
	m := hmac.New(sha256.New, d.key[:])
	var flags [1]byte
	if accept.Passwords {
		flags[0] |= 1
	}
	if accept.AppPasswords {
		flags[0] |= 2
	}
	m.Write(flags[:])
	m.Write([]byte(strconv.Itoa(len(name))))
	m.Write([]byte{0})
	m.Write([]byte(name))
	m.Write([]byte(secret))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// cachedCredential answers from the credentials cache when the user's
// current record still holds the hash that was verified.
func (d *Directory) cachedCredential(ctx context.Context, ck [32]byte, now time.Time) (*User, string, bool) {
	d.mu.Lock()
	e := d.creds[ck]
	if e != nil && !now.Before(e.expires) {
		delete(d.creds, ck)
		e = nil
	}
	d.mu.Unlock()
	if e == nil {
		return nil, "", false
	}
	u, err := d.lookupID(ctx, e.userID, now)
	if err != nil || u.Spam {
		return nil, "", false
	}
	switch e.how {
	case ByPassword:
		if u.PassHash == e.hash {
			return u, e.how, true
		}
	case ByAppPassword:
		for _, ap := range u.AppPasswords {
			if ap.Hash == e.hash {
				return u, e.how, true
			}
		}
	}
	d.mu.Lock()
	delete(d.creds, ck)
	d.mu.Unlock()
	return nil, "", false
}

func (d *Directory) putCredential(ck [32]byte, id int64, how, hash string, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.creds) >= d.cfg.Size {
		evict(d.creds, now, func(e *credEntry) bool { return !now.Before(e.expires) })
	}
	d.creds[ck] = &credEntry{userID: id, how: how, hash: hash, expires: now.Add(d.cfg.CredentialTTL)}
}

// evict removes expired entries, or else about a tenth of the map
// (arbitrary ones: map order is random).
func evict[K comparable, V any](m map[K]V, _ time.Time, expired func(V) bool) {
	for k, v := range m {
		if expired(v) {
			delete(m, k)
		}
	}
	if n := len(m) / 10; len(m) > 0 {
		for k := range m {
			if n <= 0 {
				break
			}
			delete(m, k)
			n--
		}
	}
}

// check runs one hash comparison of format under the concurrency bound.
func (d *Directory) check(ctx context.Context, format string, f func() bool) (bool, error) {
	select {
	case d.hashes <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("%w: waiting for a hash slot: %v", ErrUnavailable, ctx.Err())
	}
	defer func() { <-d.hashes }()
	d.ran(format)
	return f(), nil
}

// ran counts one hash computation of format.
func (d *Directory) ran(format string) {
	d.hashChecks.Add(1)
	if d.onHash != nil {
		d.onHash(format)
	}
}

func (d *Directory) lookupName(ctx context.Context, name string, now time.Time) (*User, error) {
	key := strings.ToLower(name)
	d.mu.Lock()
	ne := d.names[key]
	d.mu.Unlock()
	if ne != nil && now.Sub(ne.fetched) < d.cfg.TTL {
		if ne.id == 0 {
			return nil, ErrNotFound
		}
		if u, err := d.lookupID(ctx, ne.id, now); err == nil {
			return u, nil
		}
	}
	v, err, _ := d.flight.Do("n\x00"+key, func() (any, error) {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.QueryTimeout)
		defer cancel()
		u, err := d.src.FindByName(qctx, name)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		fetched := d.cfg.Now()
		d.mu.Lock()
		defer d.mu.Unlock()
		d.bound(fetched)
		if u == nil {
			d.names[key] = &nameEntry{fetched: fetched}
			return (*User)(nil), nil
		}
		d.names[key] = &nameEntry{id: u.ID, fetched: fetched}
		d.records[u.ID] = &recordEntry{user: u, fetched: fetched}
		return u, nil
	})
	if err != nil {
		return nil, err
	}
	if u := v.(*User); u != nil {
		return u, nil
	}
	return nil, ErrNotFound
}

func (d *Directory) lookupID(ctx context.Context, id int64, now time.Time) (*User, error) {
	d.mu.Lock()
	re := d.records[id]
	var u *User
	if re != nil {
		age := now.Sub(re.fetched)
		switch {
		case age < d.cfg.TTL:
			u = re.user
		case age < d.cfg.TTL+d.cfg.MaxStale:
			u = re.user
			if !re.refreshing {
				re.refreshing = true
				go d.refresh(id)
			}
		}
	}
	d.mu.Unlock()
	if u != nil {
		return u, nil
	}
	return d.loadID(ctx, id)
}

func (d *Directory) refresh(id int64) {
	_, _ = d.loadID(context.Background(), id)
	d.mu.Lock()
	if re := d.records[id]; re != nil {
		re.refreshing = false
	}
	d.mu.Unlock()
}

func (d *Directory) loadID(ctx context.Context, id int64) (*User, error) {
	v, err, _ := d.flight.Do("i\x00"+strconv.FormatInt(id, 10), func() (any, error) {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.QueryTimeout)
		defer cancel()
		u, err := d.src.FindByID(qctx, id)
		fetched := d.cfg.Now()
		d.mu.Lock()
		defer d.mu.Unlock()
		if errors.Is(err, ErrNotFound) {
			// Deleted in WordPress: forget it, and what was verified for it.
			delete(d.records, id)
			for k, e := range d.creds {
				if e.userID == id {
					delete(d.creds, k)
				}
			}
			return nil, err
		}
		if err != nil {
			return nil, err
		}
		d.bound(fetched)
		d.records[id] = &recordEntry{user: u, fetched: fetched}
		return u, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*User), nil
}

// bound keeps the record and name caches within Size (d.mu held).
func (d *Directory) bound(now time.Time) {
	limit := d.cfg.TTL + d.cfg.MaxStale
	if len(d.records) >= d.cfg.Size {
		evict(d.records, now, func(e *recordEntry) bool { return now.Sub(e.fetched) >= limit })
	}
	if len(d.names) >= d.cfg.Size {
		evict(d.names, now, func(e *nameEntry) bool { return now.Sub(e.fetched) >= d.cfg.TTL })
	}
}

func (d *Directory) appPasswordsInUse(ctx context.Context, now time.Time) (bool, error) {
	d.mu.Lock()
	e := d.inUse
	d.mu.Unlock()
	if e != nil && now.Sub(e.fetched) < d.cfg.TTL {
		return e.value, nil
	}
	v, err, _ := d.flight.Do("inuse", func() (any, error) {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.QueryTimeout)
		defer cancel()
		in, err := d.src.AppPasswordsInUse(qctx)
		if err != nil {
			return false, err
		}
		d.mu.Lock()
		d.inUse = &flagEntry{value: in, fetched: d.cfg.Now()}
		d.mu.Unlock()
		return in, nil
	})
	if err != nil {
		if e != nil && now.Sub(e.fetched) < d.cfg.TTL+d.cfg.MaxStale {
			return e.value, nil
		}
		return false, err
	}
	return v.(bool), nil
}
