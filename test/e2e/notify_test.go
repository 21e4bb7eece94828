package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These scenarios change a user inside WordPress, the way an admin or the
// user would, and check that the bridge plugin's notification ended what
// the old credentials had obtained. Each creates its own user so that the
// other scenarios' users stay as they are.

// newUser creates a WordPress user with role and password through PHP and
// returns its ID.
func newUser(t *testing.T, login, role, password string) int64 {
	t.Helper()
	out := stack.PHP(t, fmt.Sprintf(`
$id = wp_insert_user(array('user_login' => %q, 'user_email' => %q, 'user_pass' => %q, 'role' => %q));
if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }
echo $id;`, login, login+"@e2e.test", password, role))
	id, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("creating %s: %q", login, out)
	}
	return id
}

// uniqueLogin makes logins unique across runs against a reused stack.
func uniqueLogin(prefix string) string {
	return prefix + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
}

// login gets an access token through nginx with a real WordPress password.
func login(t *testing.T, user, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	status, _, resp := stack.Request(t, stack.NginxURL, "POST", "/wp-json/api/v1/token",
		http.Header{"Content-Type": {"application/json"}}, body)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if status != 200 || json.Unmarshal(resp, &out) != nil || out.AccessToken == "" {
		t.Fatalf("login %s: %d %s", user, status, resp)
	}
	return out.AccessToken
}

// me asks WordPress, through nginx, who the credentials are; it returns
// the status and the user ID WordPress answered with (0 when none).
func me(t *testing.T, auth string) (int, int64, string) {
	t.Helper()
	status, _, body := stack.Request(t, stack.NginxURL, "GET", "/wp-json/wp/v2/users/me",
		http.Header{"Authorization": {auth}}, nil)
	var out struct {
		ID   int64  `json:"id"`
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &out)
	if status == 200 {
		return status, out.ID, ""
	}
	return status, 0, out.Code
}

func bearerAuth(tok string) string { return "Bearer " + tok }

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// requireUser asserts that auth acts as user id.
func requireUser(t *testing.T, what, auth string, id int64) {
	t.Helper()
	if status, got, code := me(t, auth); status != 200 || got != id {
		t.Fatalf("%s: users/me = %d (user %d, %s), want 200 as user %d", what, status, got, code, id)
	}
}

// requireRefused asserts that auth no longer gets in, right after the
// change returned: the plugin notifies wpauthz before WordPress's call
// returns, so there is no window to wait out. The refusal must be
// wpauthz's (code), not the bridge's: WordPress would refuse a deleted
// user by itself. The time the first refusal took is logged.
func requireRefused(t *testing.T, what, auth, code string, changed time.Time) {
	t.Helper()
	status, _, got := me(t, auth)
	if status != 401 || got != code {
		t.Fatalf("%s: users/me = %d %s right after the change, want 401 %s", what, status, got, code)
	}
	t.Logf("%s: refused %v after the change returned (%s)", what, time.Since(changed).Round(time.Microsecond), got)
}

func TestPasswordChangeInWordPressEndsTokens(t *testing.T) {
	requireStack(t)
	user, pass := uniqueLogin("pw"), "first-password-3f9c1e"
	id := newUser(t, user, "editor", pass)
	tok := login(t, user, pass)
	requireUser(t, "token before the change", bearerAuth(tok), id)

	// wp_set_password is what wp-admin, password resets and plugins call.
	stack.PHP(t, fmt.Sprintf(`wp_set_password(%q, %d);`, "second-password-8d2a7b", id))
	changed := time.Now()
	requireRefused(t, "token issued before wp_set_password", bearerAuth(tok), "wpauthz_invalid_token", changed)

	requireRefused(t, "Basic with the old password", basicAuth(user, pass), "wpauthz_invalid_credentials", changed)
	fresh := login(t, user, "second-password-8d2a7b")
	requireUser(t, "login with the new password", bearerAuth(fresh), id)
}

func TestPasswordChangeThroughTheRESTAPIEndsTokens(t *testing.T) {
	requireStack(t)
	user, pass := uniqueLogin("rest"), "rest-password-1a2b3c"
	id := newUser(t, user, "author", pass)
	old := login(t, user, pass)
	current := login(t, user, pass)

	// The user changes their own password through the REST API (the
	// bridge makes WordPress see the Bearer token's user).
	body, _ := json.Marshal(map[string]string{"password": "rest-password-new-4d5e6f"})
	status, _, resp := stack.Request(t, stack.NginxURL, "POST", "/wp-json/wp/v2/users/me",
		http.Header{"Authorization": {bearerAuth(current)}, "Content-Type": {"application/json"}}, body)
	if status != 200 {
		t.Fatalf("changing the password through the REST API: %d %s", status, resp)
	}
	changed := time.Now()
	requireRefused(t, "another token issued before the REST password change", bearerAuth(old), "wpauthz_invalid_token", changed)
	requireRefused(t, "the token that changed the password", bearerAuth(current), "wpauthz_invalid_token", changed)
	requireUser(t, "login with the new password", bearerAuth(login(t, user, "rest-password-new-4d5e6f")), id)
}

func TestRoleChangeEndsTokens(t *testing.T) {
	requireStack(t)
	user, pass := uniqueLogin("role"), "role-password-7c8d9e"
	id := newUser(t, user, "editor", pass)
	tok := login(t, user, pass)
	requireUser(t, "editor's token", bearerAuth(tok), id)

	stack.PHP(t, fmt.Sprintf(`$u = new WP_User(%d); $u->set_role('subscriber');`, id))
	changed := time.Now()
	requireRefused(t, "token issued while the user was an editor", bearerAuth(tok), "wpauthz_invalid_token", changed)

	// A new token carries the new role: the editors-only rule refuses it.
	fresh := login(t, user, pass)
	body, _ := json.Marshal(map[string]string{"title": "demoted", "status": "draft"})
	status, _, resp := stack.Request(t, stack.NginxURL, "POST", "/wp-json/wp/v2/posts",
		http.Header{"Authorization": {bearerAuth(fresh)}, "Content-Type": {"application/json"}}, body)
	if status != 403 {
		t.Fatalf("demoted user's new token on an editors-only route: %d %s, want 403", status, resp)
	}
}

func TestApplicationPasswordRevocationEndsBasic(t *testing.T) {
	requireStack(t)
	user, pass := uniqueLogin("app"), "app-password-owner-5e6f"
	id := newUser(t, user, "author", pass)
	out := stack.PHP(t, fmt.Sprintf(`
$r = WP_Application_Passwords::create_new_application_password(%d, array('name' => 'e2e'));
if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message()); exit(1); }
echo $r[0], ' ', $r[1]['uuid'];`, id))
	appPass, uuid, ok := strings.Cut(strings.TrimSpace(out), " ")
	if !ok {
		t.Fatalf("creating an application password: %q", out)
	}
	auth := basicAuth(user, appPass)
	// Twice: the second answer comes from wpauthz's verified-credentials
	// cache, which the revocation must empty.
	requireUser(t, "application password", auth, id)
	requireUser(t, "application password (cached)", auth, id)

	stack.PHP(t, fmt.Sprintf(`
$r = WP_Application_Passwords::delete_application_password(%d, %q);
if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message()); exit(1); }`, id, uuid))
	requireRefused(t, "revoked application password", auth, "wpauthz_invalid_credentials", time.Now())
	requireUser(t, "the user's password still works", basicAuth(user, pass), id)
}

func TestUserDeletionEndsTokens(t *testing.T) {
	requireStack(t)
	user, pass := uniqueLogin("del"), "delete-password-9a8b"
	id := newUser(t, user, "subscriber", pass)
	tok := login(t, user, pass)
	requireUser(t, "token before deletion", bearerAuth(tok), id)

	stack.PHP(t, fmt.Sprintf(`require_once ABSPATH . 'wp-admin/includes/user.php'; if (!wp_delete_user(%d)) { exit(1); }`, id))
	requireRefused(t, "token of a deleted user", bearerAuth(tok), "wpauthz_invalid_token", time.Now())
}
