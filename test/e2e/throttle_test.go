package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/test/burst"
)

// TestHardening2_ConcurrentLoginsThroughNginx: 60 simultaneous logins
// for one WordPress user through nginx (wpauthz with
// --trusted-proxy-hops 1), one with the right password. The stack's
// policy allows 5 failures per user: exactly 5 wrong passwords are
// evaluated, the rest answer 429, and once the burst is over the right
// password answers 429 too. The user is made for this test and the
// requests come from a loopback address of their own (127.1.x.y, new for
// each run), so that no other test's user or address is throttled, also
// on a stack that is reused (WPAUTHZ_E2E_DIR).
func TestHardening2_ConcurrentLoginsThroughNginx(t *testing.T) {
	s := requireStack(t)
	run := time.Now().UnixNano()
	login := fmt.Sprintf("burst%d", run)
	source := net.IPv4(127, 1, byte(run>>16), byte(run>>8))
	const password = "burst-right-password"
	out := s.PHP(t, fmt.Sprintf(`$id = wp_insert_user(['user_login' => %q, 'user_pass' => %q, 'user_email' => %q, 'role' => 'subscriber']);
if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }
echo $id;`, login, password, login+"@example.com"))
	if strings.TrimSpace(out) == "" {
		t.Fatalf("no user made: %q", out)
	}

	client := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{LocalAddr: &net.TCPAddr{IP: source}, Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
	}, Timeout: 60 * time.Second}
	post := func(ctx context.Context, pass string) int {
		form := url.Values{"username": {login}, "password": {pass}}.Encode()
		req, err := http.NewRequestWithContext(ctx, "POST", s.NginxURL+"/wp-json/api/v1/token", strings.NewReader(form))
		if err != nil {
			t.Error(err)
			return 0
		}
		req.Host = s.Host
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	const n, limit = 60, 5
	statuses := burst.Send(n, func(i int, correct bool) int {
		return post(context.Background(), burst.Password(i, correct, password))
	})
	burst.Check(t, "through nginx", statuses, limit, n)
	burst.SpendRest(t, statuses, limit, func() int { return post(context.Background(), "wrong-after") })
	if st := post(context.Background(), password); st != 429 {
		t.Fatalf("the right password after the burst: %d, want 429", st)
	}
}
