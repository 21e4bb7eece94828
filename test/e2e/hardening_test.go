package e2e

import (
	"bufio"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/wpauthz/wpauthz/test/freeport"
)

// TestHardening5_WordPressDoesNotHonourUnverifiedCredentials: an
// administrator's application password sent in Authorization, which
// wpauthz did not verify (the policy reads credentials from X-WP-Auth, or
// the request went around wpauthz), never makes WordPress authenticate the
// caller. /wp/v2/settings is public to wpauthz on the custom-header site,
// so WordPress's own capability check is all that decides.
func TestHardening5_WordPressDoesNotHonourUnverifiedCredentials(t *testing.T) {
	s := requireStack(t)
	admin := s.Users["administrator"]
	basic := basicCredential(admin.Login, admin.AppPassword)
	custom := s.Env["E2E_CUSTOM_HOST"]
	if custom == "" {
		t.Fatal("stack.env has no E2E_CUSTOM_HOST (stack from an older hack/e2e/up.sh?)")
	}
	refusedByWordPress := func(t *testing.T, what string, st int, h http.Header, body []byte) {
		t.Helper()
		if st == 200 {
			t.Fatalf("%s: WordPress authenticated the caller (%d): %.200s", what, st, body)
		}
		if h.Get("X-WPAuthz-Code") != "" {
			t.Fatalf("%s: refused by wpauthz (%s), want WordPress's own answer", what, h.Get("X-WPAuthz-Code"))
		}
		if e := decodeWPError(t, body); st != 401 || (e.Code != "rest_forbidden" && e.Code != "rest_forbidden_context") {
			t.Fatalf("%s: %d %+v, want 401 rest_forbidden", what, st, e)
		}
	}

	for _, target := range []string{"/wp-json/wp/v2/settings", "/?rest_route=/wp/v2/settings", "/wp-json/wp/v2/posts?context=edit"} {
		t.Run("through nginx and wpauthz "+target, func(t *testing.T) {
			st, h, body := s.Request(t, s.NginxURL, "GET", target, hdrs("Host", custom, "Authorization", basic), nil)
			refusedByWordPress(t, target, st, h, body)
		})
		// A path that forwards Authorization to PHP: a proxy that does not
		// clear it, or one that bypasses wpauthz. The bridge plugin alone
		// must keep WordPress from honouring it.
		t.Run("around wpauthz "+target, func(t *testing.T) {
			st, h, body := s.Request(t, s.DirectURL, "GET", target, hdrs("Authorization", basic), nil)
			refusedByWordPress(t, target, st, h, body)
		})
	}

	// Through wpauthz on the main site, the same application password is
	// verified by wpauthz and acts as the administrator (the bridge's
	// assertion, not core's Basic handling).
	t.Run("verified by wpauthz", func(t *testing.T) {
		st, _, body := s.Request(t, s.NginxURL, "GET", "/wp-json/wp/v2/posts?context=edit&per_page=1", hdrs("Authorization", basic), nil)
		if st != 200 {
			t.Fatalf("verified Basic: %d %.300s", st, body)
		}
	})
}

// TestHardening5_WhatPHPSeesForHeaderSpellings: the $_SERVER key real
// PHP (php-fpm) gives each spelling of a credential header agrees with the
// folding wpauthz uses to find them all (authz/strip.go: case, and '-',
// '_', '.' alike). Behind the stack's direct server (nginx with
// underscores_in_headers on) and behind an nginx that passes even invalid
// names (ignore_invalid_headers off), as a server that maps every name
// would.
func TestHardening5_WhatPHPSeesForHeaderSpellings(t *testing.T) {
	s := requireStack(t)
	script := "wpauthz-e2e-server-keys.php"
	path := filepath.Join(s.Env["WP_DIR"], script)
	if err := os.WriteFile(path, []byte(`<?php
$out = array();
foreach ( $_SERVER as $k => $v ) {
	if ( 0 === strpos( $k, 'HTTP_' ) && is_string( $v ) && 0 === strpos( $v, 'probe-' ) ) {
		$out[ $v ] = $k;
	}
}
header( 'Content-Type: application/json' );
echo json_encode( $out );
`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(path) })

	// Each group is one credential name in several spellings: PHP must
	// give every one of them the group's key, so at most one value per
	// group survives.
	groups := map[string][]string{
		"HTTP_X_WPAUTHZ_IDENTITY": {"X-WPAuthz-Identity", "X-WPAuthz_Identity", "x_wpauthz_identity", "X.WPAuthz.Identity"},
		"HTTP_X_API_KEY":          {"X_API_KEY", "X-Api_Key", "X-Api.Key"},
		"HTTP_X_WP_AUTH":          {"X_WP_Auth", "x-wp-auth", "x.wp-auth"},
		"HTTP_AUTHORIZATION":      {"AUTHORIZATION"},
	}
	probe := func(t *testing.T, base string, dotted bool) {
		t.Helper()
		h := http.Header{}
		want := map[string]string{} // probe value -> key
		for key, names := range groups {
			for i, n := range names {
				if !dotted && strings.Contains(n, ".") {
					continue
				}
				v := "probe-" + strings.ToLower(key) + "-" + string(rune('a'+i))
				h[n] = []string{v}
				want[v] = key
			}
		}
		st, _, body := s.Request(t, base, "GET", "/"+script, h, nil)
		if st != 200 {
			t.Fatalf("%d %s", st, body)
		}
		var got map[string]string
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		keys := map[string]bool{}
		for v, key := range got {
			if want[v] != key {
				t.Errorf("the header sent with %s reached PHP as %s, want %s", v, key, want[v])
			}
			keys[key] = true
		}
		if len(keys) != len(groups) || len(got) != len(groups) {
			t.Errorf("PHP's $_SERVER keys %v: want exactly one per credential name (%d)", got, len(groups))
		}
		t.Logf("PHP's $_SERVER keys: %v", got)
	}
	t.Run("underscores_in_headers on", func(t *testing.T) { probe(t, s.DirectURL, false) })
	t.Run("ignore_invalid_headers off", func(t *testing.T) { probe(t, permissiveNginx(t, s, ""), true) })
}

// permissiveNginx starts an nginx in front of the stack's php-fpm that
// passes every header name on (underscores, dots), with extra nginx
// directives in the PHP location, and returns its URL.
func permissiveNginx(t *testing.T, s *Stack, extra string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	dir := t.TempDir()
	addr := freeport.Addr(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`%s
worker_processes 1;
error_log %[2]s/error.log;
pid %[2]s/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[2]s/body; proxy_temp_path %[2]s/proxy; fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi; scgi_temp_path %[2]s/scgi;
    upstream php_fpm { server unix:%[3]s; }
    server {
        listen %[4]s;
        root %[5]s;
        underscores_in_headers on;
        ignore_invalid_headers off;
        location / { try_files $uri $uri/ /index.php$is_args$args; }
        location ~ \.php$ { include %[6]s; %[7]s }
    }
}
`, user, dir, filepath.Join(s.Dir, "php-fpm", "fpm.sock"), addr, s.Env["WP_DIR"], filepath.Join(s.Dir, "nginx", "fastcgi.conf"), extra)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-p", dir, "-c", cf, "-e", filepath.Join(dir, "error.log")).CombinedOutput(); err != nil {
		t.Fatalf("nginx: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(dir, "nginx.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGQUIT)
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHardening5_AllowCoreAuthConstant: WPAUTHZ_ALLOW_CORE_AUTH gives
// WordPress core its application-password check back on requests without
// an assertion; with one, the assertion still decides.
func TestHardening5_AllowCoreAuthConstant(t *testing.T) {
	s := requireStack(t)
	if !strings.Contains(readFile(t, filepath.Join(s.Env["WP_DIR"], "wp-config.php")), "WPAUTHZ_E2E_CORE_AUTH") {
		t.Fatal("wp-config.php has no WPAUTHZ_E2E_CORE_AUTH switch (stack from an older hack/e2e/up.sh?)")
	}
	base := permissiveNginx(t, s, "fastcgi_param WPAUTHZ_E2E_CORE_AUTH 1;")
	editor, admin := s.Users["editor"], s.Users["administrator"]
	basic := hdrs("Authorization", basicCredential(editor.Login, editor.AppPassword))
	wantUser(t, usersMe(t, s, base, basic), editor)
	// Without the constant (the direct server), the same request is anonymous.
	if st, _, body := s.Request(t, s.DirectURL, "GET", "/wp-json/wp/v2/users/me", basic, nil); st != 401 {
		t.Fatalf("without the constant: %d %.200s, want 401", st, body)
	}
	// An assertion and Basic together: the assertion decides.
	basic.Set("X-WPAuthz-Identity", signedAssertion(t, s, admin, "GET", "/wp-json/wp/v2/users/me"))
	wantUser(t, usersMe(t, s, base, basic), admin)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wpDB opens WordPress's database (the stack's read-write user).
func wpDB(t *testing.T, s *Stack) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", s.Env["WP_DB_DSN"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// dbWrites is MariaDB's count of executed write statements.
func dbWrites(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	rows, err := db.Query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_insert','Com_update','Com_delete','Com_replace','Com_insert_select','Com_delete_multi','Com_update_multi')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		n += v
	}
	return n
}

func countOptions(t *testing.T, db *sql.DB) (all, jti int64) {
	t.Helper()
	if err := db.QueryRow("SELECT COUNT(*), COALESCE(SUM(option_name LIKE '\\_wpauthz\\_jti\\_%'), 0) FROM wp_options").Scan(&all, &jti); err != nil {
		t.Fatal(err)
	}
	return all, jti
}

// TestHardening11_NoDatabaseWritePerRequest: authenticated API requests
// through nginx and wpauthz, each carrying a fresh identity assertion that
// the bridge plugin verifies, leave wp_options as it was and make no write
// to the database at all.
func TestHardening11_NoDatabaseWritePerRequest(t *testing.T) {
	s := requireStack(t)
	db := wpDB(t, s)
	tok := loginBearer(t, s, s.Users["editor"])
	const n = 25
	rowsBefore, _ := countOptions(t, db)
	writesBefore := dbWrites(t, db)
	for i := 0; i < n; i++ {
		target := "/wp-json/wp/v2/posts?per_page=1"
		if i%2 == 1 {
			target = "/wp-json/wp/v2/users/me"
		}
		st, _, body := s.Request(t, s.NginxURL, "GET", target, hdrs("Authorization", "Bearer "+tok), nil)
		if st != 200 {
			t.Fatalf("request %d: %d %.200s", i, st, body)
		}
	}
	writes := dbWrites(t, db) - writesBefore
	rowsAfter, jti := countOptions(t, db)
	if rowsAfter != rowsBefore || jti != 0 {
		t.Errorf("wp_options: %d rows before, %d after %d authenticated requests (%d jti rows)", rowsBefore, rowsAfter, n, jti)
	}
	if writes != 0 {
		t.Errorf("%d write statements during %d authenticated requests, want 0", writes, n)
	}
}

// TestHardening11_OneCheckPerClientRequest: in hack/e2e's nginx
// configuration (docs/integrations.md adapted to php-fpm), every client
// request that reaches PHP is checked by wpauthz exactly once, however it
// gets to index.php, and a request straight to a PHP file is checked too.
func TestHardening11_OneCheckPerClientRequest(t *testing.T) {
	s := requireStack(t)
	editor := "Bearer " + loginBearer(t, s, s.Users["editor"])
	logPath := filepath.Join(s.Dir, "nginx", "logs", "wpauthz-checks.log")
	checks := func(id string) int {
		f, err := os.Open(logPath)
		if err != nil {
			t.Fatalf("checks log: %v", err)
		}
		defer f.Close()
		n := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), id+" ") {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name, target, auth string
		status             int
		code               string // wpauthz's refusal, when it refuses
	}{
		{"pretty REST URL", "/wp-json/wp/v2/posts", "", 200, ""},
		{"pretty REST URL, authenticated", "/wp-json/wp/v2/users/me", editor, 200, ""},
		{"pretty REST URL, refused", "/wp-json/wp/v2/users/me", "", 401, "rest_not_logged_in"},
		{"REST index", "/wp-json/", "", 200, ""},
		{"rest_route on the front page", "/?rest_route=/wp/v2/posts", "", 200, ""},
		{"rest_route on a missing file", "/wp-content/nothing-here?rest_route=/wp/v2/posts", "", 200, ""},
		{"index.php directly", "/index.php?rest_route=/wp/v2/posts", "", 200, ""},
		{"index.php directly, disabled route", "/index.php?rest_route=/wp/v2/settings", "", 404, "rest_no_route"},
		{"index.php directly, authenticated", "/index.php?rest_route=/wp/v2/users/me", editor, 200, ""},
		{"PATH_INFO", "/index.php/wp-json/wp/v2/posts", "", 200, ""},
		{"front page", "/", "", 200, ""},
		{"wp-login.php", "/wp-login.php", "", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id := hex.EncodeToString(b)
			h := hdrs("X-E2E-Request", id)
			if tc.auth != "" {
				h.Set("Authorization", tc.auth)
			}
			st, rh, body := s.Request(t, s.NginxURL, "GET", tc.target, h, nil)
			if st != tc.status || rh.Get("X-WPAuthz-Code") != tc.code {
				t.Fatalf("%s: %d (wpauthz code %q) %.200s, want %d %q", tc.target, st, rh.Get("X-WPAuthz-Code"), body, tc.status, tc.code)
			}
			if n := checks(id); n != 1 {
				t.Fatalf("%s: wpauthz checked it %d times, want exactly once", tc.target, n)
			}
		})
	}
}
