package httpauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz"
)

// Tests in this file run the proxy configurations of docs/integrations.md, as
// written there, in real proxies in front of this handler and a stand-in
// WordPress. Each needs its proxy's binary (Debian packages nginx-light,
// caddy) and is skipped without it.

// TestNginxAuthRequest runs the nginx configuration of docs/integrations.md,
// as written there, in a real nginx in front of this handler and a stand-in
// WordPress, and checks what clients and WordPress get. It needs the nginx
// binary (Debian package nginx or nginx-light); without it the test is
// skipped.
func TestNginxAuthRequest(t *testing.T) {
	nginxBin, err := exec.LookPath("nginx")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/nginx"); statErr != nil {
			missingProxy(t, "nginx not installed (apt-get install nginx-light)")
		}
		nginxBin = "/usr/sbin/nginx"
	}

	rec, authzSrv, wp := proxyStage(t)
	addr := startNginx(t, nginxBin, map[string]string{
		"wpauthz.wpauthz.svc.cluster.local:8080":   authzSrv.Listener.Addr().String(),
		"wordpress.wordpress.svc.cluster.local:80": wp.Listener.Addr().String(),
	})

	checkProxy(t, addr, rec, "")
}

// seen is what the stand-in WordPress reports about the request it got.
type seen struct {
	Identity      []string
	Authorization []string
	APIKey        []string
	Host          string
	RequestURI    string
	// Credentials are the names of every header PHP would read as a
	// credential or identity header (any spelling).
	Credentials []string `json:",omitempty"`
}

// phpCredentialKeys are the $_SERVER keys of the headers no unverified
// client value may reach WordPress in: Authorization, the API-key header,
// the custom credential header of docs/integrations.md, the identity header.
var phpCredentialKeys = map[string]bool{"HTTP_AUTHORIZATION": true, "HTTP_X_API_KEY": true, "HTTP_X_WP_AUTH": true, "HTTP_X_WPAUTHZ_IDENTITY": true}

// phpKey is the $_SERVER key PHP gives a header name behind a FastCGI
// server (upper case, '-' as '_'; PHP turns '.' and ' ' into '_' too).
func phpKey(name string) string {
	return "HTTP_" + strings.NewReplacer("-", "_", ".", "_", " ", "_").Replace(strings.ToUpper(name))
}

// proxyStage starts the engine's stand-in (a decision per path) behind this
// handler, and a stand-in WordPress that reports what reached it.
func proxyStage(t *testing.T) (*recorder, *httptest.Server, *httptest.Server) {
	t.Helper()
	// The engine's stand-in: a decision per path.
	rec := &recorder{fn: func(r *authz.Request) *authz.Decision {
		path, _, _ := strings.Cut(r.Target, "?")
		deny := func(status int, code string, hs ...authz.Header) *authz.Decision {
			return &authz.Decision{Status: status, Code: code, ResponseHeaders: hs,
				Body: []byte(fmt.Sprintf(`{"code":%q,"message":"from wpauthz","data":{"status":%d}}`, code, status))}
		}
		switch path {
		case "/wp-json/wp/v2/posts":
			return &authz.Decision{Allowed: true, Status: 200,
				UpstreamHeaders: []authz.Header{{Name: "X-WPAuthz-Identity", Value: "issued-for-" + r.Method}},
				UpstreamRemove:  []string{"authorization", "x-api-key", "x-wpauthz-identity"}}
		case "/wp-json/public":
			return &authz.Decision{Allowed: true, Status: 200, UpstreamRemove: []string{"x-wpauthz-identity"}}
		case "/wp-json/need-login":
			return deny(401, "rest_not_logged_in", authz.Header{Name: "WWW-Authenticate", Value: `Bearer realm="wpauthz"`})
		case "/wp-json/forbidden":
			return deny(403, "rest_forbidden")
		case "/wp-json/disabled":
			return deny(404, "rest_no_route")
		case "/wp-json/throttled":
			return deny(429, "wpauthz_login_throttled", authz.Header{Name: "Retry-After", Value: "30"})
		case "/wp-json/ambiguous":
			return deny(400, "wpauthz_ambiguous_request")
		default:
			return deny(503, "wpauthz_unavailable")
		}
	}}
	authzSrv := httptest.NewServer(NewHandler(rec, nil))
	t.Cleanup(authzSrv.Close)

	// WordPress's stand-in reports what reached it.
	wp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(seen{
			Identity:      r.Header.Values("X-WPAuthz-Identity"),
			Authorization: r.Header.Values("Authorization"),
			APIKey:        r.Header.Values("X-API-Key"),
			Host:          r.Host,
			RequestURI:    r.RequestURI,
			Credentials:   credentialNames(r.Header),
		})
	}))
	t.Cleanup(wp.Close)

	return rec, authzSrv, wp
}

func credentialNames(h http.Header) []string {
	var out []string
	for name := range h {
		if phpCredentialKeys[phpKey(name)] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// checkProxy sends requests through a proxy configured as documented and
// checks what the client and WordPress get. A non-empty skipUnissued says why
// this proxy version cannot be expected to drop an identity header when
// wpauthz issues none.
func checkProxy(t *testing.T, addr string, rec *recorder, skipUnissued string) {
	send := func(method, target string, headers map[string]string, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "shop.example.com"
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		if body == "" {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp, buf.Bytes()
	}

	t.Run("allow: identity overwritten, credentials stripped, target raw", func(t *testing.T) {
		const target = "/wp-json/wp/v2/posts?search=%2e%2e%2Fx&rest_route=/wp/v2/posts"
		resp, body := send("PUT", target, map[string]string{
			"X-WPAuthz-Identity": "forged",
			"Authorization":      "Bearer secret",
			"X-API-Key":          "wpk_secret",
			// Forged descriptions of the request, in both conventions:
			// the documented configs must not let either through.
			"X-Original-URI":     "/wp-json/public",
			"X-Original-Method":  "GET",
			"X-Forwarded-Uri":    "/wp-json/public",
			"X-Forwarded-Method": "GET",
			"X-Forwarded-Host":   "other.example.com",
			"X-Forwarded-For":    "192.0.2.66",
		}, "")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var got seen
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		want := seen{Identity: []string{"issued-for-PUT"}, Host: "shop.example.com", RequestURI: target, Credentials: []string{"X-Wpauthz-Identity"}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("WordPress saw %+v, want %+v", got, want)
		}

		r := rec.last(t)
		if r.Method != "PUT" || r.Target != target || r.Host != "shop.example.com" || r.RemoteAddr != "127.0.0.1" {
			t.Fatalf("wpauthz saw %s %q host %q from %q", r.Method, r.Target, r.Host, r.RemoteAddr)
		}
		if r.Headers["authorization"] != "Bearer secret" || r.Headers["x-api-key"] != "wpk_secret" {
			t.Fatalf("credentials did not reach wpauthz: %q", r.Headers)
		}
		for _, h := range []string{"x-original-uri", "x-original-method", "x-forwarded-host", "x-forwarded-for", "content-length"} {
			if _, ok := r.Headers[h]; ok {
				t.Fatalf("forwarding header %s passed as a client header", h)
			}
		}
		if r.Body != nil || r.BodyComplete {
			t.Fatal("nginx sends no body, yet the request claims one")
		}
	})

	t.Run("allow without identity: the forged one is dropped", func(t *testing.T) {
		if skipUnissued != "" {
			t.Skip(skipUnissued)
		}
		resp, body := send("GET", "/wp-json/public", map[string]string{"X-WPAuthz-Identity": "forged"}, "")
		var got seen
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if len(got.Identity) != 0 {
			t.Fatalf("WordPress received identity %q", got.Identity)
		}
	})

	// Hardening item 5: whatever wpauthz decides, the documented
	// configuration lets no client credential reach WordPress in any
	// spelling PHP would read: not Authorization, not the API-key or
	// custom credential header, not an identity header with underscores or
	// dots, on an allowed request without an identity.
	t.Run("hardening5: no credential spelling reaches WordPress", func(t *testing.T) {
		req, err := http.NewRequest("GET", "http://"+addr+"/wp-json/public", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "shop.example.com"
		req.Header = http.Header{
			"Authorization":      {"Basic YWRtaW46YXBwIHBhc3N3b3Jk"},
			"X-Api-Key":          {"wpk_unverified"},
			"X-Wp-Auth":          {"Bearer unverified"},
			"X-WPAuthz_Identity": {"forged"},
			"X_API_KEY":          {"wpk_unverified"},
			"X_Wp_Auth":          {"Bearer unverified"},
			"X-Api.Key":          {"wpk_unverified"},
			"X.Wpauthz.Identity": {"forged"},
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got seen
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		creds := got.Credentials
		if skipUnissued != "" && len(creds) > 0 && creds[0] == "X-Wpauthz-Identity" {
			creds = creds[1:] // this proxy's own placeholder (see skipUnissued), not the client's
		}
		if len(creds) != 0 {
			t.Fatalf("WordPress received %q", creds)
		}
	})

	// Hardening item 11: the documented configuration asks wpauthz once
	// per client request.
	t.Run("hardening11: one check per request", func(t *testing.T) {
		for _, target := range []string{"/wp-json/public", "/wp-json/wp/v2/posts?per_page=1", "/wp-json/need-login"} {
			before := rec.count()
			send("GET", target, nil, "")
			if n := rec.count() - before; n != 1 {
				t.Fatalf("GET %s: %d checks, want 1", target, n)
			}
		}
	})

	t.Run("form POST: no body reaches wpauthz", func(t *testing.T) {
		send("POST", "/wp-json/public", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "rest_route=/wp/v2/users")
		if r := rec.last(t); r.Method != "POST" || len(r.Body) != 0 || r.BodyComplete {
			t.Fatalf("wpauthz saw %s body %q complete=%v", r.Method, r.Body, r.BodyComplete)
		}
	})

	for _, tc := range []struct {
		path, code string
		status     int
		header     [2]string
	}{
		{"/wp-json/need-login", "rest_not_logged_in", 401, [2]string{"WWW-Authenticate", `Bearer realm="wpauthz"`}},
		{"/wp-json/forbidden", "rest_forbidden", 403, [2]string{}},
		{"/wp-json/disabled", "rest_no_route", 404, [2]string{}},
		{"/wp-json/throttled", "wpauthz_login_throttled", 429, [2]string{"Retry-After", "30"}},
		{"/wp-json/ambiguous", "wpauthz_ambiguous_request", 400, [2]string{}},
		{"/wp-json/other", "wpauthz_unavailable", 503, [2]string{}},
	} {
		t.Run(fmt.Sprintf("deny %d", tc.status), func(t *testing.T) {
			resp, body := send("GET", tc.path, nil, "")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
				t.Fatalf("Content-Type %q", ct)
			}
			var e wpError
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if e.Code != tc.code || e.Data.Status != tc.status || e.Message == "" {
				t.Fatalf("body %+v", e)
			}
			if tc.header[0] != "" {
				if got := resp.Header.Values(tc.header[0]); !reflect.DeepEqual(got, []string{tc.header[1]}) {
					t.Fatalf("%s = %q, want exactly %q", tc.header[0], got, tc.header[1])
				}
			}
			for _, h := range []string{"WWW-Authenticate", "Retry-After"} {
				if h != tc.header[0] && resp.Header.Get(h) != "" {
					t.Fatalf("unexpected %s: %q", h, resp.Header.Get(h))
				}
			}
		})
	}
}

// startNginx writes the documented server block (with the documented
// addresses replaced) into a minimal nginx.conf, runs nginx in the
// foreground on a free loopback port and returns that address.
func startNginx(t *testing.T, bin string, replace map[string]string) string {
	t.Helper()
	snippet := docSnippet(t, "../../docs/integrations.md", "tested against a real nginx", "```nginx")

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()

	if !strings.Contains(snippet, "listen 80;") {
		t.Fatal("documented nginx block no longer has `listen 80;`")
	}
	snippet = strings.Replace(snippet, "listen 80;", "listen "+addr+";", 1)
	for from, to := range replace {
		if !strings.Contains(snippet, from) {
			t.Fatalf("documented nginx block no longer mentions %s", from)
		}
		snippet = strings.ReplaceAll(snippet, from, to)
	}
	runNginx(t, bin, addr, snippet)
	return addr
}

// runNginx runs nginx in the foreground with the http-block content conf,
// which must listen on addr, until the test ends.
func runNginx(t *testing.T, bin, addr, snippet string) {
	t.Helper()
	dir := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n" // workers would otherwise be nobody, locked out of dir
	}
	conf := fmt.Sprintf(`%sworker_processes 1;
error_log %[2]s/error.log info;
pid %[2]s/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
%[3]s
}
`, user, dir, snippet)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	waitListening(t, cmd, addr, syscall.SIGQUIT, func() string {
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return string(log)
	})
}

// waitListening starts cmd, stops it (stop, then kill) when the test ends,
// and waits until it accepts connections on addr. extraLog adds the proxy's
// own log to the output of a failed test.
func waitListening(t *testing.T, cmd *exec.Cmd, addr string, stop os.Signal, extraLog func() string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(stop)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s\n%s", cmd.Path, out.String(), extraLog())
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("%s exited: %v\n%s\n%s", cmd.Path, err, out.String(), extraLog())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s", cmd.Path, addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// docSnippet returns the first fenced block opening with fence after the
// line that names marker in the markdown file at path.
func docSnippet(t *testing.T, path, marker, fence string) string {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, marker)
	if i < 0 {
		t.Fatalf("%s: no block marked %q", path, marker)
	}
	s = s[i:]
	j := strings.Index(s, fence+"\n")
	if j < 0 {
		t.Fatalf("%s: no %s block after %q", path, fence, marker)
	}
	s = s[j+len(fence)+1:]
	k := strings.Index(s, "\n```")
	if k < 0 {
		t.Fatalf("%s: unterminated block", path)
	}
	return s[:k+1]
}

// TestCaddyForwardAuth runs the Caddyfile of docs/integrations.md.
func TestCaddyForwardAuth(t *testing.T) {
	bin, err := exec.LookPath("caddy")
	if err != nil {
		missingProxy(t, "caddy not installed (apt-get install caddy)")
	}
	rec, authzSrv, wp := proxyStage(t)

	site := docSnippet(t, "../../docs/integrations.md", "tested against a real Caddy", "```caddyfile")
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	for from, to := range map[string]string{
		"shop.example.com {":                       "http://:" + addr[strings.LastIndexByte(addr, ':')+1:] + " {\n\tbind 127.0.0.1",
		"wpauthz.wpauthz.svc.cluster.local:8080":   authzSrv.Listener.Addr().String(),
		"wordpress.wordpress.svc.cluster.local:80": wp.Listener.Addr().String(),
	} {
		if !strings.Contains(site, from) {
			t.Fatalf("documented Caddyfile no longer mentions %q", from)
		}
		site = strings.ReplaceAll(site, from, to)
	}
	runCaddy(t, bin, addr, site)

	skip := ""
	if v := caddyVersion(t, bin); v[0] < 2 || v[0] == 2 && v[1] < 9 {
		skip = fmt.Sprintf("Caddy %d.%d copies a literal placeholder when the auth response lacks a copy_headers field (caddy#6610, fixed in 2.9); docs/integrations.md requires 2.9", v[0], v[1])
	}
	checkProxy(t, addr, rec, skip)
}

// runCaddy runs Caddy with the site blocks sites, which must listen on
// addr, until the test ends.
func runCaddy(t *testing.T, bin, addr, sites string) {
	t.Helper()
	dir := t.TempDir()
	caddyfile := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte("{\n\tadmin off\n\tauto_https off\n\tstorage file_system "+dir+"\n}\n\n"+sites), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", caddyfile, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	waitListening(t, cmd, addr, syscall.SIGTERM, func() string { return "" })
}

// caddyVersion is the major and minor version `caddy version` reports.
func caddyVersion(t *testing.T, bin string) [2]int {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("caddy version: %v", err)
	}
	var v [2]int
	f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"))
	if len(f) == 0 {
		t.Fatalf("caddy version printed %q", out)
	}
	if _, err := fmt.Sscanf(f[0], "%d.%d", &v[0], &v[1]); err != nil {
		t.Fatalf("caddy version %q: %v", f[0], err)
	}
	return v
}

// missingProxy skips a real-proxy test when the proxy is absent, except
// under `make test` (WPAUTHZ_REQUIRE_PROXIES=1), which installs the proxies:
// there a missing binary is a failure, never a silent skip.
func missingProxy(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("WPAUTHZ_REQUIRE_PROXIES") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}
