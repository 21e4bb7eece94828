package jwtauth

import (
	"testing"
	"time"
)

// BenchmarkVerifyCached: the steady state of a busy site — 1,000 distinct
// ES256 tokens cycling through a warm cache.
func BenchmarkVerifyCached(b *testing.B) {
	f := fixtureFor(b, ES256)
	v := cachedVerifier(b, f, 0)
	toks := make([]string, 1000)
	for i := range toks {
		var err error
		if toks[i], err = v.Mint(Claims{UserID: int64(i + 1), Login: "user", Roles: []string{"customer"}}, time.Hour, testNow); err != nil {
			b.Fatal(err)
		}
		if _, err := v.Verify(toks[i], testNow); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := v.Verify(toks[i%len(toks)], testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel: the same, from all cores at once, to show
// the shard locks do not serialise readers.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	f := fixtureFor(b, ES256)
	v := cachedVerifier(b, f, 0)
	toks := make([]string, 1000)
	for i := range toks {
		toks[i], _ = v.Mint(Claims{UserID: int64(i + 1)}, time.Hour, testNow)
		if _, err := v.Verify(toks[i], testNow); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := v.Verify(toks[i%len(toks)], testNow); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkVerifyUncached: a full verification (framing, header, jwx
// signature check, claims) per algorithm, cache disabled.
func BenchmarkVerifyUncached(b *testing.B) {
	for _, f := range fixtures(b) {
		b.Run(f.alg, func(b *testing.B) {
			v := mustNew(b, baseConfig(f))
			tok, err := v.Mint(Claims{UserID: 42, Login: "jane", Email: "jane@example.com", Roles: []string{"customer"}}, time.Hour, testNow)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := v.Verify(tok, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyRejectedCheap: a forged token is refused without a
// signature check when its framing or header is wrong.
func BenchmarkVerifyRejectedAlgNone(b *testing.B) {
	f := fixtureFor(b, ES256)
	v := cachedVerifier(b, f, 0)
	tok := b64url([]byte(`{"alg":"none"}`)) + "." + b64url([]byte(claimsJSON(b, nil))) + ".AAAA"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok, testNow); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkMint: issuing cost per algorithm (admin command, login endpoint).
func BenchmarkMint(b *testing.B) {
	for _, f := range fixtures(b) {
		b.Run(f.alg, func(b *testing.B) {
			v := mustNew(b, baseConfig(f))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Mint(Claims{UserID: 42, Login: "jane", Roles: []string{"customer"}}, time.Hour, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
