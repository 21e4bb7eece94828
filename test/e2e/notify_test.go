package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These scenarios change a user inside WordPress, the way an admin or the
// user would, and check that the bridge plugin's notification ended what
// the old credentials had obtained. Each creates its own user so that the
// other scenarios' users stay as they are.

// newUser creates a WordPress user with role and password through PHP.
func newUser(t *testing.T, prefix, role, password string) User {
	t.Helper()
	// Unique across runs against a reused stack (WPAUTHZ_E2E_DIR).
	login := prefix + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	out := stack.PHP(t, fmt.Sprintf(`
$id = wp_insert_user(array('user_login' => %q, 'user_email' => %q, 'user_pass' => %q, 'role' => %q));
if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }
echo $id;`, login, login+"@e2e.test", password, role))
	id, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("creating %s: %q", login, out)
	}
	return User{ID: id, Login: login, Email: login + "@e2e.test", Password: password, Role: role}
}

func bearer(tok string) string { return "Bearer " + tok }

// requireUser asserts that WordPress, through nginx, sees auth as u.
func requireUser(t *testing.T, what, auth string, u User) {
	t.Helper()
	if got := usersMe(t, stack, stack.NginxURL, hdrs("Authorization", auth)); got.ID != u.ID {
		t.Fatalf("%s: users/me answered user %d, want %d", what, got.ID, u.ID)
	}
}

// requireRefused asserts that auth no longer gets in, right after the
// change returned: the plugin notifies wpauthz before WordPress's call
// returns, so there is no window to wait out. The refusal must be
// wpauthz's (code), not the bridge's: WordPress would refuse a deleted
// user by itself. The time the first refusal took is logged.
func requireRefused(t *testing.T, what, auth, code string, changed time.Time) {
	t.Helper()
	st, h, body := stack.Request(t, stack.NginxURL, "GET", "/wp-json/wp/v2/users/me", hdrs("Authorization", auth), nil)
	elapsed := time.Since(changed)
	wantWPAuthzDenial(t, st, h, body, 401, code)
	t.Logf("%s: refused %v after the change returned (%s)", what, elapsed.Round(time.Microsecond), code)
}

func TestPasswordChangeInWordPressEndsTokens(t *testing.T) {
	requireStack(t)
	u := newUser(t, "pw", "editor", "first-password-3f9c1e")
	tok := loginBearer(t, stack, u)
	requireUser(t, "token before the change", bearer(tok), u)
	requireUser(t, "Basic before the change (now in wpauthz's credential cache)", basicCredential(u.Login, u.Password), u)

	// wp_set_password is what wp-admin, password resets and plugins call.
	old := u.Password
	u.Password = "second-password-8d2a7b"
	stack.PHP(t, fmt.Sprintf(`wp_set_password(%q, %d);`, u.Password, u.ID))
	changed := time.Now()
	requireRefused(t, "token issued before wp_set_password", bearer(tok), "wpauthz_invalid_token", changed)
	requireRefused(t, "Basic with the old password", basicCredential(u.Login, old), "wpauthz_invalid_credentials", changed)
	requireUser(t, "login with the new password", bearer(loginBearer(t, stack, u)), u)
}

func TestPasswordChangeThroughTheRESTAPIEndsTokens(t *testing.T) {
	requireStack(t)
	u := newUser(t, "rest", "author", "rest-password-1a2b3c")
	old := loginBearer(t, stack, u)
	current := loginBearer(t, stack, u)

	// The user changes their own password through the REST API (the
	// bridge makes WordPress see the Bearer token's user).
	u.Password = "rest-password-new-4d5e6f"
	body, _ := json.Marshal(map[string]string{"password": u.Password})
	status, _, resp := stack.Request(t, stack.NginxURL, "POST", "/wp-json/wp/v2/users/me",
		hdrs("Authorization", bearer(current), "Content-Type", "application/json"), body)
	if status != 200 {
		t.Fatalf("changing the password through the REST API: %d %s", status, resp)
	}
	changed := time.Now()
	requireRefused(t, "another token issued before the REST password change", bearer(old), "wpauthz_invalid_token", changed)
	requireRefused(t, "the token that changed the password", bearer(current), "wpauthz_invalid_token", changed)
	requireUser(t, "login with the new password", bearer(loginBearer(t, stack, u)), u)
}

func TestRoleChangeEndsTokens(t *testing.T) {
	requireStack(t)
	u := newUser(t, "role", "editor", "role-password-7c8d9e")
	tok := loginBearer(t, stack, u)
	requireUser(t, "editor's token", bearer(tok), u)

	stack.PHP(t, fmt.Sprintf(`$u = new WP_User(%d); $u->set_role('subscriber');`, u.ID))
	changed := time.Now()
	requireRefused(t, "token issued while the user was an editor", bearer(tok), "wpauthz_invalid_token", changed)

	// A new token carries the new role: the editors-only rule refuses it.
	fresh := loginBearer(t, stack, u)
	st, h, resp := stack.Request(t, stack.NginxURL, "POST", "/wp-json/wp/v2/posts",
		hdrs("Authorization", bearer(fresh), "Content-Type", "application/json"), []byte(`{"title":"demoted","status":"draft"}`))
	wantWPAuthzDenial(t, st, h, resp, 403, "rest_forbidden")
}

func TestApplicationPasswordRevocationEndsBasic(t *testing.T) {
	requireStack(t)
	u := newUser(t, "app", "author", "app-password-owner-5e6f")
	out := stack.PHP(t, fmt.Sprintf(`
$r = WP_Application_Passwords::create_new_application_password(%d, array('name' => 'e2e'));
if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message()); exit(1); }
echo $r[0], ' ', $r[1]['uuid'];`, u.ID))
	appPass, uuid, ok := strings.Cut(strings.TrimSpace(out), " ")
	if !ok {
		t.Fatalf("creating an application password: %q", out)
	}
	auth := basicCredential(u.Login, appPass)
	// Twice: the second answer comes from wpauthz's verified-credentials
	// cache, which the revocation must empty.
	requireUser(t, "application password", auth, u)
	requireUser(t, "application password (cached)", auth, u)

	stack.PHP(t, fmt.Sprintf(`
$r = WP_Application_Passwords::delete_application_password(%d, %q);
if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message()); exit(1); }`, u.ID, uuid))
	requireRefused(t, "revoked application password", auth, "wpauthz_invalid_credentials", time.Now())
	requireUser(t, "the user's password still works", basicCredential(u.Login, u.Password), u)
}

func TestUserDeletionEndsTokens(t *testing.T) {
	requireStack(t)
	u := newUser(t, "del", "subscriber", "delete-password-9a8b")
	tok := loginBearer(t, stack, u)
	requireUser(t, "token before deletion", bearer(tok), u)

	stack.PHP(t, fmt.Sprintf(`require_once ABSPATH . 'wp-admin/includes/user.php'; if (!wp_delete_user(%d)) { exit(1); }`, u.ID))
	requireRefused(t, "token of a deleted user", bearer(tok), "wpauthz_invalid_token", time.Now())
}
