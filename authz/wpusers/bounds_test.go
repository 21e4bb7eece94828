package wpusers

import (
	"crypto/md5"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestStringZeroIsNotAGrantedRole: PHP's (bool)"0" is false, so a
// capability stored as s:1:"0" is not granted, like b:0 and s:0:"";
// s:1:"1", b:1, i:1 and "00" are; an empty array and d:0 are not, a
// non-empty array and d:0.5 are.
func TestStringZeroIsNotAGrantedRole(t *testing.T) {
	caps := `a:11:{s:6:"editor";s:1:"0";s:6:"author";s:1:"1";s:5:"admin";b:0;s:4:"shop";s:0:"";` +
		`s:3:"one";i:1;s:3:"two";s:2:"00";s:5:"three";b:1;` +
		`s:4:"none";a:0:{}s:4:"list";a:1:{i:0;b:0;}s:5:"zeroD";d:0;s:4:"half";d:0.5;}`
	keys, granted, err := capabilityKeys(caps)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{false, true, false, false, true, true, true, false, true, false, true}; !slices.Equal(granted, want) {
		t.Fatalf("granted %v for %v, want %v", granted, keys, want)
	}
	if got, want := rolesFrom(caps, nil), []string{"author", "one", "two", "three", "list", "half"}; !slices.Equal(got, want) {
		t.Fatalf("roles %v, want %v (s:1:\"0\" is not granted)", got, want)
	}
}

// nested is n arrays one inside the other around N;.
func nested(n int) string {
	return strings.Repeat(`a:1:{i:0;`, n) + `N;` + strings.Repeat(`}`, n)
}

// TestUnserializeDepthBound: values nested maxSerializedDepth deep are
// read; one level deeper is refused.
func TestUnserializeDepthBound(t *testing.T) {
	if _, err := phpUnserialize(nested(maxSerializedDepth)); err != nil {
		t.Fatalf("depth %d refused: %v", maxSerializedDepth, err)
	}
	if _, err := phpUnserialize(nested(maxSerializedDepth + 1)); err == nil {
		t.Fatalf("depth %d accepted", maxSerializedDepth+1)
	}
}

// arrayOf is a serialized list of n true values.
func arrayOf(n int) string {
	var b strings.Builder
	b.WriteString("a:")
	b.WriteString(strconv.Itoa(n))
	b.WriteString(":{")
	for i := range n {
		b.WriteString("i:" + strconv.Itoa(i) + ";b:1;")
	}
	b.WriteString("}")
	return b.String()
}

// TestUnserializeArrayLengthCap: an array of maxArrayLen entries is read,
// one of maxArrayLen+1 is refused even though it is well formed and
// under the size limit.
func TestUnserializeArrayLengthCap(t *testing.T) {
	v, err := phpUnserialize(arrayOf(maxArrayLen))
	if err != nil {
		t.Fatalf("%d entries refused: %v", maxArrayLen, err)
	}
	if n := len(v.(*phpArray).keys); n != maxArrayLen {
		t.Fatalf("%d entries read, want %d", n, maxArrayLen)
	}
	over := arrayOf(maxArrayLen + 1)
	if len(over) > maxSerializedLen {
		t.Fatalf("test input of %d bytes is over the size limit: it would not test the length cap", len(over))
	}
	if _, err := phpUnserialize(over); err == nil {
		t.Fatalf("%d entries accepted", maxArrayLen+1)
	}
}

// TestUnserializeHugeStringLengthRefused: a declared string length far
// beyond the input (up to the largest int64) is refused, without a panic
// nor an allocation of that size; an exact one is read.
func TestUnserializeHugeStringLengthRefused(t *testing.T) {
	for _, s := range []string{
		`s:9223372036854775807:"abc";`, `s:9223372036854775806:"";`, `s:4294967296:"abc";`, `s:4:"abc";`,
		`a:1:{i:0;s:9223372036854775807:"x";}`,
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%q: panic %v", s, r)
				}
			}()
			if _, err := phpUnserialize(s); err == nil {
				t.Errorf("accepted %q", s)
			}
		}()
	}
	if v, err := phpUnserialize(`s:3:"abc";`); err != nil || v != "abc" {
		t.Fatalf(`s:3:"abc";: %v %v`, v, err)
	}
}

// phpassReference is phpass's portable hash of password at 2^cost
// rounds with an 8-byte salt, written out independently of checkPHPass
// (which refuses the costs WordPress refuses).
func phpassReference(password, salt string, cost int) string {
	sum := md5.Sum([]byte(salt + password))
	for range 1 << cost {
		sum = md5.Sum(append(sum[:], password...))
	}
	return "$P$" + string(phpassItoa64[cost]) + salt + phpassEncode64(sum[:])
}

// TestPHPassCostBounds: phpass (and so WordPress) refuses a portable
// hash whose cost is below 7 (2^7 rounds) or above 30; cost 7 is checked.
func TestPHPassCostBounds(t *testing.T) {
	const pw, salt = "correct horse", "abcdefgh"
	if h := phpassReference(pw, salt, 7); !CheckPassword(pw, h) {
		t.Fatalf("cost 7 hash %s refused", h)
	}
	if h := phpassReference(pw, salt, 8); !CheckPassword(pw, h) {
		t.Fatalf("cost 8 hash %s refused", h)
	}
	for _, cost := range []int{6, 5, 0} {
		if h := phpassReference(pw, salt, cost); CheckPassword(pw, h) {
			t.Errorf("cost %d hash %s accepted (WordPress refuses below 7)", cost, h)
		}
	}
	// Above 30: phpass refuses the setting before computing anything.
	over := "$P$" + string(phpassItoa64[31]) + salt + strings.Repeat(".", 22)
	if _, ok := phpassCrypt(pw, over); ok {
		t.Error("cost 31 accepted")
	}
}

// TestBcryptShapes: a bcrypt hash is checked only in the shapes PHP's
// password_verify reads as bcrypt: "$2a$", "$2b$" or "$2y$" and 60
// bytes. Go's bcrypt would also accept other minor versions and major
// versions below 2, which PHP does not treat as this algorithm.
func TestBcryptShapes(t *testing.T) {
	const pw = "correct horse"
	h, err := bcrypt.GenerateFromPassword([]byte(pw), 4)
	if err != nil {
		t.Fatal(err)
	}
	hash := string(h) // $2a$04$...
	with := func(i int, c byte) string { return hash[:i] + string(c) + hash[i+1:] }
	for _, ok := range []string{hash, with(2, 'b'), with(2, 'y')} {
		if !CheckPassword(pw, ok) {
			t.Errorf("%s refused", ok)
		}
	}
	for _, bad := range []string{with(2, 'x'), with(2, 'c'), with(1, '1'), with(1, '0'), hash + "x", "$2y$04$" + hash[8:]} {
		if CheckPassword(pw, bad) {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestUnserializeFloats: doubles are read as PHP writes them, INF, -INF
// and NAN included; anything else after d: is refused, also what Go's
// strconv reads but PHP's unserialize does not ("inf", hex, "_").
func TestUnserializeFloats(t *testing.T) {
	for s, want := range map[string]float64{`d:1.5;`: 1.5, `d:-0.25;`: -0.25, `d:1e3;`: 1000, `d:0;`: 0} {
		if v, err := phpUnserialize(s); err != nil || v != want {
			t.Errorf("%s: %v %v, want %v", s, v, err, want)
		}
	}
	for _, s := range []string{`d:INF;`, `d:-INF;`, `d:NAN;`} {
		if _, err := phpUnserialize(s); err != nil {
			t.Errorf("%s refused: %v", s, err)
		}
	}
	if v, err := phpUnserialize(`a:1:{i:0;d:2.5;}`); err != nil || v.(*phpArray).vals[0] != 2.5 {
		t.Errorf("a double in an array: %v %v", v, err)
	}
	for _, s := range []string{`d:abc;`, `d:;`, `d:1.5`, `d:inf;`, `d:Infinity;`, `d:nan;`, `d:0x1p3;`, `d:1_0;`, `d:1e400;`} {
		if _, err := phpUnserialize(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
}

// TestUnserializeUnterminatedWithoutPanic: a value cut off anywhere is
// refused, never read past the end of the input.
func TestUnserializeUnterminatedWithoutPanic(t *testing.T) {
	whole := `a:2:{s:6:"editor";b:1;i:7;d:1.5;}`
	for i := range len(whole) {
		cut := whole[:i]
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%q: panic %v", cut, r)
				}
			}()
			if _, err := phpUnserialize(cut); err == nil {
				t.Errorf("accepted %q", cut)
			}
		}()
	}
	for _, s := range []string{`i:5`, `b:1`, `s:3`, `a:1`, `d:1.5`, `N`} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%q: panic %v", s, r)
				}
			}()
			if _, err := phpUnserialize(s); err == nil {
				t.Errorf("accepted %q", s)
			}
		}()
	}
	if _, err := phpUnserialize(whole); err != nil {
		t.Fatalf("the whole value refused: %v", err)
	}
}

// TestUnserializeSizeLimit: an input of exactly maxSerializedLen bytes is
// read; one byte more is refused before parsing.
func TestUnserializeSizeLimit(t *testing.T) {
	str := func(total int) string {
		// s:N:"...";  is N + len("s:N:\"\";") bytes.
		for n := total; n > 0; n-- {
			s := `s:` + strconv.Itoa(n) + `:"` + strings.Repeat("a", n) + `";`
			if len(s) == total {
				return s
			}
		}
		t.Fatalf("no string value of %d bytes", total)
		return ""
	}
	if _, err := phpUnserialize(str(maxSerializedLen)); err != nil {
		t.Fatalf("%d bytes refused: %v", maxSerializedLen, err)
	}
	if _, err := phpUnserialize(str(maxSerializedLen + 1)); err == nil {
		t.Fatalf("%d bytes accepted", maxSerializedLen+1)
	}
}

// TestAppPasswordsSkipUnusableEntries: entries that are not arrays, or
// whose password is not a non-empty string, are skipped, and the entries
// after them are still read.
func TestAppPasswordsSkipUnusableEntries(t *testing.T) {
	meta := `a:5:{i:0;s:3:"odd";` +
		`i:1;a:2:{s:4:"name";s:5:"empty";s:8:"password";s:0:"";}` +
		`i:2;a:2:{s:4:"name";s:6:"number";s:8:"password";i:5;}` +
		`i:3;a:3:{s:4:"uuid";s:1:"u";s:4:"name";s:6:"laptop";s:8:"password";s:4:"hash";}` +
		`i:4;b:1;}`
	aps, err := parseAppPasswords(meta)
	if err != nil {
		t.Fatal(err)
	}
	if len(aps) != 1 || aps[0] != (AppPassword{UUID: "u", Name: "laptop", Hash: "hash"}) {
		t.Fatalf("app passwords %+v, want only laptop's", aps)
	}
}
