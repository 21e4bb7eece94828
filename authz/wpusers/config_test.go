package wpusers

import (
	"runtime"
	"testing"
	"time"
)

// TestNewFillsDefaultsForUnsetConfig: a zero or negative setting gets its
// documented default (a zero TTL would send every check to the database,
// a zero hash bound would block every password check), and a positive one
// is kept as given.
func TestNewFillsDefaultsForUnsetConfig(t *testing.T) {
	want := Config{
		TTL: 30 * time.Second, MaxStale: 5 * time.Minute, CredentialTTL: 10 * time.Minute,
		Size: 10000, QueryTimeout: 2 * time.Second, MaxConcurrentHashes: 2 * runtime.GOMAXPROCS(0),
		FormatsTTL: 10 * time.Minute,
	}
	for name, in := range map[string]Config{
		"zero":     {},
		"negative": {TTL: -1, MaxStale: -1, CredentialTTL: -1, Size: -1, QueryTimeout: -1, MaxConcurrentHashes: -1, FormatsTTL: -1},
	} {
		got := New(&Static{}, in).cfg
		if got.Now == nil {
			t.Errorf("%s: no clock", name)
		}
		if !sameSettings(got, want) {
			t.Errorf("%s config: defaults %+v, want %+v", name, got, want)
		}
	}
	given := Config{TTL: 1, MaxStale: 2, CredentialTTL: 3, Size: 4, QueryTimeout: 5, MaxConcurrentHashes: 6, FormatsTTL: 7}
	d := New(&Static{}, given)
	got := d.cfg
	if !sameSettings(got, given) {
		t.Errorf("given settings %+v became %+v", given, got)
	}
	if cap(d.hashes) != 6 {
		t.Errorf("hash slots: %d, want 6", cap(d.hashes))
	}
}

// sameSettings compares every field of a Config but the clock.
func sameSettings(a, b Config) bool {
	return a.TTL == b.TTL && a.MaxStale == b.MaxStale && a.CredentialTTL == b.CredentialTTL &&
		a.Size == b.Size && a.QueryTimeout == b.QueryTimeout &&
		a.MaxConcurrentHashes == b.MaxConcurrentHashes && a.FormatsTTL == b.FormatsTTL
}
