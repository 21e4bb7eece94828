package wpusers

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/blake2b"
)

// MaxPasswordLength is WordPress's limit: wp_check_password (6.8+) and
// phpass's CheckPassword (every version) refuse a longer password, except
// against a legacy MD5 hash, which is checked first and has no limit.
const MaxPasswordLength = 4096

// CheckPassword reports whether password matches a user_pass hash exactly
// as WordPress 6.8's wp_check_password decides it, which accepts every
// format earlier versions wrote:
//
//   - a hash of at most 32 bytes: MD5 (lower-case hex, compared as is);
//   - a password longer than MaxPasswordLength bytes: no match;
//   - "$wp" + bcrypt (6.8+): bcrypt over base64(HMAC-SHA384(password,
//     key "wp-sha384"));
//   - "$P$" (and phpBB's "$H$") portable phpass (WordPress before 6.8);
//   - anything else: PHP's password_verify/crypt, of which wpauthz
//     supports bcrypt ($2a$, $2b$, $2y$); other crypt(3) formats (DES,
//     $1$, $5$, $6$, argon2) are refused, failing closed.
//
// The password is used as given: WordPress trims it in wp_authenticate
// before it gets here (see NormalizePassword); application passwords use
// CheckAppPassword.
func CheckPassword(password, hash string) bool {
	if len(hash) <= 32 {
		sum := md5.Sum([]byte(password))
		var hexSum [32]byte
		hex.Encode(hexSum[:], sum[:])
		return subtle.ConstantTimeCompare([]byte(hash), hexSum[:]) == 1
	}
	if len(password) > MaxPasswordLength {
		return false
	}
	if strings.HasPrefix(hash, "$wp") {
		return checkBcrypt(wpPrehash(password), hash[3:])
	}
	if strings.HasPrefix(hash, "$P$") || strings.HasPrefix(hash, "$H$") {
		return checkPHPass(password, hash)
	}
	return checkBcrypt(password, hash)
}

// wpPrehash is WordPress 6.8's bcrypt input: base64(HMAC-SHA384(password,
// "wp-sha384")), 64 characters, so long passwords keep their entropy past
// bcrypt's 72-byte limit.
func wpPrehash(password string) string {
	m := hmac.New(sha512.New384, []byte("wp-sha384"))
	m.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// checkBcrypt verifies a $2a$/$2b$/$2y$ hash. PHP treats $2y$ and $2b$ as
// the same (correct) algorithm; golang.org/x/crypto/bcrypt implements
// that one for every minor version letter.
func checkBcrypt(password, hash string) bool {
	if !isBcrypt(hash) {
		return false
	}
	// bcrypt reads at most 72 bytes of the key, as PHP's crypt does.
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

func isBcrypt(h string) bool {
	return len(h) == 60 && h[0] == '$' && h[1] == '2' && (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') && h[3] == '$'
}

// hashFormat is the cost-bearing shape of a hash: "$wp$2y$10$",
// "$2y$12$", "$P$B", "md5", or "" when no check supports it.
func hashFormat(h string) string { return formatOf(h[:min(len(h), 10)], len(h)) }

// formatOf is hashFormat from a hash's first 10 bytes and its length
// (what a query of the users table returns).
func formatOf(prefix string, length int) string {
	bcryptPrefix := func(p string) bool {
		return len(p) >= 7 && p[0] == '$' && p[1] == '2' && (p[2] == 'a' || p[2] == 'b' || p[2] == 'y') && p[3] == '$' && p[6] == '$'
	}
	switch {
	case length <= 32:
		return "md5"
	case length == 63 && len(prefix) >= 10 && strings.HasPrefix(prefix, "$wp") && bcryptPrefix(prefix[3:]):
		return prefix[:10]
	case length == 60 && bcryptPrefix(prefix):
		return prefix[:7]
	case length == 34 && len(prefix) >= 4 && (strings.HasPrefix(prefix, "$P$") || strings.HasPrefix(prefix, "$H$")):
		return prefix[:4]
	}
	return ""
}

// phpassItoa64 is phpass's base64 alphabet.
const phpassItoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// checkPHPass is phpass's CheckPassword for portable hashes: the setting
// "$P$" + cost letter + 8-byte salt, then 2^cost rounds of MD5.
func checkPHPass(password, hash string) bool {
	if len(password) > MaxPasswordLength || len(hash) != 34 {
		return false
	}
	computed, ok := phpassCrypt(password, hash)
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(computed), []byte(hash)) == 1
}

// phpassCrypt is phpass's crypt_private; ok is false where phpass returns
// its "*0" failure marker (bad prefix, cost out of 7..30, short salt).
func phpassCrypt(password, setting string) (string, bool) {
	if len(setting) < 12 || (setting[:3] != "$P$" && setting[:3] != "$H$") {
		return "", false
	}
	countLog2 := strings.IndexByte(phpassItoa64, setting[3])
	if countLog2 < 7 || countLog2 > 30 {
		return "", false
	}
	count := 1 << countLog2
	salt := setting[4:12]
	pw := []byte(password)

	buf := make([]byte, 0, md5.Size+len(pw))
	buf = append(buf, salt...)
	buf = append(buf, pw...)
	sum := md5.Sum(buf)
	for ; count > 0; count-- {
		buf = append(buf[:0], sum[:]...)
		buf = append(buf, pw...)
		sum = md5.Sum(buf)
	}
	return setting[:12] + phpassEncode64(sum[:]), true
}

// phpassEncode64 is phpass's encode64 (little-endian 6-bit groups).
func phpassEncode64(in []byte) string {
	var out strings.Builder
	i := 0
	for i < len(in) {
		value := int(in[i])
		i++
		out.WriteByte(phpassItoa64[value&0x3f])
		if i < len(in) {
			value |= int(in[i]) << 8
		}
		out.WriteByte(phpassItoa64[(value>>6)&0x3f])
		if i >= len(in) {
			break
		}
		i++
		if i < len(in) {
			value |= int(in[i]) << 16
		}
		out.WriteByte(phpassItoa64[(value>>12)&0x3f])
		if i >= len(in) {
			break
		}
		i++
		out.WriteByte(phpassItoa64[(value>>18)&0x3f])
	}
	return out.String()
}

// fastHashKey is WordPress 6.8's domain-separation key for wp_fast_hash.
const fastHashKey = "wp_fast_hash_6.8+"

// CheckAppPassword reports whether an application password matches one
// stored hash, as WordPress's wp_authenticate_application_password does:
// the input is first reduced to ASCII letters and digits (generated
// application passwords are alphanumeric; the spaces that group them for
// reading are optional), then checked against a "$generic$" BLAKE2b hash
// (6.8+ wp_verify_fast_hash) or, for older hashes, with phpass (5.6–6.7).
func CheckAppPassword(password, hash string) bool {
	return checkAppPasswordStripped(StripAppPassword(password), hash)
}

func checkAppPasswordStripped(password, hash string) bool {
	if rest, ok := strings.CutPrefix(hash, "$generic$"); ok {
		return subtle.ConstantTimeCompare([]byte(rest), []byte(fastHash(password))) == 1
	}
	// WordPress 6.1 checks with wp_check_password (MD5 for a short hash,
	// else phpass with the crypt fallback); 6.8's wp_verify_fast_hash
	// with phpass alone. Hashes WordPress wrote for application passwords
	// are phpass in both, so the two agree on everything WordPress stores.
	return CheckPassword(password, hash)
}

// fastHash is wp_fast_hash without its prefix: base64url (no padding) of
// the 30-byte BLAKE2b of message keyed with "wp_fast_hash_6.8+".
func fastHash(message string) string {
	h, err := blake2b.New(30, []byte(fastHashKey))
	if err != nil { // only for a bad size or key length
		panic(err)
	}
	h.Write([]byte(message))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// StripAppPassword keeps only ASCII letters and digits, as WordPress's
// preg_replace('/[^a-z\d]/i', ”, $password) does.
func StripAppPassword(p string) string {
	clean := true
	for i := 0; i < len(p); i++ {
		if !isAlnum(p[i]) {
			clean = false
			break
		}
	}
	if clean {
		return p
	}
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		if isAlnum(p[i]) {
			b = append(b, p[i])
		}
	}
	return string(b)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// NormalizePassword is what wp_authenticate does to a password before any
// check: PHP's trim(), which removes " \t\n\r\0\x0B" from both ends.
func NormalizePassword(p string) string { return strings.Trim(p, phpTrimSet) }

const phpTrimSet = " \t\n\r\x00\x0B"

// emptyPHP is PHP's empty() for a string: "" and "0" are empty, which
// wp_authenticate_username_password refuses before looking anything up.
func emptyPHP(s string) bool { return s == "" || s == "0" }
