package jwtauth

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// duplicateCases are genuinely signed tokens whose header or claims name a
// member twice; each must be refused as invalid, never read as "last wins".
func duplicateCases(t testing.TB) []struct{ name, header, claims string } {
	iss := strconv.Quote(testIssuer)
	exp := strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10)
	past := strconv.FormatInt(testNow.Add(-time.Hour).Unix(), 10)
	base := `"iss":` + iss + `,"aud":"shop.example.com","exp":` + exp
	h := `{"alg":"ES256","typ":"JWT","kid":"k1"}`
	return []struct{ name, header, claims string }{
		{"sub twice", h, `{` + base + `,"sub":"2","login":"jane","sub":"3"}`},
		{"exp past then year 9999", h, `{"iss":` + iss + `,"aud":"shop.example.com","sub":"2","exp":` + past + `,"exp":253402300799}`},
		{"iss twice", h, `{` + base + `,"sub":"2","iss":"https://evil.example"}`},
		{"roles twice", h, `{` + base + `,"sub":"2","roles":["subscriber"],"roles":["administrator"]}`},
		{"sub escaped spelling", h, `{` + base + `,"sub":"2","s\u0075b":"3"}`},
		{"invalid UTF-8 names that decode alike", h, "{" + base + `,"sub":"2","x` + "\xff" + `":1,"x` + "\xfe" + `":2}`},
		{"nested object", h, `{` + base + `,"sub":"2","ext":{"role":"a","role":"b"}}`},
		{"object inside roles array", h, `{` + base + `,"sub":"2","roles":[{"n":"a","n":"b"}]}`},
		{"deeply nested", h, `{` + base + `,"sub":"2","a":[[{"b":{"c":1,"c":2}}]]}`},
		{"alg twice in header", `{"alg":"none","typ":"JWT","kid":"k1","alg":"ES256"}`, `{` + base + `,"sub":"2"}`},
		{"kid twice in header", `{"alg":"ES256","typ":"JWT","kid":"other","kid":"k1"}`, `{` + base + `,"sub":"2"}`},
		{"typ twice in header", `{"alg":"ES256","typ":"at+jwt","kid":"k1","typ":"JWT"}`, `{` + base + `,"sub":"2"}`},
		{"nested duplicate in header", `{"alg":"ES256","typ":"JWT","kid":"k1","x":{"y":1,"y":2}}`, `{` + base + `,"sub":"2"}`},
	}
}

// TestHardening10_DuplicateMembersRefused: a genuine signature over a
// document with a repeated member name is refused with ErrInvalid (which
// the engine answers wpauthz_invalid_token), whatever the depth.
func TestHardening10_DuplicateMembersRefused(t *testing.T) {
	f := fixtureFor(t, ES256)
	v := mustNew(t, baseConfig(f))
	for _, tc := range duplicateCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			tok := craft(t, f.alg, f.signer, tc.header, tc.claims)
			c, err := v.Verify(tok, testNow)
			if err == nil {
				t.Fatalf("accepted: sub=%q exp=%v roles=%v", c.Subject, c.ExpiresAt.Unix(), c.Roles)
			}
			assertErr(t, tok, err, ErrInvalid)
		})
	}
	// The same documents without the repetition verify: what is refused is
	// the duplicate, not the shape.
	tok := craft(t, f.alg, f.signer, `{"alg":"ES256","typ":"JWT","kid":"k1","x":{"y":1}}`,
		`{"iss":`+strconv.Quote(testIssuer)+`,"aud":"shop.example.com","sub":"2","exp":`+
			strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10)+`,"a":[[{"b":{"c":1}}],{"c":1}],"ext":{"role":"a"},"x`+"\xff"+`":1}`)
	if _, err := v.Verify(tok, testNow); err != nil {
		t.Fatalf("a document without duplicates was refused: %v", err)
	}
}

// TestHardening10_NotYetValidIsItsOwnError: nbf or iat in the future is
// ErrNotYetValid, never ErrExpired, so that it can be answered with its own
// code.
func TestHardening10_NotYetValidIsItsOwnError(t *testing.T) {
	f := fixtureFor(t, ES256)
	v := mustNew(t, baseConfig(f))
	for _, extra := range []map[string]any{
		{"nbf": testNow.Add(time.Hour).Unix()},
		{"iat": testNow.Add(time.Hour).Unix(), "exp": testNow.Add(2 * time.Hour).Unix()},
	} {
		tok := craft(t, f.alg, f.signer, header(f.alg, "k1"), claimsJSON(t, extra))
		_, err := v.Verify(tok, testNow)
		assertErr(t, tok, err, ErrNotYetValid)
	}
}

// TestHardening10_AgreesWithJWX is the differential proof: for every token
// of the corpus (duplicates, escapes, nesting, ordinary tokens), jwx v2 —
// the JOSE library wpauthz uses for signatures — either reads the same
// claims and header that wpauthz reads, or wpauthz refuses the token.
func TestHardening10_AgreesWithJWX(t *testing.T) {
	f := fixtureFor(t, ES256)
	v := mustNew(t, baseConfig(f))
	pub, err := jwk.ParseKey(f.pubPEM, jwk.WithPEM(true))
	if err != nil {
		t.Fatal(err)
	}
	type doc struct{ header, claims string }
	var corpus []doc
	for _, tc := range duplicateCases(t) {
		corpus = append(corpus, doc{tc.header, tc.claims})
	}
	exp := strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10)
	iss := strconv.Quote(testIssuer)
	for _, c := range []string{
		claimsJSON(t, nil),
		claimsJSON(t, map[string]any{"roles": []string{"a", "b"}, "aud": []string{"x", "shop.example.com"}}),
		`{"iss":` + iss + `,"aud":"shop.example.com","exp":` + exp + `,"s\u0075b":"7"}`,
		`{"iss":` + iss + `,"aud":"shop.example.com","exp":` + exp + `,"sub":"7","Sub":"8","SUB":"9"}`,
		`{"iss":` + iss + `,"aud":"shop.example.com","exp":` + exp + `.25,"sub":"7","nbf":1,"iat":2}`,
	} {
		corpus = append(corpus, doc{header(f.alg, "k1"), c})
	}
	accepted := 0
	for i, d := range corpus {
		tok := craft(t, f.alg, f.signer, d.header, d.claims)
		ours, ourErr := v.Verify(tok, testNow)
		jt, jwxErr := jwt.Parse([]byte(tok), jwt.WithKey(jwa.ES256, pub), jwt.WithValidate(false))
		if ourErr != nil {
			continue // refusing is always allowed
		}
		accepted++
		if jwxErr != nil {
			t.Errorf("%d: wpauthz accepted what jwx refuses (%v): %s", i, jwxErr, d.claims)
			continue
		}
		got := fmt.Sprintf("sub=%s exp=%d iss=%s aud=%v", jt.Subject(), jt.Expiration().Unix(), jt.Issuer(), jt.Audience())
		want := fmt.Sprintf("sub=%s exp=%d iss=%s aud=%v", ours.Subject, ours.ExpiresAt.Unix(), testIssuer, ours.Audience)
		if got != want {
			t.Errorf("%d: jwx reads %s, wpauthz %s", i, got, want)
		}
		if roles, ok := jt.PrivateClaims()["roles"]; ok || len(ours.Roles) > 0 {
			if fmt.Sprint(roles) != fmt.Sprint(ours.Roles) {
				t.Errorf("%d: roles: jwx %v, wpauthz %v", i, roles, ours.Roles)
			}
		}
		msg, err := jws.Parse([]byte(tok))
		if err != nil {
			t.Fatalf("%d: jws.Parse: %v", i, err)
		}
		h := msg.Signatures()[0].ProtectedHeaders()
		if h.Algorithm() != jwa.ES256 || h.KeyID() != "k1" {
			t.Errorf("%d: jwx header alg=%s kid=%s, wpauthz used ES256/k1", i, h.Algorithm(), h.KeyID())
		}
	}
	if accepted < 5 {
		t.Fatalf("only %d tokens accepted: the comparison proved nothing", accepted)
	}
}

// refDuplicate is the reference the fuzz target checks the scanner
// against: encoding/json's token stream with a set of names per open
// object. Slow, obviously correct.
func refDuplicate(doc []byte) (dup bool, valid bool) {
	if !json.Valid(doc) {
		return false, false
	}
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	type frame struct {
		names map[string]bool
		isObj bool
		key   bool // next string token is a name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false, true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				if top != nil && top.isObj {
					top.key = true
				}
				stack = append(stack, &frame{names: map[string]bool{}, isObj: tok == '{', key: true})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.isObj && top.key {
				if top.names[tok] {
					return true, true
				}
				top.names[tok] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.isObj {
			top.key = true
		}
	}
}

// FuzzDuplicateNames: the scanner agrees with the reference on every valid
// JSON document, and never panics on invalid ones.
func FuzzDuplicateNames(f *testing.F) {
	for _, tc := range duplicateCases(f) {
		f.Add([]byte(tc.header))
		f.Add([]byte(tc.claims))
	}
	for _, s := range []string{`{}`, `[]`, `{"a":{"a":1}}`, `[{"a":1},{"a":1}]`, `{"a":[{"b":1,"b":2}]}`,
		`{"\u0061":1,"a":2}`, `{"\ud800":1,"\udbff":2}`, `{"a\"":1,"a\\":2}`, `"x"`, `1`, `{"a":"}","a":"{"}`,
		`{"a":1,"b":{"a":1},"c":[1,"a",{"a":{}}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		wantDup, valid := refDuplicate(doc)
		if !valid {
			_ = hasDuplicateNames(doc) // must not panic
			return
		}
		if got := hasDuplicateNames(doc); got != wantDup {
			t.Fatalf("hasDuplicateNames(%q) = %v, reference says %v", doc, got, wantDup)
		}
	})
}

// BenchmarkDuplicateNames is the cost the check adds to a cache miss, on
// the claims of a token wpauthz mints.
func BenchmarkDuplicateNames(b *testing.B) {
	doc := []byte(claimsJSON(b, map[string]any{"email": "jane@example.com", "roles": []string{"customer", "subscriber"}}))
	b.ReportAllocs()
	for b.Loop() {
		if hasDuplicateNames(doc) {
			b.Fatal("duplicate")
		}
	}
}

// hasDuplicateNames is only ever given valid JSON, but promises not to
// panic or read out of bounds on anything else: stray closers, separators
// and strings outside any container.
func TestHasDuplicateNamesOnBrokenInput(t *testing.T) {
	for _, doc := range []string{`}`, `]`, `,`, `"a",`, `,"a":1`, `"a""a"`, `}{"a":1,"a":2`, `{"a`, `"\`, `{"a":1}}`} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("hasDuplicateNames(%q) panicked: %v", doc, r)
				}
			}()
			// Capacity equal to length: a read past the end panics.
			b := []byte(doc)
			hasDuplicateNames(b[:len(b):len(b)])
		}()
	}
	// Broken input still reports a duplicate it can see.
	if !hasDuplicateNames([]byte(`}{"a":1,"a":2`)) {
		t.Error(`duplicate after a stray "}" not seen`)
	}
}

// A string value equal to a member name, or repeated as values and array
// elements, is not a repeated name.
func TestHasDuplicateNamesIgnoresValues(t *testing.T) {
	for _, doc := range []string{`{"a":"a"}`, `{"sub":"1","login":"sub"}`, `{"roles":["editor","editor"]}`, `{"a":{"b":"a"},"b":"b"}`, `["a","a"]`} {
		if hasDuplicateNames([]byte(doc)) {
			t.Errorf("hasDuplicateNames(%s) = true", doc)
		}
	}
}

// Names are compared as encoding/json decodes them, also when the literal
// is nothing but escapes or invalid bytes, and an empty name is not the
// name made of two quote characters.
func TestHasDuplicateNamesComparesDecodedNames(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"\\":1,"\u005c":2}`:     true,  // both are one backslash
		"{\"\xff\":1,\"\xfe\":2}": true,  // both are U+FFFD
		`{"":1,"\"\"":2}`:         false, // "" and a name of two quotes
		`{"":1,"":2}`:             true,
	} {
		if got := hasDuplicateNames([]byte(doc)); got != want {
			t.Errorf("hasDuplicateNames(%q) = %v, want %v", doc, got, want)
		}
	}
}
