// Package wpusers is wpauthz's view of a WordPress site's users: it reads
// them (read-only) from the site's own MySQL/MariaDB database, or from a
// static list in WordPress's formats for demos and tests, and checks
// passwords and application passwords exactly as WordPress does.
//
// A Directory puts two caches in front of the source so that the
// authorization check path does not wait on the database for users it has
// seen recently:
//
//   - user records (by ID, and login/email to ID), fresh for Config.TTL,
//     then served stale for up to Config.MaxStale while one background
//     query refreshes them;
//   - verified credentials, keyed by an HMAC (with a per-process random
//     key) of the credentials, so that a repeated Basic call skips bcrypt.
//     A hit still requires the user's current record to hold the hash that
//     was verified, so a password changed in WordPress stops working once
//     the record refreshes, even if nobody tells wpauthz.
//
// Both forget a user when Forget is called (wpauthz calls it when that
// user's tokens are revoked).
//
// A miss is I/O: one query for the user (by login or email in one round
// trip), one for their meta, bounded by Config.QueryTimeout, and the
// site's fixed hash work (dummy.go: one check per hash format the users
// table holds, whoever asks; bcrypt costs tens of milliseconds) bounded by
// a semaphore of Config.MaxConcurrentHashes. Errors fail closed:
// ErrUnavailable, never an identity.
package wpusers

import (
	"context"
	"errors"
)

// User is one WordPress user as wpauthz needs it.
type User struct {
	ID          int64
	Login       string
	Email       string
	Nicename    string
	DisplayName string
	// PassHash is user_pass. Secret: never log it.
	PassHash string
	// Roles are the role slugs in the site's {prefix}capabilities that
	// are registered roles, in stored order (WP_User::$roles).
	Roles []string
	// AppPasswords are the user's application passwords (hashes).
	AppPasswords []AppPassword
	// Spam is wp_users.spam on multisite: WordPress refuses such users.
	Spam bool
}

// Errors. ErrNotFound is internal to sources: Directory turns it into
// ErrInvalidCredentials for logins so that nobody learns whether a user
// exists.
var (
	ErrNotFound           = errors.New("wpusers: no such user")
	ErrInvalidCredentials = errors.New("wpusers: invalid credentials")
	ErrUnavailable        = errors.New("wpusers: user directory unavailable")
)

// Source reads users. Implementations must be safe for concurrent use and
// honour ctx's deadline.
type Source interface {
	// FindByName looks a name up as WordPress's login does: by user_login,
	// then, when no login matches and the name looks like an email, by
	// user_email. ErrNotFound when neither matches.
	FindByName(ctx context.Context, name string) (*User, error)
	// FindByID reads one user; ErrNotFound when absent.
	FindByID(ctx context.Context, id int64) (*User, error)
	// AppPasswordsInUse is WordPress's using_application_passwords
	// network option (WP_Application_Passwords::is_in_use): until the
	// first application password is created, WordPress does not check
	// them at all.
	AppPasswordsInUse(ctx context.Context) (bool, error)
	// HashFormats lists the hash formats the site's users table holds
	// (every user's, spam ones included): they fix the work of every
	// login attempt, see dummy.go.
	HashFormats(ctx context.Context) (HashFormats, error)
	// Close releases connections.
	Close() error
}

// looksLikeEmail is the cheap part of WordPress's is_email: it decides
// only whether the email look-up is tried; the database decides whether
// anything matches.
func looksLikeEmail(s string) bool {
	at := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	return len(s) >= 6 && at > 0 && at < len(s)-3
}
