package standalone

import (
	"encoding/json"
	"github.com/wpauthz/wpauthz/test/testbin"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
)

// TestStandaloneTokens follows the README's token walkthrough against the
// built binary serving config/samples/local: log in with a demo user from
// the users file, use the token, refresh, replay the spent refresh token
// (its family dies), revoke, and Basic authentication — with curl when it
// is installed, exactly as the README writes the calls.
func TestStandaloneTokens(t *testing.T) {
	dir := testbin.Samples(t)
	s := start(t, dir)
	base := "http://" + s.httpAddr

	post := func(path, ctype, body string, hdr map[string]string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Host = "localhost"
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out
	}
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	const ft = "application/x-www-form-urlencoded"

	st, login := post("/wp-json/api/v1/token", ft, form("username", "jane", "password", "jane-demo-password"), nil)
	if st != 200 {
		t.Fatalf("login: %d %v", st, login)
	}
	access, refresh := login["access_token"].(string), login["refresh_token"].(string)
	st, _ = post("/wp-json/api/v1/token", "application/json", `{"username":"jane@example.com","password":"jane-demo-password"}`, nil)
	if st != 200 {
		t.Fatalf("JSON login by email: %d", st)
	}
	if st, body := post("/wp-json/api/v1/token", ft, form("username", "jane", "password", "wrong"), nil); st != 401 || body["code"] != "wpauthz_invalid_credentials" {
		t.Fatalf("wrong password: %d %v", st, body)
	}
	if resp, body := s.httpCheck(t, "POST", "/wp-json/wp/v2/posts", map[string]string{"Authorization": "Bearer " + access}); resp.StatusCode != 200 {
		t.Fatalf("token on a check: %d %s", resp.StatusCode, body)
	}

	st, rotated := post("/wp-json/api/v1/token/refresh", ft, form("refresh_token", refresh), nil)
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, rotated)
	}
	access2 := rotated["access_token"].(string)
	if st, body := post("/wp-json/api/v1/token/refresh", ft, form("refresh_token", refresh), nil); st != 401 || body["code"] != "wpauthz_invalid_refresh_token" {
		t.Fatalf("replayed refresh token: %d %v", st, body)
	}
	if resp, _ := s.httpCheck(t, "POST", "/wp-json/wp/v2/posts", map[string]string{"Authorization": "Bearer " + access2}); resp.StatusCode != 401 {
		t.Fatalf("access token of a killed family: %d", resp.StatusCode)
	}

	_, fresh := post("/wp-json/api/v1/token", ft, form("username", "jane", "password", "jane-demo-password"), nil)
	tok := fresh["access_token"].(string)
	if st, _ := post("/wp-json/api/v1/token/revoke", "", "", map[string]string{"Authorization": "Bearer " + tok}); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	if resp, body := s.httpCheck(t, "GET", "/wp-json/wp/v2/posts", map[string]string{"Authorization": "Bearer " + tok}); resp.StatusCode != 401 || !strings.Contains(body, "wpauthz_invalid_token") {
		t.Fatalf("revoked token: %d %s", resp.StatusCode, body)
	}

	// Basic, through curl as the README shows it, when curl is there.
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: localhost",
			"-u", "jane:abcd EFGH ijkl MNOP qrst UVWX", "-X", "POST", base+"/check/wp-json/wp/v2/posts").Output()
		if err != nil || string(out) != "200" {
			t.Fatalf("curl -u with an application password: %s %v", out, err)
		}
		out, _ = exec.Command(curl, "-s", "-H", "Host: localhost", "-u", "sam:sam-demo-password", "-X", "POST", base+"/check/wp-json/wp/v2/posts").Output()
		if !strings.Contains(string(out), "rest_forbidden") {
			t.Fatalf("curl -u subscriber: %s", out)
		}
	} else {
		resp, body := s.httpCheck(t, "POST", "/wp-json/wp/v2/posts", map[string]string{"Authorization": "Basic amFuZTpqYW5lLWRlbW8tcGFzc3dvcmQ="})
		if resp.StatusCode != 200 {
			t.Fatalf("basic: %d %s", resp.StatusCode, body)
		}
	}
	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("jwks: %v %v", resp, err)
	}
	resp.Body.Close()
}
