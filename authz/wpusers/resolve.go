package wpusers

import (
	"context"
	"encoding/hex"
	"strings"
	"unicode"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// Verified returns the user whose credentials name and secret were
// verified recently (the credentials cache, see the package comment) and
// how, without any hash check or source query beyond reading the user's
// current record. ok is false when they were not: the caller must then
// treat the secret as a guess.
func (d *Directory) Verified(ctx context.Context, name, secret string, accept Accept) (u *User, how string, ok bool) {
	if !accept.Passwords && !accept.AppPasswords {
		return nil, "", false
	}
	return d.cachedCredential(ctx, d.credKey(name, secret, accept), d.cfg.Now())
}

// FoldName is the identity of a login name that names no user, for the
// per-user login throttle: the name trimmed of white space, then reduced
// to its primary collation weights (case, accents, width and
// compatibility forms ignored, ignorable characters dropped, "ß" as "ss").
// It is at least as coarse as utf8mb4_unicode_520_ci, WordPress's default
// collation, which is what the database compares logins and emails with
// (TestFoldNameCoarserThanCollation proves it on MariaDB, code point by
// code point), so no spelling the site would equate gets a bucket of its
// own.
func FoldName(name string) string {
	return hex.EncodeToString(collationKey(strings.TrimFunc(name, unicode.IsSpace)))
}

// collationKey is s's primary-strength sort key under the Unicode root
// collation, trailing spaces ignored as a PAD SPACE collation ignores
// them. A collator is not safe for concurrent use and costs a few
// microseconds to make: one per call, next to a hash check that costs
// milliseconds.
func collationKey(s string) []byte {
	c := collate.New(language.Und, collate.Loose)
	var buf collate.Buffer
	return c.KeyFromString(&buf, collationTailoring.Replace(strings.TrimRight(s, " ")))
}

// collationTailoring bridges the collator's tables (Unicode 6.2) and
// the collation's (UCA 5.2): on planes 0 and 1 the real MariaDB shows
// two differences, both where the collation is coarser: it ignores
// U+06DE (an enclosing mark until Unicode 6.1) and equates "₨" with "rs".
var collationTailoring = strings.NewReplacer("\u06de", "", "\u20a8", "rs")

// MayBeAppPassword reports whether secret could be an application
// password: WordPress generates 24 characters of [A-Za-z0-9] (about 143
// bits) and strips everything else from what it is given, so no other
// secret can match one. Such a secret is exempt from the per-user
// lockout when it is checked as an application password only.
func MayBeAppPassword(secret string) bool {
	return len(StripAppPassword(secret)) == appPasswordLength
}

// appPasswordLength is WP_Application_Passwords::PW_LENGTH.
const appPasswordLength = 24
