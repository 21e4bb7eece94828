package wpusers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// mixedUsers is a site in the middle of WordPress 6.8's migration: bcrypt
// ("$wp$") users, a phpass user who has not logged in since, application
// passwords in 6.8's "$generic$" format and one from before 6.8 (phpass).
// bcrypt runs at cost 4 so that the test is quick; the format (and so the
// work compared) includes the cost.
func mixedUsers(t *testing.T) string {
	t.Helper()
	wp, err := bcrypt.GenerateFromPassword([]byte(wpPrehash("admin-password")), 4)
	if err != nil {
		t.Fatal(err)
	}
	legacyApp, ok := phpassCrypt("abcdEFGHijklMNOPqrstUVWX", "$P$B12345678")
	if !ok {
		t.Fatal("phpass")
	}
	return fmt.Sprintf(`
usingApplicationPasswords: true
users:
  - {id: 1, login: admin, pass: '$wp%s'}
  - {id: 2, login: jane, pass: '$P$BENjqcPbzYDNUxRA8OEPipqowgTNSh/',
     applicationPasswords: [{name: laptop, hash: '$generic$VbqhfQOT_VfaFmt_p27nedVhgUdnEi-dOUZamH4W'}]}
  - {id: 3, login: sam, pass: '$wp%s'}
  - {id: 4, login: lee, pass: '$wp%s',
     applicationPasswords: [{name: old, hash: '%s'}]}
`, wp, wp, wp, legacyApp)
}

// work records the formats of the hash checks one Authenticate runs.
type work struct {
	mu   sync.Mutex
	runs []string
}

func (w *work) hear(format string) { w.mu.Lock(); w.runs = append(w.runs, format); w.mu.Unlock() }

func (w *work) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := slices.Clone(w.runs)
	slices.Sort(out)
	w.runs = nil
	return out
}

// TestHardening4_EqualWorkForUnknownUsers: whatever the user's existence,
// the password's shape and the requests before, a failed attempt runs the
// same hash checks, format for format (compared by the formats run, never
// by timing). On the code before the fix an unknown user ran a dummy where
// a real user skipped the hash ("0", spaces), ran a bcrypt where a real
// user ran one BLAKE2b (application passwords only), and the dummy's
// format was the last real user's.
func TestHardening4_EqualWorkForUnknownUsers(t *testing.T) {
	users := mixedUsers(t)
	ctx := context.Background()
	secrets := map[string]string{
		"wrong":        "not-the-password",
		"empty":        "",
		"zero":         "0",
		"spaces":       "   ",
		"zero-spaced":  " 0\t",
		"app-shape":    "abcd EFGH ijkl MNOP qrst UVWx",
		"long":         string(make([]byte, MaxPasswordLength+1)),
		"app-stripped": "!!!",
	}
	accepts := map[string]Accept{
		"both":      both,
		"passwords": {Passwords: true},
		"apps":      {AppPasswords: true},
	}
	before := []string{"", "jane", "admin"} // nothing, a phpass user, a bcrypt user
	for sname, secret := range secrets {
		for aname, accept := range accepts {
			for _, prev := range before {
				t.Run(sname+"/"+aname+"/after-"+prev, func(t *testing.T) {
					s, err := ParseStatic([]byte(users))
					if err != nil {
						t.Fatal(err)
					}
					d := New(s, Config{})
					w := &work{}
					d.onHash = w.hear
					attempt := func(name string) []string {
						t.Helper()
						if _, _, err := d.Authenticate(ctx, name, secret, accept); !errors.Is(err, ErrInvalidCredentials) {
							t.Fatalf("%s: %v", name, err)
						}
						return w.take()
					}
					if prev != "" {
						attempt(prev)
					}
					unknown := attempt("nobody")
					for _, name := range []string{"admin", "jane", "sam", "lee", "nobody@example.com"} {
						if got := attempt(name); !slices.Equal(got, unknown) {
							t.Errorf("%s ran %q, an unknown user %q", name, got, unknown)
						}
						if prev != "" {
							attempt(prev)
						}
						if got := attempt("nobody"); !slices.Equal(got, unknown) {
							t.Errorf("unknown user after %s ran %q, before %q", name, got, unknown)
						}
					}
				})
			}
		}
	}
}

// formatSource serves the demo users with hash formats the test sets.
type formatSource struct {
	Source
	mu      sync.Mutex
	formats HashFormats
	err     error
}

func (f *formatSource) HashFormats(context.Context) (HashFormats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.formats, f.err
}

func (f *formatSource) set(formats HashFormats, err error) {
	f.mu.Lock()
	f.formats, f.err = formats, err
	f.mu.Unlock()
}

// TestWorkProfileRefreshes: the formats are read from the source, not
// from requests: at the first attempt (WordPress's defaults stand in
// while the source fails, tried again a minute later), then again in
// the background once Config.FormatsTTL has passed, with no attempt
// waiting for the read.
func TestWorkProfileRefreshes(t *testing.T) {
	s, err := ParseStatic([]byte(demoUsers))
	if err != nil {
		t.Fatal(err)
	}
	src := &formatSource{Source: s}
	src.set(HashFormats{}, ErrUnavailable)
	clk := &clock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	d := New(src, Config{FormatsTTL: 10 * time.Minute, Now: clk.now})
	w := &work{}
	d.onHash = w.hear
	ctx := context.Background()
	formats := func() []string {
		t.Helper()
		if _, _, err := d.Authenticate(ctx, "nobody", "pw", Accept{Passwords: true}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
		return w.take()
	}
	if got := formats(); !slices.Equal(got, []string{"$P$B", "$wp$2y$10$"}) {
		t.Fatalf("while the source fails: %q, want WordPress's defaults", got)
	}
	src.set(HashFormats{Passwords: []string{"$P$B", "md5"}}, nil)
	clk.add(61 * time.Second)
	formats() // served the fallback, starts the read
	waitFormats(t, d, []string{"$P$B", "md5"})
	src.set(HashFormats{Passwords: []string{"md5"}}, nil)
	clk.add(5 * time.Minute)
	if got := formats(); !slices.Equal(got, []string{"$P$B", "md5"}) {
		t.Fatalf("within FormatsTTL: %q", got)
	}
	clk.add(6 * time.Minute)
	formats()
	waitFormats(t, d, []string{"md5"})
	if got := formats(); !slices.Equal(got, []string{"md5"}) {
		t.Fatalf("after the refresh: %q", got)
	}
}

func waitFormats(t *testing.T, d *Directory, want []string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d.mu.Lock()
		got := d.work.formats
		d.mu.Unlock()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("formats %q, want %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
