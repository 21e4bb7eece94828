package wpusers

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// hashFormat is the cost-bearing shape of a hash: "$wp$2y$10$",
// "$2y$12$", "$P$B", "md5", or "" when unknown.
func hashFormat(h string) string {
	switch {
	case len(h) <= 32:
		return "md5"
	case strings.HasPrefix(h, "$wp") && isBcrypt(h[3:]):
		return h[:10]
	case isBcrypt(h):
		return h[:7]
	case (strings.HasPrefix(h, "$P$") || strings.HasPrefix(h, "$H$")) && len(h) == 34:
		return h[:4]
	}
	return ""
}

// makeDummy returns a hash of a random password in format f.
func makeDummy(f string) string {
	var secret [16]byte
	rand.Read(secret[:])
	pw := hex.EncodeToString(secret[:])
	switch {
	case f == "md5":
		return strings.Repeat("0", 32)
	case strings.HasPrefix(f, "$P$") || strings.HasPrefix(f, "$H$"):
		var salt [6]byte
		rand.Read(salt[:])
		setting := f[:4] + phpassEncode64(salt[:])[:8]
		if h, ok := phpassCrypt(pw, setting); ok {
			return h
		}
	case strings.HasPrefix(f, "$wp$2"):
		if cost, err := strconv.Atoi(f[7:9]); err == nil {
			if h, err := bcrypt.GenerateFromPassword([]byte(wpPrehash(pw)), cost); err == nil {
				return "$wp" + string(h)
			}
		}
	case strings.HasPrefix(f, "$2"):
		if cost, err := strconv.Atoi(f[4:6]); err == nil {
			if h, err := bcrypt.GenerateFromPassword([]byte(pw), cost); err == nil {
				return string(h)
			}
		}
	}
	h, _ := bcrypt.GenerateFromPassword([]byte(wpPrehash(pw)), 10)
	return "$wp" + string(h)
}
