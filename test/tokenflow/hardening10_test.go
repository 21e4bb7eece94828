package tokenflow

import (
	"testing"
	"time"
)

// TestHardening10_NotYetValid: a token used before its iat (a replica whose
// clock is behind the issuer's by more than the leeway) is answered
// wpauthz_token_not_yet_valid on a check and on validate, not "expired":
// the client must wait or fix its clock, not log in again.
func TestHardening10_NotYetValid(t *testing.T) {
	e := newEnv(t, nil)
	a, _ := e.mustLogin("jane", janePassword)
	e.clock.add(-5 * time.Minute)
	expect(t, "before iat on a check", e.check("POST", "/wp-json/wp/v2/posts", bearer(a)), 401, "wpauthz_token_not_yet_valid")
	expect(t, "before iat validated", e.do("POST", "/wp-json/api/v1/token/validate", "", "", bearer(a)), 401, "wpauthz_token_not_yet_valid")
	e.clock.add(5 * time.Minute)
	expect(t, "at iat", e.check("POST", "/wp-json/wp/v2/posts", bearer(a)), 200, "")
}
