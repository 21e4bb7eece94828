// Package standalone drives the built wpauthz binary in standalone mode
// (`serve --config-dir`) over real sockets: Envoy's gRPC protocol through
// go-control-plane's client and through grpcurl, the HTTP checks through
// net/http, hot reload, and graceful shutdown.
package standalone

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/test/freeport"
	"github.com/wpauthz/wpauthz/test/testbin"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

const (
	shopKey = "wpk_Q811t7tzsgHtvGO40sKeR67JUcNioR7Z_0ZD4R5"
	janeKey = "wpk_ZIs67t4U9loGQbsxqyEIGs85LlbDud6m_2DM8wG"
)

func freePort(t testing.TB) string { return freeport.Addr(t) }

type server struct {
	cmd      *exec.Cmd
	grpcAddr string
	httpAddr string
	logs     *testbin.Log
	done     chan error
}

// start runs the binary on the policy folder dir, with extra flags.
func start(t testing.TB, dir string, extra ...string) *server {
	t.Helper()
	s := &server{grpcAddr: freePort(t), httpAddr: freePort(t), logs: &testbin.Log{}, done: make(chan error, 1)}
	args := append([]string{"serve", "--config-dir", dir, "--grpc-addr", s.grpcAddr, "--http-addr", s.httpAddr, "--log-level", "debug"}, extra...)
	s.cmd = exec.Command(testbin.Wpauthz(t), args...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("server log:\n%s", s.logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + s.httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v\n%s", err, s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) mint(t *testing.T, dir string, userID int, role string) string {
	t.Helper()
	out, err := exec.Command(testbin.Wpauthz(t), "token", "mint", "--config-dir", dir, "--user-id", fmt.Sprint(userID), "--login", "u", "--role", role).Output()
	if err != nil {
		t.Fatalf("token mint: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func (s *server) httpCheck(t *testing.T, method, path string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.httpAddr+"/check"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = "/check" + strings.SplitN(path, "?", 2)[0] // send the path exactly as written
	req.Host = "localhost"
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestStandaloneBinary(t *testing.T) {
	dir := testbin.Samples(t)
	s := start(t, dir)
	editor := s.mint(t, dir, 2, "editor")
	subscriber := s.mint(t, dir, 3, "subscriber")

	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)

	grpcCases := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		status  int // HTTP status; 200 = OK
		code    codes.Code
	}{
		{"public", "GET", "/wp-json/wp/v2/posts", nil, 200, codes.OK},
		{"disabled", "GET", "/wp-json/wp/v2/users", nil, 404, codes.PermissionDenied},
		{"disabled via rest_route", "GET", "/?rest_route=/wp/v2/users", nil, 404, codes.PermissionDenied},
		{"anonymous write", "POST", "/wp-json/wp/v2/posts", nil, 401, codes.Unauthenticated},
		{"editor write", "POST", "/wp-json/wp/v2/posts", map[string]string{"authorization": "Bearer " + editor}, 200, codes.OK},
		{"subscriber write", "POST", "/wp-json/wp/v2/posts", map[string]string{"authorization": "Bearer " + subscriber}, 403, codes.PermissionDenied},
		{"shop key", "GET", "/wp-json/wc/v3/orders", map[string]string{"x-api-key": shopKey}, 200, codes.OK},
		{"editor key on orders", "GET", "/wp-json/wc/v3/orders", map[string]string{"x-api-key": janeKey}, 403, codes.PermissionDenied},
	}
	for _, c := range grpcCases {
		t.Run("grpc/"+c.name, func(t *testing.T) {
			resp, err := client.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
				Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
					Method: c.method, Host: "localhost", Path: c.path, Headers: c.headers,
				}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if codes.Code(resp.GetStatus().GetCode()) != c.code {
				t.Fatalf("grpc status %v, want %v", codes.Code(resp.GetStatus().GetCode()), c.code)
			}
			if c.status == 200 {
				if resp.GetOkResponse() == nil {
					t.Fatal("no OkResponse")
				}
				if c.headers != nil {
					h := resp.GetOkResponse().GetHeaders()
					if len(h) != 1 || h[0].GetHeader().GetKey() != "X-WPAuthz-Identity" ||
						h[0].GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
						t.Fatalf("identity header: %v", h)
					}
				}
				return
			}
			if got := int(resp.GetDeniedResponse().GetStatus().GetCode()); got != c.status {
				t.Fatalf("denied http status %d, want %d", got, c.status)
			}
		})
	}

	// The HTTP checks on the same engine.
	resp, body := s.httpCheck(t, "GET", "/WP-JSON/wp/v2//users/", nil)
	if resp.StatusCode != 404 || !strings.Contains(body, `"rest_no_route"`) {
		t.Fatalf("http disabled: %d %s", resp.StatusCode, body)
	}
	resp, body = s.httpCheck(t, "GET", "/wp-json/wp/v2/posts/../users", nil)
	if resp.StatusCode != 400 || !strings.Contains(body, "wpauthz_ambiguous_request") {
		t.Fatalf("http dot-dot: %d %s", resp.StatusCode, body)
	}
	resp, _ = s.httpCheck(t, "POST", "/wp-json/wp/v2/posts", map[string]string{"Authorization": "Bearer " + editor})
	if resp.StatusCode != 200 || resp.Header.Get("X-WPAuthz-Identity") == "" {
		t.Fatalf("http editor: %d %v", resp.StatusCode, resp.Header)
	}

	t.Run("grpcurl", func(t *testing.T) { grpcurlChecks(t, s, editor) })
	t.Run("reload", func(t *testing.T) { reload(t, s, dir) })

	// Graceful shutdown on SIGTERM.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		s.done <- err // for Cleanup
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, s.logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit within 20s of SIGTERM")
	}
}

// grpcurlPath finds the grpcurl that `make test` installs.
func grpcurlPath(t *testing.T) string {
	if p := os.Getenv("WPAUTHZ_GRPCURL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("grpcurl"); err == nil {
		return p
	}
	t.Fatal("grpcurl not found: run `make test` (it installs bin/grpcurl) or set WPAUTHZ_GRPCURL")
	return ""
}

// grpcurlChecks uses grpcurl, an independent client that learns the API
// from the server's reflection service.
func grpcurlChecks(t *testing.T, s *server, editor string) {
	bin := grpcurlPath(t)
	run := func(args ...string) string {
		out, err := exec.Command(bin, append([]string{"-plaintext"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("grpcurl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run(s.grpcAddr, "list"); !strings.Contains(out, "envoy.service.auth.v3.Authorization") || !strings.Contains(out, "grpc.health.v1.Health") {
		t.Fatalf("reflection list: %s", out)
	}
	if out := run("-d", `{"service":"envoy.service.auth.v3.Authorization"}`, s.grpcAddr, "grpc.health.v1.Health/Check"); !strings.Contains(out, "SERVING") {
		t.Fatalf("health: %s", out)
	}
	check := func(method, path, auth string) map[string]any {
		req := map[string]any{"attributes": map[string]any{"request": map[string]any{"http": map[string]any{
			"method": method, "host": "localhost", "path": path, "headers": map[string]string{"authorization": auth}}}}}
		b, _ := json.Marshal(req)
		var out map[string]any
		if err := json.Unmarshal([]byte(run("-d", string(b), s.grpcAddr, "envoy.service.auth.v3.Authorization/Check")), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	denied := check("GET", "/?rest_route=/WP/V2/USERS", "")
	if fmt.Sprint(denied["deniedResponse"].(map[string]any)["status"]) != "map[code:NotFound]" {
		t.Fatalf("grpcurl denied: %v", denied)
	}
	ok := check("POST", "/wp-json/wp/v2/posts", "Bearer "+editor)
	if _, has := ok["okResponse"]; !has {
		t.Fatalf("grpcurl allowed: %v", ok)
	}
}

// reload edits the folder while serving: a valid change is enforced, a
// broken one is refused and the last good policy stays.
func reload(t *testing.T, s *server, dir string) {
	path := filepath.Join(dir, "policy.yaml")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, want int) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, _ := s.httpCheck(t, "GET", "/wp-json/wp/v2/users", nil)
			if resp.StatusCode == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %d, want %d\n%s", what, resp.StatusCode, want, s.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("before", 404)
	// Open the users route to everyone.
	changed := strings.Replace(string(orig), "routes: [\"/wp/v2/users\"]\n      methods: [GET]\n      action: Deny", "routes: [\"/wp/v2/users\"]\n      methods: [GET]\n      action: Allow", 1)
	if changed == string(orig) {
		t.Fatal("sample policy changed shape; update the test")
	}
	writeAtomic(t, path, changed)
	waitFor("after valid edit", 200)

	// A broken edit (invalid enum) is refused; the last good policy stays.
	writeAtomic(t, path, strings.Replace(changed, "defaultAction: Authenticate", "defaultAction: Sometimes", 1))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.logs.String(), "Sometimes") {
		if time.Now().After(deadline) {
			t.Fatalf("broken edit not reported:\n%s", s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor("after broken edit", 200)
	if resp, _ := s.httpCheck(t, "GET", "/wp-json/wp/v2/settings", nil); resp.StatusCode != 404 {
		t.Fatalf("last good policy not in force: %d", resp.StatusCode)
	}
	// Secret material never reaches the log.
	if strings.Contains(s.logs.String(), "BEGIN PRIVATE KEY") || strings.Contains(s.logs.String(), shopKey) {
		t.Fatal("secret material in the log")
	}
}

func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
