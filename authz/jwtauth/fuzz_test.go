package jwtauth

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzWorld is one verifier per algorithm (HS256, RS256, ES256, EdDSA),
// caching on, each with one token it minted for a subject of its own.
type fuzzWorld struct {
	verifiers []*Verifier
	tokens    []string
	subjects  []string
	// genuine are the other tokens signed with a verifier's key (seeds
	// crafted by hand): token → verifier index and subject.
	genuine map[string]genuineToken
}

type genuineToken struct {
	verifier int
	subject  string
}

func newFuzzWorld(t testing.TB) *fuzzWorld {
	t.Helper()
	w := &fuzzWorld{genuine: map[string]genuineToken{}}
	for i, fx := range fixtures(t) {
		cfg := baseConfig(fx)
		cfg.CacheSize = 16
		v := mustNew(t, cfg)
		id := int64(i + 1)
		tok, err := v.Mint(Claims{Subject: strconv.FormatInt(id, 10), UserID: id, Roles: []string{"a"}}, time.Hour, testNow)
		if err != nil {
			t.Fatal(err)
		}
		w.verifiers = append(w.verifiers, v)
		w.tokens = append(w.tokens, tok)
		w.subjects = append(w.subjects, strconv.FormatInt(id, 10))
		w.genuine[tok] = genuineToken{i, strconv.FormatInt(id, 10)}
	}
	return w
}

// craft signs header and payload with verifier i's key and records the
// token as genuine for subject sub.
func (w *fuzzWorld) craft(t testing.TB, i int, header, payload, sub string) string {
	fx := fixtureList[i]
	tok := craft(t, fx.alg, fx.signer, header, payload)
	w.genuine[tok] = genuineToken{i, sub}
	return tok
}

// check verifies tok with every verifier: it may verify only with the one
// whose key signed it, only when it is a token signed with that key byte
// for byte, and then as that token's subject; every refusal wraps exactly
// one sentinel.
func (w *fuzzWorld) check(t *testing.T, tok string) {
	for i, v := range w.verifiers {
		c, err := v.Verify(tok, testNow)
		if err == nil {
			if g, ok := w.genuine[tok]; !ok || g.verifier != i || c.Subject != g.subject {
				t.Fatalf("%s verifier accepted %q as subject %q", fixtureList[i].alg, tok, c.Subject)
			}
			continue
		}
		n := 0
		for _, s := range sentinels {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s: error %q wraps %d sentinels", fixtureList[i].alg, err, n)
		}
	}
}

// FuzzVerify: arbitrary input, against the verifiers of every algorithm,
// never panics, never verifies unless it is a verifier's own untouched
// token (as that token's subject), and always fails with exactly one
// sentinel. Seeds: each algorithm's minted token, tokens crafted by hand
// with the package's test helpers, and known attack shapes.
func FuzzVerify(f *testing.F) {
	w := newFuzzWorld(f)
	for i, fx := range fixtures(f) {
		good := w.tokens[i]
		f.Add(good)
		f.Add(good + "." + good)
		f.Add(w.craft(f, i, header(fx.alg, "k1"), claimsJSON(f, nil), "42"))
		f.Add(w.craft(f, i, header(fx.alg, ""), claimsJSON(f, map[string]any{"sub": "1"}), "1"))
		f.Add(w.craft(f, i, `{"alg":"`+fx.alg+`","crit":["b64"],"b64":false}`, claimsJSON(f, nil), "42"))
		f.Add(w.craft(f, i, header(fx.alg, "k1"), claimsJSON(f, map[string]any{"exp": testNow.Add(-time.Hour).Unix()}), "42"))
	}
	f.Add(`eyJhbGciOiJub25lIn0.e30.`)
	f.Fuzz(func(t *testing.T, tok string) {
		w.check(t, tok)
	})
}

// TestVerifyRefusesUnsignedHeaderBytes: whitespace around the protected
// header's JSON object is not covered by the signature (jwx verifies over
// the object as JSON reads it, not over the bytes received), so a token
// with it added, found by FuzzVerifyMutated, verified although it is not
// the token that was signed. It must be refused, for every algorithm.
func TestVerifyRefusesUnsignedHeaderBytes(t *testing.T) {
	w := newFuzzWorld(t)
	for i, tok := range w.tokens {
		hdrSeg, rest, _ := strings.Cut(tok, ".")
		hdr, err := b64.DecodeString(hdrSeg)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, header string }{
			{"trailing CR", string(hdr) + "\r"},
			{"trailing space", string(hdr) + " "},
			{"trailing newline", string(hdr) + "\n"},
			{"leading space", " " + string(hdr)},
			{"leading tab", "\t" + string(hdr)},
		} {
			mutated := b64url([]byte(c.header)) + "." + rest
			if _, err := w.verifiers[i].Verify(mutated, testNow); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s, header with a %s: Verify = %v, want ErrInvalid", fixtureList[i].alg, c.name, err)
			}
		}
		if _, err := w.verifiers[i].Verify(tok, testNow); err != nil {
			t.Errorf("%s: the untouched token: %v", fixtureList[i].alg, err)
		}
	}
}

// FuzzVerifyMutated: a minted token of any algorithm, changed anywhere
// (one byte replaced, inserted or removed, or one of its three segments
// swapped for the same segment of another algorithm's token), never
// verifies, and never as a different subject.
func FuzzVerifyMutated(f *testing.F) {
	w := newFuzzWorld(f)
	for i := range w.tokens {
		tok := w.tokens[i]
		for _, pos := range []int{0, strings.IndexByte(tok, '.') - 1, strings.IndexByte(tok, '.'), strings.LastIndexByte(tok, '.') + 1, len(tok) - 1} {
			for op := range uint8(3) {
				f.Add(uint8(i), op, uint16(pos), byte('A'))
			}
		}
		for seg := range uint8(3) {
			f.Add(uint8(i), uint8(3), uint16(seg), byte(i+1))
		}
	}
	f.Fuzz(func(t *testing.T, which, op uint8, pos uint16, b byte) {
		tok := w.tokens[int(which)%len(w.tokens)]
		var m string
		switch p := int(pos) % len(tok); op % 4 {
		case 0: // replace
			m = tok[:p] + string([]byte{b}) + tok[p+1:]
		case 1: // insert
			m = tok[:p] + string([]byte{b}) + tok[p:]
		case 2: // remove
			m = tok[:p] + tok[p+1:]
		case 3: // splice a segment of another algorithm's token
			other := strings.Split(w.tokens[int(b)%len(w.tokens)], ".")
			segs := strings.Split(tok, ".")
			segs[int(pos)%3] = other[int(pos)%3]
			m = strings.Join(segs, ".")
		}
		if m == tok {
			return
		}
		for i, v := range w.verifiers {
			if c, err := v.Verify(m, testNow); err == nil {
				t.Fatalf("%s verifier accepted %q (from %q) as subject %q", fixtureList[i].alg, m, tok, c.Subject)
			}
		}
	})
}
