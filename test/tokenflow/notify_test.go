package tokenflow

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/usernotify"
)

const notifyKey = "notify-key-0123456789abcdef0123456789abcdef"

// withSecondSite gives the sample policy a notification key and adds a
// second site ("b.example", its own issuer) reading the same WordPress
// users, without a notification key.
func withSecondSite(b *policy.Bundle) {
	local := &b.Policies[0]
	local.Spec.WordPress.NotificationKeySecretRef = &v1alpha1.SecretKeySelector{Name: "local-notify", Key: "key"}
	b.Secrets = append(b.Secrets, corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "local-notify", Namespace: "default"},
		Data:       map[string][]byte{"key": []byte(notifyKey)},
	})
	other := local.DeepCopy()
	other.Name = "site-b"
	other.Spec.Hosts = []v1alpha1.Host{"b.example"}
	other.Spec.Authentication.JWT.Issuer = "http://b.example/wp-json"
	other.Spec.Authentication.JWT.Audiences = []string{"b.example"}
	other.Spec.WordPress.NotificationKeySecretRef = nil
	b.Policies = append(b.Policies, *other)
}

type notifier struct {
	t   *testing.T
	e   *env
	srv *httptest.Server
}

func newNotifier(t *testing.T, e *env) *notifier {
	h := &usernotify.Handler{Snapshot: e.snapshot, Store: e.store, Now: e.clock.now}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &notifier{t: t, e: e, srv: srv}
}

func notification(host string, user int64, event string) []byte {
	b, _ := json.Marshal(map[string]any{"host": host, "user_id": user, "event": event})
	return b
}

// send posts body to path with the given signature headers.
func (n *notifier) send(method, path string, body []byte, sigs ...string) resp {
	n.t.Helper()
	req, err := http.NewRequest(method, n.srv.URL+path, strings.NewReader(string(body)))
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, s := range sigs {
		req.Header.Add(usernotify.SignatureHeader, s)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, body: string(raw)}
	_ = json.Unmarshal(raw, &r.json)
	return r
}

func (n *notifier) signed(body []byte) resp {
	n.t.Helper()
	return n.send("POST", usernotify.Path, body, usernotify.Sign([]byte(notifyKey), n.e.clock.now().Unix(), body))
}

// loginAt logs in on host and returns the access token.
func (e *env) loginAt(host, user, pass string) string {
	e.t.Helper()
	r := request(e.t, e.srv.URL, host, "POST", "/wp-json/api/v1/token", formType, form("username", user, "password", pass), nil)
	tok, _ := r.json["access_token"].(string)
	if r.status != 200 || tok == "" {
		e.t.Fatalf("login %s at %s: %d %s", user, host, r.status, r.body)
	}
	return tok
}

// checkAt asks the check endpoint about a request to host.
func (e *env) checkAt(host, method, path, token string) int {
	e.t.Helper()
	return request(e.t, e.srv.URL, host, method, "/check"+path, "", "", bearer(token)).status
}

func TestRevokeAllIsScopedToThePolicy(t *testing.T) {
	e := newEnv(t, withSecondSite)
	a := e.loginAt("localhost", "jane", janePassword)
	b := e.loginAt("b.example", "jane", janePassword)
	if s := e.checkAt("b.example", "GET", "/wp-json/wp/v2/media", b); s != 200 {
		t.Fatalf("site B token before: %d", s)
	}
	r := e.do("POST", "/wp-json/api/v1/token/revoke", formType, form("all", "true"), bearer(a))
	if r.status != 200 || r.json["all"] != true {
		t.Fatalf("revoke all on site A: %d %s", r.status, r.body)
	}
	if s := e.checkAt("localhost", "GET", "/wp-json/wp/v2/media", a); s != 401 {
		t.Fatalf("site A token after revoke-all: %d, want 401", s)
	}
	// User 2 of site B is not the caller: the same user ID on another
	// policy keeps its tokens.
	if s := e.checkAt("b.example", "GET", "/wp-json/wp/v2/media", b); s != 200 {
		t.Fatalf("site B token after site A's revoke-all: %d, want 200", s)
	}
}

func TestUserChangeNotification(t *testing.T) {
	e := newEnv(t, withSecondSite)
	n := newNotifier(t, e)
	janeA := e.loginAt("localhost", "jane", janePassword)
	janeB := e.loginAt("b.example", "jane", janePassword)
	samA := e.loginAt("localhost", "sam", samPassword)

	e.clock.add(2 * time.Second)
	body := notification("localhost", 2, "password_changed")
	r := n.signed(body)
	if r.status != 200 || r.json["revoked"] != true || r.json["user_id"] != float64(2) ||
		r.json["before"] != float64(e.clock.now().Unix()) {
		t.Fatalf("notification: %d %s", r.status, r.body)
	}
	// Both policies read the same WordPress users, so jane's tokens die
	// on both; sam keeps his.
	if s := e.checkAt("localhost", "GET", "/wp-json/wp/v2/media", janeA); s != 401 {
		t.Fatalf("jane's site A token after the notification: %d, want 401", s)
	}
	if s := e.checkAt("b.example", "GET", "/wp-json/wp/v2/media", janeB); s != 401 {
		t.Fatalf("jane's site B token after the notification: %d, want 401", s)
	}
	if s := e.checkAt("localhost", "GET", "/wp-json/wp/v2/media", samA); s != 200 {
		t.Fatalf("sam's token after jane's notification: %d, want 200", s)
	}

	// A token issued after the change lives, and replaying the same
	// signed notification (still within its minute) does not kill it:
	// watermarks only move forward and the replay carries the old time.
	sig := usernotify.Sign([]byte(notifyKey), e.clock.now().Unix(), body)
	e.clock.add(2 * time.Second)
	fresh := e.loginAt("localhost", "jane", janePassword)
	if r := n.send("POST", usernotify.Path, body, sig); r.status != 200 {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	if s := e.checkAt("localhost", "GET", "/wp-json/wp/v2/media", fresh); s != 200 {
		t.Fatalf("token issued after the change, after a replay: %d, want 200", s)
	}
	// A signature from a clock ahead of ours does not move the watermark
	// into the future (logins would hang on it).
	ahead := notification("localhost", 3, "role_changed")
	r = n.send("POST", usernotify.Path, ahead, usernotify.Sign([]byte(notifyKey), e.clock.now().Unix()+30, ahead))
	if r.status != 200 || r.json["before"] != float64(e.clock.now().Unix()) {
		t.Fatalf("notification from a clock 30 s ahead: %d %s, want before=%d", r.status, r.body, e.clock.now().Unix())
	}
}

func TestUserChangeNotificationRefusals(t *testing.T) {
	e := newEnv(t, withSecondSite)
	n := newNotifier(t, e)
	jane := e.loginAt("localhost", "jane", janePassword)
	now := e.clock.now().Unix()
	key := []byte(notifyKey)
	good := notification("localhost", 2, "password_changed")
	sign := func(t int64, body []byte) string { return usernotify.Sign(key, t, body) }
	validMAC := strings.TrimPrefix(sign(now, good), "t="+strconv.FormatInt(now, 10)+",")

	cases := []struct {
		name   string
		method string
		path   string
		body   []byte
		sigs   []string
		status int
		code   string
	}{
		{"unsigned", "POST", usernotify.Path, good, nil, 401, "wpauthz_invalid_notification"},
		{"wrong key", "POST", usernotify.Path, good, []string{usernotify.Sign([]byte("another-key-0123456789abcdef0123456789"), now, good)}, 401, "wpauthz_invalid_notification"},
		{"signed 61 s ago", "POST", usernotify.Path, good, []string{sign(now-61, good)}, 401, "wpauthz_invalid_notification"},
		{"signed 61 s ahead", "POST", usernotify.Path, good, []string{sign(now+61, good)}, 401, "wpauthz_invalid_notification"},
		{"body changed after signing", "POST", usernotify.Path, notification("localhost", 3, "password_changed"), []string{sign(now, good)}, 401, "wpauthz_invalid_notification"},
		{"time changed after signing", "POST", usernotify.Path, good, []string{"t=" + strconv.FormatInt(now+1, 10) + "," + validMAC}, 401, "wpauthz_invalid_notification"},
		{"two signature headers", "POST", usernotify.Path, good, []string{sign(now, good), sign(now, good)}, 401, "wpauthz_invalid_notification"},
		{"repeated t", "POST", usernotify.Path, good, []string{"t=1,t=" + strconv.FormatInt(now, 10) + "," + validMAC}, 401, "wpauthz_invalid_notification"},
		{"unknown signature field", "POST", usernotify.Path, good, []string{sign(now, good) + ",v0=00"}, 401, "wpauthz_invalid_notification"},
		{"negative time", "POST", usernotify.Path, good, []string{"t=-1," + validMAC}, 401, "wpauthz_invalid_notification"},
		{"short MAC", "POST", usernotify.Path, good, []string{"t=" + strconv.FormatInt(now, 10) + ",v1=abcd"}, 401, "wpauthz_invalid_notification"},
		{"host without a notification key", "POST", usernotify.Path, notification("b.example", 2, "password_changed"), []string{sign(now, notification("b.example", 2, "password_changed"))}, 401, "wpauthz_invalid_notification"},
		{"unknown host", "POST", usernotify.Path, notification("c.example", 2, "password_changed"), []string{sign(now, notification("c.example", 2, "password_changed"))}, 401, "wpauthz_invalid_notification"},
		{"unknown field", "POST", usernotify.Path, []byte(`{"host":"localhost","user_id":2,"event":"password_changed","all":true}`), []string{sign(now, []byte(`{"host":"localhost","user_id":2,"event":"password_changed","all":true}`))}, 401, "wpauthz_invalid_notification"},
		{"trailing data", "POST", usernotify.Path, append(append([]byte{}, good...), `{}`...), []string{sign(now, append(append([]byte{}, good...), `{}`...))}, 401, "wpauthz_invalid_notification"},
		{"user id as a string", "POST", usernotify.Path, []byte(`{"host":"localhost","user_id":"2","event":"password_changed"}`), []string{sign(now, []byte(`{"host":"localhost","user_id":"2","event":"password_changed"}`))}, 401, "wpauthz_invalid_notification"},
		{"user 0", "POST", usernotify.Path, notification("localhost", 0, "password_changed"), []string{sign(now, notification("localhost", 0, "password_changed"))}, 400, "wpauthz_invalid_request"},
		{"unknown event", "POST", usernotify.Path, notification("localhost", 2, "logout"), []string{sign(now, notification("localhost", 2, "logout"))}, 400, "wpauthz_invalid_request"},
		{"oversized body", "POST", usernotify.Path, []byte(`{"host":"localhost","user_id":2,"event":"password_changed","x":"` + strings.Repeat("a", 5000) + `"}`), nil, 400, "wpauthz_invalid_request"},
		{"GET", "GET", usernotify.Path, nil, nil, 404, "rest_no_route"},
		{"another path", "POST", "/v1/user-changed/", good, []string{sign(now, good)}, 404, "rest_no_route"},
	}
	for _, c := range cases {
		r := n.send(c.method, c.path, c.body, c.sigs...)
		if r.status != c.status || r.code() != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.body, c.status, c.code)
		}
	}
	// Nothing above revoked anything.
	if s := e.checkAt("localhost", "GET", "/wp-json/wp/v2/media", jane); s != 200 {
		t.Fatalf("jane's token after refused notifications: %d, want 200", s)
	}
}
