package tokenflow

import "testing"

// TestHardening8_TokenServiceRefusesInexactHosts: the token endpoints pick
// their policy by Host as the checks do, so a Host wpauthz cannot match
// exactly as the proxy does is refused with 400 wpauthz_invalid_host, not
// served under the policy it resembles.
func TestHardening8_TokenServiceRefusesInexactHosts(t *testing.T) {
	e := newEnv(t, nil)
	login := form("username", "jane", "password", janePassword)
	expect(t, "control", request(t, e.srv.URL, "localhost:8080", "POST", "/wp-json/api/v1/token", formType, login, nil), 200, "")
	for _, host := range []string{"localhost.", "localhost.:8080", "localhost:8080:1", "localhost:x", "localhost..", "localhost,evil.test"} {
		expect(t, "login at "+host, request(t, e.srv.URL, host, "POST", "/wp-json/api/v1/token", formType, login, nil), 400, "wpauthz_invalid_host")
		expect(t, "JWKS at "+host, request(t, e.srv.URL, host, "GET", "/.well-known/jwks.json", "", "", nil), 400, "wpauthz_invalid_host")
	}
}
