package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Scenarios of issue 6, through nginx against the real WordPress. The bridge
// plugin's adversarial header cases are in bridge_test.go, the
// password-change revocation in notify_test.go.

// wpErrorBody is WordPress's REST error shape (wpauthz uses it too).
type wpErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    struct {
		Status int `json:"status"`
	} `json:"data"`
}

func decodeWPError(t testing.TB, body []byte) wpErrorBody {
	t.Helper()
	var e wpErrorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Code == "" {
		t.Fatalf("not a WordPress error body (%v): %.300s", err, body)
	}
	return e
}

// wpUser is what /wp/v2/users/me answers (context=edit adds roles).
type wpUser struct {
	ID    int64    `json:"id"`
	Slug  string   `json:"slug"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

func hdrs(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func basicCredential(login, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+secret))
}

// loginBearer logs in at wpauthz's token endpoint through nginx with the
// user's real WordPress password and returns the access token.
func loginBearer(t testing.TB, s *Stack, u User) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": u.Login, "password": u.Password})
	st, _, resp := s.Request(t, s.NginxURL, "POST", "/wp-json/api/v1/token", hdrs("Content-Type", "application/json"), body)
	if st != 200 {
		t.Fatalf("login as %s: %d %s", u.Login, st, resp)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(resp, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login as %s: no access_token in %s (%v)", u.Login, resp, err)
	}
	return tok.AccessToken
}

// usersMe asks WordPress, through nginx, who the caller is.
func usersMe(t testing.TB, s *Stack, base string, h http.Header) wpUser {
	t.Helper()
	st, _, body := s.Request(t, base, "GET", "/wp-json/wp/v2/users/me?context=edit", h, nil)
	if st != 200 {
		t.Fatalf("users/me: %d %s", st, body)
	}
	var u wpUser
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatalf("users/me: %v: %s", err, body)
	}
	return u
}

func wantUser(t testing.TB, got wpUser, u User) {
	t.Helper()
	if got.ID != u.ID || got.Slug != u.Login || len(got.Roles) != 1 || got.Roles[0] != u.Role {
		t.Fatalf("WordPress says the caller is id=%d slug=%q roles=%q, want id=%d %q [%s]", got.ID, got.Slug, got.Roles, u.ID, u.Login, u.Role)
	}
}

// wantWPAuthzDenial checks that nginx answered with wpauthz's refusal (the
// X-WPAuthz-Code header comes only from the denial location), never a
// WordPress response.
func wantWPAuthzDenial(t testing.TB, st int, h http.Header, body []byte, status int, code string) {
	t.Helper()
	if st != status || h.Get("X-WPAuthz-Code") != code {
		t.Fatalf("got %d X-WPAuthz-Code=%q %.300s; want wpauthz's %d %s", st, h.Get("X-WPAuthz-Code"), body, status, code)
	}
	if e := decodeWPError(t, body); e.Code != code || e.Data.Status != status {
		t.Fatalf("body %+v, want code %s status %d", e, code, status)
	}
}

func TestLoginWithWordPressPasswordThenBearer(t *testing.T) {
	s := requireStack(t)
	for _, role := range []string{"administrator", "editor", "author", "subscriber"} {
		t.Run(role, func(t *testing.T) {
			u := s.Users[role]
			tok := loginBearer(t, s, u)
			wantUser(t, usersMe(t, s, s.NginxURL, hdrs("Authorization", "Bearer "+tok)), u)
		})
	}

	t.Run("form login by email", func(t *testing.T) {
		u := s.Users["editor"]
		form := "username=" + strings.ReplaceAll(u.Email, "@", "%40") + "&password=" + u.Password
		st, _, body := s.Request(t, s.NginxURL, "POST", "/wp-json/api/v1/token", hdrs("Content-Type", "application/x-www-form-urlencoded"), []byte(form))
		if st != 200 {
			t.Fatalf("form login: %d %s", st, body)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(body, &tok)
		wantUser(t, usersMe(t, s, s.NginxURL, hdrs("Authorization", "Bearer "+tok.AccessToken)), u)
	})

	t.Run("wrong password", func(t *testing.T) {
		body, _ := json.Marshal(map[string]string{"username": s.Users["author"].Login, "password": "not-" + s.Users["author"].Password})
		st, _, resp := s.Request(t, s.NginxURL, "POST", "/wp-json/api/v1/token", hdrs("Content-Type", "application/json"), body)
		if e := decodeWPError(t, resp); st != 401 || e.Code != "wpauthz_invalid_credentials" {
			t.Fatalf("%d %s", st, resp)
		}
	})

	t.Run("invalid bearer on a public route is refused, not downgraded", func(t *testing.T) {
		tok := loginBearer(t, s, s.Users["author"])
		st, h, body := s.Request(t, s.NginxURL, "GET", "/wp-json/wp/v2/posts", hdrs("Authorization", "Bearer "+tok[:len(tok)-4]+"AAAA"), nil)
		wantWPAuthzDenial(t, st, h, body, 401, "wpauthz_invalid_token")
		if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
		}
	})

	t.Run("no credential on a route that needs one", func(t *testing.T) {
		st, h, body := s.Request(t, s.NginxURL, "GET", "/wp-json/wp/v2/users/me", nil, nil)
		wantWPAuthzDenial(t, st, h, body, 401, "rest_not_logged_in")
	})
}

func TestWritePostsAndPagesByRole(t *testing.T) {
	s := requireStack(t)
	editor, subscriber := s.Users["editor"], s.Users["subscriber"]
	edTok, subTok := loginBearer(t, s, editor), loginBearer(t, s, subscriber)
	jsonBody := func(title string) []byte {
		b, _ := json.Marshal(map[string]string{"title": title, "status": "draft", "content": "written through wpauthz"})
		return b
	}
	bearerJSON := func(tok string) http.Header {
		return hdrs("Authorization", "Bearer "+tok, "Content-Type", "application/json")
	}
	countBy := func(postType string, u User) int {
		out := s.PHP(t, fmt.Sprintf(`echo count(get_posts(array('post_type' => %q, 'post_status' => 'any', 'author' => %d, 'numberposts' => -1)));`, postType, u.ID))
		n, err := strconv.Atoi(strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("php printed %q", out)
		}
		return n
	}

	t.Run("editor creates a post: 201 from WordPress, authored by the editor", func(t *testing.T) {
		title := "e2e post by editor " + strconv.FormatInt(time.Now().UnixNano(), 36)
		st, h, body := s.Request(t, s.NginxURL, "POST", "/wp-json/wp/v2/posts", bearerJSON(edTok), jsonBody(title))
		if st != 201 || h.Get("X-WPAuthz-Code") != "" {
			t.Fatalf("%d %s", st, body)
		}
		var p struct {
			ID     int64 `json:"id"`
			Author int64 `json:"author"`
			Title  struct {
				Raw string `json:"raw"`
			} `json:"title"`
		}
		if err := json.Unmarshal(body, &p); err != nil || p.Author != editor.ID || p.Title.Raw != title {
			t.Fatalf("created %+v (%v): %.300s", p, err, body)
		}
		if got := strings.TrimSpace(s.PHP(t, fmt.Sprintf(`echo get_post(%d)->post_title;`, p.ID))); got != title {
			t.Fatalf("the database has %q", got)
		}
	})

	t.Run("subscriber creates a post: 403 from the wpauthz rule", func(t *testing.T) {
		before := countBy("post", subscriber)
		st, h, body := s.Request(t, s.NginxURL, "POST", "/wp-json/wp/v2/posts", bearerJSON(subTok), jsonBody("e2e post by subscriber"))
		wantWPAuthzDenial(t, st, h, body, 403, "rest_forbidden")
		if after := countBy("post", subscriber); after != before {
			t.Fatalf("subscriber's posts went from %d to %d", before, after)
		}
	})

	t.Run("subscriber creates a page: 403 from WordPress's capability check", func(t *testing.T) {
		before := countBy("page", subscriber)
		st, h, body := s.Request(t, s.NginxURL, "POST", "/wp-json/wp/v2/pages", bearerJSON(subTok), jsonBody("e2e page by subscriber"))
		e := decodeWPError(t, body)
		if st != 403 || e.Code != "rest_cannot_create" || h.Get("X-WPAuthz-Code") != "" {
			t.Fatalf("got %d X-WPAuthz-Code=%q %s; want WordPress's 403 rest_cannot_create", st, h.Get("X-WPAuthz-Code"), body)
		}
		if after := countBy("page", subscriber); after != before {
			t.Fatalf("subscriber's pages went from %d to %d", before, after)
		}
	})

	t.Run("editor creates a page: 201", func(t *testing.T) {
		st, _, body := s.Request(t, s.NginxURL, "POST", "/wp-json/wp/v2/pages", bearerJSON(edTok), jsonBody("e2e page by editor"))
		if st != 201 {
			t.Fatalf("%d %s", st, body)
		}
	})
}

func TestApplicationPasswordAndAPIKeyActAsTheirUser(t *testing.T) {
	s := requireStack(t)
	for _, role := range []string{"administrator", "editor", "subscriber"} {
		u := s.Users[role]
		t.Run("basic application password "+role, func(t *testing.T) {
			wantUser(t, usersMe(t, s, s.NginxURL, hdrs("Authorization", basicCredential(u.Login, u.AppPassword))), u)
		})
	}
	t.Run("basic application password without spaces, by email", func(t *testing.T) {
		u := s.Users["author"]
		wantUser(t, usersMe(t, s, s.NginxURL, hdrs("Authorization", basicCredential(u.Email, strings.ReplaceAll(u.AppPassword, " ", "")))), u)
	})
	t.Run("basic WordPress password", func(t *testing.T) {
		u := s.Users["author"]
		wantUser(t, usersMe(t, s, s.NginxURL, hdrs("Authorization", basicCredential(u.Login, u.Password))), u)
	})
	t.Run("basic wrong application password", func(t *testing.T) {
		u := s.Users["editor"]
		st, h, body := s.Request(t, s.NginxURL, "GET", "/wp-json/wp/v2/users/me", hdrs("Authorization", basicCredential(u.Login, "abcd efgh ijkl mnop qrst uvwx")), nil)
		wantWPAuthzDenial(t, st, h, body, 401, "wpauthz_invalid_credentials")
	})

	for _, role := range []string{"editor", "subscriber"} {
		u, key := s.Users[role], s.APIKeys[role]
		if key == "" {
			t.Fatalf("stack.json has no API key for %s", role)
		}
		t.Run("api key header "+role, func(t *testing.T) {
			wantUser(t, usersMe(t, s, s.NginxURL, hdrs("X-API-Key", key)), u)
		})
		t.Run("api key in Authorization "+role, func(t *testing.T) {
			wantUser(t, usersMe(t, s, s.NginxURL, hdrs("Authorization", "ApiKey "+key)), u)
		})
	}
	t.Run("subscriber's api key cannot write posts (wpauthz rule)", func(t *testing.T) {
		st, h, body := s.Request(t, s.NginxURL, "POST", "/wp-json/wp/v2/posts",
			hdrs("X-API-Key", s.APIKeys["subscriber"], "Content-Type", "application/json"), []byte(`{"title":"by key"}`))
		wantWPAuthzDenial(t, st, h, body, 403, "rest_forbidden")
	})
	t.Run("editor's api key writes a post as the editor", func(t *testing.T) {
		st, _, body := s.Request(t, s.NginxURL, "POST", "/wp-json/wp/v2/posts",
			hdrs("X-API-Key", s.APIKeys["editor"], "Content-Type", "application/json"), []byte(`{"title":"by editor key","status":"draft"}`))
		var p struct {
			Author int64 `json:"author"`
		}
		if st != 201 || json.Unmarshal(body, &p) != nil || p.Author != s.Users["editor"].ID {
			t.Fatalf("%d %s", st, body)
		}
	})
	t.Run("unknown api key", func(t *testing.T) {
		st, h, body := s.Request(t, s.NginxURL, "GET", "/wp-json/wp/v2/posts", hdrs("X-API-Key", "wpk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_000000"), nil)
		wantWPAuthzDenial(t, st, h, body, 401, "wpauthz_invalid_api_key")
	})
}

// routeProof checks, on the direct path, that WordPress really serves the
// disabled route for a spelling: so a refusal through nginx is wpauthz's
// doing, not a spelling WordPress would not route anyway.
type routeProof struct {
	name  string
	check func(st int, h http.Header, body []byte) bool
}

var (
	servesSettings = routeProof{"WordPress serves /wp/v2/settings", func(st int, _ http.Header, body []byte) bool {
		var v struct {
			Title *string `json:"title"`
		}
		return st == 200 && json.Unmarshal(body, &v) == nil && v.Title != nil && *v.Title == "wpauthz e2e"
	}}
	servesSettingsHead = routeProof{"WordPress serves /wp/v2/settings (HEAD)", func(st int, h http.Header, _ []byte) bool {
		return st == 200 && strings.Contains(h.Get("Link"), "api.w.org") && h.Get("Allow") != ""
	}}
	listsUsers = routeProof{"WordPress lists the users", func(st int, h http.Header, body []byte) bool {
		if st != 200 || h.Get("X-WP-Total") == "" {
			return false
		}
		var v []wpUser
		return len(body) == 0 || json.Unmarshal(body, &v) == nil && len(v) >= 4
	}}
	reachesUserDelete = routeProof{"WordPress runs DELETE /wp/v2/users/<id> (asks for 'reassign', which only DELETE takes)", func(st int, _ http.Header, body []byte) bool {
		var e wpErrorBody
		return st == 400 && json.Unmarshal(body, &e) == nil && e.Code == "rest_missing_callback_param" && strings.Contains(string(body), "reassign")
	}}
)

func TestDisabledRoutesInManySpellings(t *testing.T) {
	s := requireStack(t)
	admin := s.Users["administrator"]
	subscriberID := strconv.FormatInt(s.Users["subscriber"].ID, 10)
	user := "/wp/v2/users/" + subscriberID
	form := "application/x-www-form-urlencoded"

	type spelling struct {
		method, target string
		hdr            []string // extra header pairs
		body           string
		status         int
		code           string
		proof          routeProof
	}
	cases := []spelling{
		// /wp/v2/settings: every method disabled.
		{"GET", "/wp-json/wp/v2/settings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/wp-json/wp/v2/settings/", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/wp-json/wp/v2/SETTINGS", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/wp-json/WP/V2/Settings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "//wp-json/wp/v2/settings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/index.php/wp-json/wp/v2/settings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/wp-json/wp/v2/settings?_method=GET", nil, "", 404, "rest_no_route", servesSettings},
		{"HEAD", "/wp-json/wp/v2/settings", nil, "", 404, "rest_no_route", servesSettingsHead},
		{"POST", "/wp-json/wp/v2/settings", []string{"X-HTTP-Method-Override", "GET"}, "", 404, "rest_no_route", servesSettings},
		{"GET", "/?rest_route=/wp/v2/settings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/index.php?rest_route=/wp/v2/settings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/?rest_route=/wp/v2/settings/", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/?rest_route=/WP/v2/Settings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/?rest_route=%2Fwp%2Fv2%2Fsettings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/?rest_route=/wp/v2/set%74ings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/hello-world/?rest_route=/wp/v2/settings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/wp-content/no-such-file?rest_route=/wp/v2/settings", nil, "", 404, "rest_no_route", servesSettings},
		// PHP keeps the last of repeated keys, and mangles "." " " "[" in
		// key names to "_".
		{"GET", "/?rest_route=/wp/v2/posts&rest_route=/wp/v2/settings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/?rest.route=/wp/v2/settings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/?rest%20route=/wp/v2/settings", nil, "", 404, "rest_no_route", servesSettings},
		{"GET", "/?rest[route=/wp/v2/settings", nil, "", 404, "rest_no_route", servesSettings},
		{"POST", "/?rest_route=/wp/v2/settings", []string{"Content-Type", "application/json"}, "{}", 404, "rest_no_route", servesSettings},
		// The route in a form body: nginx cannot show wpauthz the body,
		// so wpauthz refuses rather than guess.
		{"POST", "/", []string{"Content-Type", form}, "rest_route=/wp/v2/settings", 400, "wpauthz_ambiguous_request", servesSettings},
		{"POST", "/index.php", []string{"Content-Type", form}, "rest_route=%2Fwp%2Fv2%2Fsettings", 400, "wpauthz_ambiguous_request", servesSettings},

		// GET /wp/v2/users (user enumeration) disabled; other methods
		// allowed, so the override must be seen.
		{"GET", "/wp-json/wp/v2/users", nil, "", 404, "rest_no_route", listsUsers},
		{"GET", "/wp-json/wp/v2/users/", nil, "", 404, "rest_no_route", listsUsers},
		{"GET", "/wp-json/wp/v2/Users", nil, "", 404, "rest_no_route", listsUsers},
		{"HEAD", "/wp-json/wp/v2/users", nil, "", 404, "rest_no_route", listsUsers},
		{"GET", "/?rest_route=/wp/v2/users", nil, "", 404, "rest_no_route", listsUsers},
		{"POST", "/wp-json/wp/v2/users?_method=GET", nil, "", 404, "rest_no_route", listsUsers},
		{"POST", "/wp-json/wp/v2/users?_method=get", nil, "", 404, "rest_no_route", listsUsers},
		{"POST", "/wp-json/wp/v2/users", []string{"X-HTTP-Method-Override", "GET"}, "", 404, "rest_no_route", listsUsers},
		{"POST", "/?rest_route=/wp/v2/users&_method=GET", nil, "", 404, "rest_no_route", listsUsers},

		// DELETE /wp/v2/users/<id> disabled: a GET turned into a DELETE.
		{"GET", "/wp-json" + user + "?_method=DELETE", nil, "", 404, "rest_no_route", reachesUserDelete},
		{"GET", "/wp-json" + user + "?_method=delete", nil, "", 404, "rest_no_route", reachesUserDelete},
		{"GET", "/wp-json" + user + "?_method=GET&_method=DELETE", nil, "", 404, "rest_no_route", reachesUserDelete},
		{"GET", "/wp-json" + user, []string{"X-HTTP-Method-Override", "DELETE"}, "", 404, "rest_no_route", reachesUserDelete},
		{"GET", "/wp-json" + user + "?_method=DELETE", []string{"X-HTTP-Method-Override", "GET"}, "", 404, "rest_no_route", reachesUserDelete},
		{"POST", "/wp-json" + user, []string{"X-HTTP-Method-Override", "DELETE"}, "", 404, "rest_no_route", reachesUserDelete},
		{"GET", "/?rest_route=" + user + "&_method=DELETE", nil, "", 404, "rest_no_route", reachesUserDelete},
		{"GET", "/?rest_route=/wp/v2/users/me&_method=DELETE", nil, "", 404, "rest_no_route", reachesUserDelete},
		{"GET", "/wp-json/WP/v2/USERS/" + subscriberID + "/?_method=DELETE", nil, "", 404, "rest_no_route", reachesUserDelete},
	}
	auth := basicCredential(admin.Login, admin.AppPassword)
	for _, c := range cases {
		name := c.method + " " + c.target
		if len(c.hdr) > 0 {
			name += " " + strings.Join(c.hdr, ": ")
		}
		if c.body != "" {
			name += " body " + c.body
		}
		t.Run(name, func(t *testing.T) {
			h := hdrs(append([]string{"Authorization", auth}, c.hdr...)...)
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			// Through nginx, even the administrator is refused, by wpauthz.
			st, rh, rb := s.Request(t, s.NginxURL, c.method, c.target, h, body)
			if c.method == "HEAD" {
				if st != c.status || rh.Get("X-WPAuthz-Code") != c.code {
					t.Fatalf("through nginx: %d X-WPAuthz-Code=%q, want %d %s", st, rh.Get("X-WPAuthz-Code"), c.status, c.code)
				}
			} else {
				wantWPAuthzDenial(t, st, rh, rb, c.status, c.code)
			}
			// Straight to PHP, the same request reaches the route (on
			// WordPress without the bridge plugin, which would not let core
			// honour the application password).
			st, rh, rb = s.Request(t, s.PlainURL, c.method, c.target, h, body)
			if !c.proof.check(st, rh, rb) {
				t.Fatalf("straight to PHP: %d %.300s; want: %s", st, rb, c.proof.name)
			}
		})
	}

	// Not disabled: the same routes with an allowed method still work
	// through nginx (the rules are not over-broad).
	t.Run("GET one user is allowed", func(t *testing.T) {
		st, _, body := s.Request(t, s.NginxURL, "GET", "/wp-json"+user, hdrs("Authorization", auth), nil)
		var u wpUser
		if st != 200 || json.Unmarshal(body, &u) != nil || strconv.FormatInt(u.ID, 10) != subscriberID {
			t.Fatalf("%d %s", st, body)
		}
	})
}

// signedAssertion makes an identity assertion exactly as wpauthz would,
// signed with the stack's identity key: what an attacker who stole the key
// could send, and what the bridge accepts when it arrives.
func signedAssertion(t testing.TB, s *Stack, u User, method, path string) string {
	t.Helper()
	jti := make([]byte, 12)
	if _, err := rand.Read(jti); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	head, _ := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "wpauthz-id+jwt"})
	claims, _ := json.Marshal(map[string]any{
		"sub": strconv.FormatInt(u.ID, 10), "login": u.Login, "roles": []string{u.Role}, "amr": []string{"jwt"},
		"aud": s.Host, "htm": method, "htu": path, "jti": base64.RawURLEncoding.EncodeToString(jti),
		"iat": now, "exp": now + 30,
	})
	enc := base64.RawURLEncoding
	in := enc.EncodeToString(head) + "." + enc.EncodeToString(claims)
	return in + "." + enc.EncodeToString(ed25519.Sign(s.IdentityKey, []byte(in)))
}

func TestClientIdentityHeaderNotTrustedThroughNginx(t *testing.T) {
	s := requireStack(t)
	admin, subscriber := s.Users["administrator"], s.Users["subscriber"]
	id := strings.TrimSpace(s.PHP(t, fmt.Sprintf(`echo wp_insert_post(array('post_title' => 'e2e secret draft', 'post_status' => 'draft', 'post_author' => %d));`, admin.ID)))
	if _, err := strconv.Atoi(id); err != nil || id == "0" {
		t.Fatalf("wp_insert_post printed %q", id)
	}
	path := "/wp-json/wp/v2/posts/" + id
	isDraft := func(st int, body []byte) bool {
		var p struct {
			Title struct {
				Rendered string `json:"rendered"`
			} `json:"title"`
		}
		return st == 200 && json.Unmarshal(body, &p) == nil && p.Title.Rendered == "e2e secret draft"
	}

	// The proof that the forged header is good enough to fool PHP: straight
	// to PHP, a correctly signed admin assertion reads the draft.
	st, _, body := s.Request(t, s.DirectURL, "GET", path, hdrs("X-WPAuthz-Identity", signedAssertion(t, s, admin, "GET", path)), nil)
	if !isDraft(st, body) {
		t.Fatalf("straight to PHP, a valid admin assertion did not read the draft: %d %.300s (is the bridge plugin installed?)", st, body)
	}

	for _, name := range []string{"X-WPAuthz-Identity", "x-wpauthz-identity", "X-WPAUTHZ-IDENTITY", "X-WPAuthz_Identity"} {
		t.Run("anonymous with "+name, func(t *testing.T) {
			st, h, body := s.Request(t, s.NginxURL, "GET", path, hdrs(name, signedAssertion(t, s, admin, "GET", path)), nil)
			if isDraft(st, body) {
				t.Fatal("nginx passed the client's identity header to WordPress")
			}
			// WordPress's own answer to an anonymous reader of a draft.
			if e := decodeWPError(t, body); st != 401 || e.Code != "rest_forbidden" || h.Get("X-WPAuthz-Code") != "" {
				t.Fatalf("%d %s", st, body)
			}
		})
	}
	t.Run("anonymous with the header twice", func(t *testing.T) {
		h := hdrs("X-WPAuthz-Identity", signedAssertion(t, s, admin, "GET", path), "X-WPAuthz-Identity", signedAssertion(t, s, admin, "GET", path))
		if st, _, body := s.Request(t, s.NginxURL, "GET", path, h, nil); isDraft(st, body) || st != 401 {
			t.Fatalf("%d %s", st, body)
		}
	})
	t.Run("a garbage header is dropped, not passed on (the bridge would refuse it)", func(t *testing.T) {
		h := hdrs("X-WPAuthz-Identity", "garbage.garbage.garbage")
		st, _, body := s.Request(t, s.NginxURL, "GET", "/wp-json/wp/v2/posts", h, nil)
		if st != 200 {
			t.Fatalf("through nginx: %d %s", st, body)
		}
		st, _, body = s.Request(t, s.DirectURL, "GET", "/wp-json/wp/v2/posts", h, nil)
		if st != 401 {
			t.Fatalf("straight to PHP the bridge should refuse it: %d %s", st, body)
		}
	})
	t.Run("subscriber with a forged admin header stays the subscriber", func(t *testing.T) {
		tok := loginBearer(t, s, subscriber)
		me := "/wp-json/wp/v2/users/me"
		wantUser(t, usersMe(t, s, s.NginxURL, hdrs("Authorization", "Bearer "+tok, "X-WPAuthz-Identity", signedAssertion(t, s, admin, "GET", me))), subscriber)
		st, _, body := s.Request(t, s.NginxURL, "GET", path, hdrs("Authorization", "Bearer "+tok, "X-WPAuthz-Identity", signedAssertion(t, s, admin, "GET", path)), nil)
		if e := decodeWPError(t, body); isDraft(st, body) || st != 403 || e.Code != "rest_forbidden" {
			t.Fatalf("%d %s", st, body)
		}
	})
}

func TestWPAuthzDownNginxFailsClosed(t *testing.T) {
	s := requireStack(t)
	editor, admin := s.Users["editor"], s.Users["administrator"]
	restarted := false
	s.StopWPAuthz(t)
	t.Cleanup(func() {
		if !restarted {
			s.StartWPAuthz(t)
		}
	})
	before := strings.TrimSpace(s.PHP(t, `echo wp_count_posts('post')->draft;`))

	for _, c := range []struct {
		method, target string
		hdr            http.Header
		body           string
	}{
		{"GET", "/wp-json/", nil, ""},
		{"GET", "/wp-json/wp/v2/posts", nil, ""},
		{"GET", "/?rest_route=/wp/v2/posts", nil, ""},
		{"GET", "/wp-json/wp/v2/users/me", hdrs("Authorization", basicCredential(admin.Login, admin.AppPassword)), ""},
		{"GET", "/wp-json/wp/v2/settings", hdrs("Authorization", basicCredential(admin.Login, admin.AppPassword)), ""},
		{"POST", "/wp-json/wp/v2/posts", hdrs("Authorization", basicCredential(editor.Login, editor.AppPassword), "Content-Type", "application/json"), `{"title":"while wpauthz is down","status":"draft"}`},
		{"POST", "/wp-json/api/v1/token", hdrs("Content-Type", "application/json"), `{"username":"editor","password":"x"}`},
	} {
		t.Run(c.method+" "+c.target, func(t *testing.T) {
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			st, _, rb := s.Request(t, s.NginxURL, c.method, c.target, c.hdr, body)
			if !(st >= 500 || st == 401 || st == 403) {
				t.Fatalf("with wpauthz down nginx answered %d %.300s", st, rb)
			}
			for _, wp := range []string{`"namespaces"`, `"id":`, `"title"`, `"access_token"`} {
				if strings.Contains(string(rb), wp) {
					t.Fatalf("a WordPress (or token) answer got through: %d %.300s", st, rb)
				}
			}
			t.Logf("%d", st)
		})
	}
	if after := strings.TrimSpace(s.PHP(t, `echo wp_count_posts('post')->draft;`)); after != before {
		t.Fatalf("drafts went from %s to %s while wpauthz was down", before, after)
	}

	s.StartWPAuthz(t)
	restarted = true
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _, body := s.Request(t, s.NginxURL, "GET", "/wp-json/wp/v2/posts", nil, nil)
		if st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restarting wpauthz nginx still answers %d %.300s", st, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantUser(t, usersMe(t, s, s.NginxURL, hdrs("Authorization", basicCredential(editor.Login, editor.AppPassword))), editor)
}
