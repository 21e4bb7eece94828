package wpusers

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const demoUsers = `
usingApplicationPasswords: true
users:
  - id: 2
    login: jane
    email: jane@example.com
    pass: '$P$BWv3GwTweNCti23DjYf335p9ztpkQj.'
    roles: [editor]
    applicationPasswords:
      - {name: laptop, hash: '$generic$VbqhfQOT_VfaFmt_p27nedVhgUdnEi-dOUZamH4W'}
  - id: 3
    login: sam
    email: sam@example.com
    pass: '$P$BWv3GwTweNCti23DjYf335p9ztpkQj.'
    roles: [subscriber]
`

// counting wraps a Source, counts calls and can fail or change users.
type counting struct {
	Source
	mu     sync.Mutex
	calls  atomic.Int64
	fail   bool
	change func(*User)
}

func (c *counting) FindByName(ctx context.Context, n string) (*User, error) {
	c.calls.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return nil, ErrUnavailable
	}
	u, err := c.Source.FindByName(ctx, n)
	if err == nil && c.change != nil {
		c.change(u)
	}
	return u, err
}

func (c *counting) FindByID(ctx context.Context, id int64) (*User, error) {
	c.calls.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return nil, ErrUnavailable
	}
	u, err := c.Source.FindByID(ctx, id)
	if err == nil && c.change != nil {
		c.change(u)
	}
	return u, err
}

func (c *counting) set(fail bool, change func(*User)) {
	c.mu.Lock()
	c.fail, c.change = fail, change
	c.mu.Unlock()
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newDemo(t *testing.T) (*Directory, *counting, *clock) {
	t.Helper()
	s, err := ParseStatic([]byte(demoUsers))
	if err != nil {
		t.Fatal(err)
	}
	src := &counting{Source: s}
	clk := &clock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	return New(src, Config{TTL: 30 * time.Second, MaxStale: 5 * time.Minute, Now: clk.now}), src, clk
}

var both = Accept{Passwords: true, AppPasswords: true}

func TestAuthenticateForms(t *testing.T) {
	d, _, _ := newDemo(t)
	ctx := context.Background()
	for _, c := range []struct {
		name, secret string
		accept       Accept
		how          string
	}{
		{"jane", "jane-demo-password", both, ByPassword},
		{"JANE", "jane-demo-password", both, ByPassword},
		{"jane@example.com", "jane-demo-password", both, ByPassword},
		{"jane", "  jane-demo-password \t", both, ByPassword}, // wp_authenticate trims
		{"jane", "abcd EFGH ijkl MNOP qrst UVWX", both, ByAppPassword},
		{"jane", "abcd-EFGH-ijkl-MNOP-qrst-UVWX", Accept{AppPasswords: true}, ByAppPassword},
		{"jane@example.com", "abcdEFGHijklMNOPqrstUVWX", both, ByAppPassword},
	} {
		u, how, err := d.Authenticate(ctx, c.name, c.secret, c.accept)
		if err != nil || u.ID != 2 || how != c.how {
			t.Errorf("%s/%q: %v %v %v", c.name, c.secret, u, how, err)
		}
	}
	for _, c := range []struct {
		name, secret string
		accept       Accept
	}{
		{"jane", "jane-demo-password", Accept{AppPasswords: true}},         // passwords switched off
		{"jane", "abcd EFGH ijkl MNOP qrst UVWX", Accept{Passwords: true}}, // app passwords switched off
		{"jane", "wrong", both},
		{"nobody", "jane-demo-password", both},
		{"jane", "", both},
		{"jane", "0", both},
		{"jane", "abcd EFGH ijkl MNOP qrst UVWx", both},
		{"jane", "jane-demo-password", Accept{}},
	} {
		if _, _, err := d.Authenticate(ctx, c.name, c.secret, c.accept); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("%s/%q %+v: %v", c.name, c.secret, c.accept, err)
		}
	}
}

// TestNoEnumeration: an unknown user and a wrong password get the same
// error after the same number of hash checks (work is compared by count,
// never by timing).
func TestNoEnumeration(t *testing.T) {
	d, _, _ := newDemo(t)
	ctx := context.Background()
	w := &work{}
	d.onHash = w.hear
	if _, _, err := d.Authenticate(ctx, "sam", "wrong", Accept{Passwords: true}); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatal(err)
	}
	before := d.hashChecks.Load()
	_, _, errUnknown := d.Authenticate(ctx, "nobody", "pw", Accept{Passwords: true})
	unknown := d.hashChecks.Load() - before
	before = d.hashChecks.Load()
	_, _, errWrong := d.Authenticate(ctx, "sam", "pw", Accept{Passwords: true})
	wrong := d.hashChecks.Load() - before
	if errUnknown != errWrong || !errors.Is(errUnknown, ErrInvalidCredentials) {
		t.Fatalf("errors differ: %v / %v", errUnknown, errWrong)
	}
	if unknown != wrong || unknown != 1 {
		t.Fatalf("hash checks: unknown user %d, wrong password %d", unknown, wrong)
	}
	// The demo site holds phpass hashes only: one phpass check each.
	if got := w.take(); !slices.Equal(got, []string{"$P$B", "$P$B", "$P$B"}) {
		t.Fatalf("hash formats run: %q, want phpass only", got)
	}
}

func TestWarmPathDoesNoIO(t *testing.T) {
	d, src, clk := newDemo(t)
	ctx := context.Background()
	if _, _, err := d.Authenticate(ctx, "jane", "jane-demo-password", both); err != nil {
		t.Fatal(err)
	}
	calls, checks := src.calls.Load(), d.hashChecks.Load()
	for range 100 {
		if _, _, err := d.Authenticate(ctx, "jane", "jane-demo-password", both); err != nil {
			t.Fatal(err)
		}
	}
	if src.calls.Load() != calls || d.hashChecks.Load() != checks {
		t.Fatalf("warm calls did I/O (%d) or hashing (%d)", src.calls.Load()-calls, d.hashChecks.Load()-checks)
	}
	// Past the TTL but within MaxStale, the database being down does not
	// matter: the stale record is served while a refresh is tried.
	src.set(true, nil)
	clk.add(time.Minute)
	if _, _, err := d.Authenticate(ctx, "jane", "jane-demo-password", both); err != nil {
		t.Fatalf("stale record not served: %v", err)
	}
	// Past MaxStale the look-up must reach the database: fail closed.
	clk.add(10 * time.Minute)
	if _, _, err := d.Authenticate(ctx, "jane", "jane-demo-password", both); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("database down past MaxStale: %v", err)
	}
	// A user never seen: fail closed at once.
	if _, _, err := d.Authenticate(ctx, "sam", "x", both); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unknown while down: %v", err)
	}
}

func TestPasswordChangeInvalidatesCache(t *testing.T) {
	d, src, clk := newDemo(t)
	ctx := context.Background()
	if _, _, err := d.Authenticate(ctx, "jane", "jane-demo-password", both); err != nil {
		t.Fatal(err)
	}
	// The password changes in WordPress; nobody tells wpauthz.
	src.set(false, func(u *User) { u.PassHash = "$P$Bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" })
	clk.add(31 * time.Second)
	// The first call after the TTL may still be served stale while the
	// refresh runs; wait for the refresh.
	d.Authenticate(ctx, "jane", "jane-demo-password", both)
	deadline := time.Now().Add(5 * time.Second)
	for {
		d.mu.Lock()
		re := d.records[2]
		fresh := re != nil && !re.refreshing && re.user.PassHash != "$P$BWv3GwTweNCti23DjYf335p9ztpkQj."
		d.mu.Unlock()
		if fresh {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("record not refreshed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, _, err := d.Authenticate(ctx, "jane", "jane-demo-password", both); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password still accepted: %v", err)
	}
}

func TestForget(t *testing.T) {
	d, src, _ := newDemo(t)
	ctx := context.Background()
	d.Authenticate(ctx, "jane", "jane-demo-password", both)
	calls := src.calls.Load()
	d.Forget(2)
	d.mu.Lock()
	n := len(d.creds) + len(d.records)
	d.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d entries left after Forget", n)
	}
	d.Authenticate(ctx, "jane", "jane-demo-password", both)
	if src.calls.Load() == calls {
		t.Fatal("no look-up after Forget")
	}
}

func TestCachesAreBounded(t *testing.T) {
	s, _ := ParseStatic([]byte(demoUsers))
	d := New(s, Config{Size: 50, MaxConcurrentHashes: 4})
	d.work = d.newProfile(HashFormats{Passwords: []string{"md5"}}, time.Now()) // cheap checks: this test is about sizes
	ctx := context.Background()
	for i := range 300 {
		d.Authenticate(ctx, "nobody"+string(rune('a'+i%26))+string(rune('a'+i/26)), "x", Accept{Passwords: true})
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.names) > 50 || len(d.records) > 50 || len(d.creds) > 50 {
		t.Fatalf("caches grew: %d names %d records %d creds", len(d.names), len(d.records), len(d.creds))
	}
}

func TestHashSlotsHonourContext(t *testing.T) {
	s, _ := ParseStatic([]byte(demoUsers))
	d := New(s, Config{MaxConcurrentHashes: 1})
	d.hashes <- struct{}{} // every slot taken
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := d.Authenticate(ctx, "jane", "jane-demo-password", both); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v", err)
	}
}

func TestStaticFileErrors(t *testing.T) {
	for _, bad := range []string{
		"users: [{id: 0, login: x, pass: y}]",
		"users: [{id: 1, login: '', pass: y}]",
		"users: [{id: 1, login: a, pass: y}, {id: 1, login: b, pass: y}]",
		"users: [{id: 1, login: a, pass: y}, {id: 2, login: A, pass: y}]",
		"users: [{id: 1, login: a, pass: y, extra: 1}]",
	} {
		if _, err := ParseStatic([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
