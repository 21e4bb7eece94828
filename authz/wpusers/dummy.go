package wpusers

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Equal work. An attempt must cost the same whether the user exists,
// whatever the secret looks like and whatever was asked before, or its
// timing tells who has an account. So the work of an attempt is fixed per
// site, by the hash formats the site's users table holds (HashFormats,
// read from the source, not from requests):
//
//   - a password that WordPress would hash (not empty or "0" once
//     trimmed: wp_authenticate_username_password refuses those before
//     any look-up) is checked once per password format in use: against
//     the user's own hash for its format, against a fixed dummy of that
//     format (same cost) for every other one, and for an unknown user
//     against the dummies only;
//   - an application password (when accepted and in use) costs one
//     BLAKE2b of the input, shared by every "$generic$" hash, and one
//     check per legacy (phpass) application password of the user, or one
//     dummy check when the site has legacy ones and the user none.

// Hash formats whose dummies would cost more than this are left out of
// the fixed work (a table holding one would otherwise make every attempt
// that slow); users with such a hash stay distinguishable, see
// docs/security.md.
const (
	maxDummyBcryptCost = 14 // WordPress uses 10
	maxDummyPHPassLog2 = 18 // WordPress uses 13 ("$P$B")
)

// defaultFormat is the dummy's format for a site with no usable hash in
// its table: WordPress 6.8's default.
const defaultFormat = "$wp$2y$10$"

// HashFormats are the hash formats a site's users table holds (hashFormat
// values: cost included).
type HashFormats struct {
	// Passwords are the formats of user_pass.
	Passwords []string
	// AppPasswords are the formats of application passwords other than
	// "$generic$" (phpass, from before WordPress 6.8).
	AppPasswords []string
}

// workProfile is the fixed work of an attempt at one site.
type workProfile struct {
	formats  []string // password formats, sorted
	dummies  []string // one dummy hash per format
	appDummy string   // a legacy application password dummy; "" when none in use
	fetched  time.Time
}

// cheapEnough reports whether a dummy of format f is bounded in cost.
func cheapEnough(f string) bool {
	switch {
	case f == "md5":
		return true
	case strings.HasPrefix(f, "$wp$2"):
		c, err := strconv.Atoi(f[7:9])
		return err == nil && c <= maxDummyBcryptCost
	case strings.HasPrefix(f, "$2"):
		c, err := strconv.Atoi(f[4:6])
		return err == nil && c <= maxDummyBcryptCost
	case strings.HasPrefix(f, "$P$") || strings.HasPrefix(f, "$H$"):
		c := strings.IndexByte(phpassItoa64, f[3])
		return c >= 7 && c <= maxDummyPHPassLog2
	}
	return false
}

// usable keeps the distinct formats that can be dummied, sorted.
func usable(in []string) []string {
	var out []string
	for _, f := range in {
		if cheapEnough(f) && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// newProfile builds the fixed work for formats, reusing dummies already
// made (a bcrypt dummy takes as long as a check to make).
func (d *Directory) newProfile(f HashFormats, now time.Time) *workProfile {
	p := &workProfile{formats: usable(f.Passwords), fetched: now}
	if len(p.formats) == 0 {
		p.formats = []string{defaultFormat}
	}
	for _, format := range p.formats {
		p.dummies = append(p.dummies, d.dummy(format))
	}
	if apps := usable(f.AppPasswords); len(apps) > 0 {
		p.appDummy = d.dummy(apps[len(apps)-1])
	}
	return p
}

// dummy returns the Directory's dummy hash of format f, made once.
func (d *Directory) dummy(f string) string {
	d.dummyMu.Lock()
	defer d.dummyMu.Unlock()
	h, ok := d.dummies[f]
	if !ok {
		h = makeDummy(f)
		d.dummies[f] = h
	}
	return h
}

// formatsTimeout bounds the formats query: a scan of the users table,
// longer than a look-up on a big site.
const formatsTimeout = 30 * time.Second

// fallbackFormats stand in until the source has answered: WordPress's
// defaults before and since 6.8.
var fallbackFormats = HashFormats{Passwords: []string{defaultFormat, "$P$B"}}

// workProfile returns the site's fixed work. The first attempt waits for
// the formats; later, a profile older than Config.FormatsTTL is served
// while one background read replaces it, so no attempt waits on the scan.
func (d *Directory) workProfile(now time.Time) *workProfile {
	d.mu.Lock()
	p := d.work
	d.mu.Unlock()
	if p == nil {
		v, _, _ := d.flight.Do("formats", func() (any, error) { return d.loadWork(), nil })
		return v.(*workProfile)
	}
	if now.Sub(p.fetched) >= d.cfg.FormatsTTL && d.workLoading.CompareAndSwap(false, true) {
		go func() {
			defer d.workLoading.Store(false)
			d.flight.Do("formats", func() (any, error) { return d.loadWork(), nil })
		}()
	}
	return p
}

// loadWork reads the formats in use and installs their profile. When the
// source fails, the previous profile stays (formats change only when
// WordPress rehashes), or else the fallback formats serve; either way the
// read is tried again a minute later.
func (d *Directory) loadWork() *workProfile {
	ctx, cancel := context.WithTimeout(context.Background(), formatsTimeout)
	defer cancel()
	f, err := d.src.HashFormats(ctx)
	now := d.cfg.Now()
	d.mu.Lock()
	old := d.work
	d.mu.Unlock()
	var np *workProfile
	switch {
	case err == nil:
		np = d.newProfile(f, now)
	case old != nil:
		retry := *old
		np = &retry
	default:
		np = d.newProfile(fallbackFormats, now)
	}
	if err != nil {
		np.fetched = now.Add(time.Minute - d.cfg.FormatsTTL)
	}
	d.mu.Lock()
	d.work = np
	d.mu.Unlock()
	return np
}

// checkPassword checks pw against own (the user's user_pass; "" for an
// unknown user) with the profile's fixed work, and reports whether own
// matched.
func (d *Directory) checkPassword(ctx context.Context, pw, own string, p *workProfile) (bool, error) {
	ownFormat, ranOwn, matched := "", own == "", false
	if own != "" {
		ownFormat = hashFormat(own)
	}
	for i, f := range p.formats {
		h := p.dummies[i]
		isOwn := !ranOwn && f == ownFormat
		if isOwn {
			h, ranOwn = own, true
		}
		ok, err := d.check(ctx, f, func() bool { return CheckPassword(pw, h) })
		if err != nil {
			return false, err
		}
		matched = matched || (isOwn && ok)
	}
	if !ranOwn {
		// A format the profile does not hold (yet, or too costly to
		// dummy): the user's own check comes on top.
		ok, err := d.check(ctx, ownFormat, func() bool { return CheckPassword(pw, own) })
		if err != nil {
			return false, err
		}
		matched = ok
	}
	return matched, nil
}

// checkAppPassword checks an application password (stripped to letters
// and digits) against a user's (nil for an unknown user) with the
// profile's fixed work, and returns the hash that matched ("" for none).
func (d *Directory) checkAppPassword(ctx context.Context, stripped string, aps []AppPassword, p *workProfile) (string, error) {
	// One BLAKE2b serves every "$generic$" hash: it is unsalted.
	d.ran("app:$generic$")
	fast := fastHash(stripped)
	legacy := 0
	for _, ap := range aps {
		if rest, ok := strings.CutPrefix(ap.Hash, "$generic$"); ok {
			if subtle.ConstantTimeCompare([]byte(rest), []byte(fast)) == 1 {
				return ap.Hash, nil
			}
			continue
		}
		legacy++
		ok, err := d.check(ctx, "app:"+hashFormat(ap.Hash), func() bool { return CheckPassword(stripped, ap.Hash) })
		if err != nil {
			return "", err
		}
		if ok {
			return ap.Hash, nil
		}
	}
	if legacy == 0 && p.appDummy != "" {
		if _, err := d.check(ctx, "app:"+hashFormat(p.appDummy), func() bool { return CheckPassword(stripped, p.appDummy) }); err != nil {
			return "", err
		}
	}
	return "", nil
}

// makeDummy returns a hash of a random password in format f (its cost and
// prefix exactly).
func makeDummy(f string) string {
	var secret [16]byte
	rand.Read(secret[:])
	pw := hex.EncodeToString(secret[:])
	switch {
	case f == "md5":
		return strings.Repeat("0", 32)
	case strings.HasPrefix(f, "$P$") || strings.HasPrefix(f, "$H$"):
		var salt [6]byte
		rand.Read(salt[:])
		setting := f[:4] + phpassEncode64(salt[:])[:8]
		if h, ok := phpassCrypt(pw, setting); ok {
			return h
		}
	case strings.HasPrefix(f, "$wp$2"):
		if cost, err := strconv.Atoi(f[7:9]); err == nil {
			if h, err := bcrypt.GenerateFromPassword([]byte(wpPrehash(pw)), cost); err == nil {
				return "$wp" + f[3:6] + string(h[3:]) // PHP's minor letter ($2y$), same algorithm
			}
		}
	case strings.HasPrefix(f, "$2"):
		if cost, err := strconv.Atoi(f[4:6]); err == nil {
			if h, err := bcrypt.GenerateFromPassword([]byte(pw), cost); err == nil {
				return f[:3] + string(h[3:])
			}
		}
	}
	h, _ := bcrypt.GenerateFromPassword([]byte(wpPrehash(pw)), 10)
	return "$wp" + string(h)
}
