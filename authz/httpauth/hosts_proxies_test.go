package httpauth

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/configdir"
	"github.com/wpauthz/wpauthz/test/freeport"
)

// twoSites is the stage of the host tests: the real engine with two
// policies — weak.test allows everything, main.test (the sample policy)
// refuses /wp/v2/settings — behind this handler, and one stand-in
// WordPress per site that says which site served the request.
type twoSites struct {
	authz, weak, main string // addresses
}

const settingsPath = "/wp-json/wp/v2/settings"

func newTwoSites(t *testing.T) twoSites {
	t.Helper()
	l, err := configdir.NewLoader("../../config/samples/local", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Load()
	if err != nil {
		t.Fatal(err)
	}
	main := &b.Policies[0]
	weak := *main.DeepCopy()
	main.Spec.Hosts = []v1alpha1.Host{"main.test"}
	weak.Name, weak.Spec.Hosts = "weak", []v1alpha1.Host{"weak.test"}
	weak.Spec.DefaultAction, weak.Spec.Rules = v1alpha1.ActionAllow, nil
	b.Policies = append(b.Policies, weak)
	snap, problems := policy.Compile(b, policy.Options{})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	engine := authz.New(authz.Options{Store: store.NewMemory(nil)})
	engine.Swap(snap)
	authzSrv := httptest.NewServer(NewHandler(engine, nil))
	t.Cleanup(authzSrv.Close)
	site := func(name string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "served by %s", name)
		}))
		t.Cleanup(s.Close)
		return s.Listener.Addr().String()
	}
	return twoSites{authz: authzSrv.Listener.Addr().String(), weak: site("weak"), main: site("main")}
}

// hostSpellings are sent as the Host header, raw. Each must end either
// refused (by the proxy or by wpauthz) or served by the site whose policy
// wpauthz applied; "served by main" with a 200 is the bypass.
var hostSpellings = []string{
	"weak.test", "WEAK.Test", "weak.test:PORT", "weak.test.", "WEAK.TEST.", "weak.test.:PORT", "weak.test..",
	"weak.test:", "weak.test:http", "weak.test:PORT:1", "user@weak.test", "weak.test@main.test", "main.test:x@weak.test",
	"weak_test", "weak.test,main.test", "weak.test%2e", "main.test", "main.test.", "[::1]:PORT", "127.0.0.1:PORT",
}

// sendRaw sends a GET with a raw Host header and returns the status and
// body (status 0: the proxy closed the connection without answering).
func sendRaw(t *testing.T, addr, host, target string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, host)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// checkHostAgreement sends every spelling through the proxy at addr and
// fails on any that reaches the main site under the weak site's policy.
func checkHostAgreement(t *testing.T, proxy, addr string) {
	t.Helper()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	if st, body := sendRaw(t, addr, "weak.test", settingsPath); st != 200 || body != "served by weak" {
		t.Fatalf("%s: control weak.test: %d %q", proxy, st, body)
	}
	if st, body := sendRaw(t, addr, "main.test", settingsPath); st == 200 {
		t.Fatalf("%s: control main.test was allowed: %q", proxy, body)
	}
	t.Logf("%s: Host spelling → answer", proxy)
	for _, h := range hostSpellings {
		host := strings.ReplaceAll(h, "PORT", port)
		st, body := sendRaw(t, addr, host, settingsPath)
		t.Logf("  %-28q → %d %.70s", host, st, strings.TrimSpace(body))
		if st == 200 && body == "served by main" {
			t.Errorf("%s: Host %q was judged under weak.test's policy but served by the main site", proxy, host)
		}
	}
}

// TestHardening8_HostsAsCaddyRoutesThem: Caddy (the documented forward_auth
// block, twice: a weak.test site and a catch-all) does not strip a
// trailing dot, so `Host: weak.test.` is served by the catch-all; wpauthz
// must not judge it under weak.test's policy.
func TestHardening8_HostsAsCaddyRoutesThem(t *testing.T) {
	bin, err := exec.LookPath("caddy")
	if err != nil {
		missingProxy(t, "caddy not installed (apt-get install caddy)")
	}
	st := newTwoSites(t)
	addr := freeport.Addr(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	doc := docSnippet(t, "../../docs/integrations.md", "tested against a real Caddy", "```caddyfile")
	site := func(address, backend string) string {
		s := doc
		for from, to := range map[string]string{
			"shop.example.com {":                       address + " {\n\tbind 127.0.0.1",
			"wpauthz.wpauthz.svc.cluster.local:8080":   st.authz,
			"wordpress.wordpress.svc.cluster.local:80": backend,
		} {
			if !strings.Contains(s, from) {
				t.Fatalf("documented Caddyfile no longer mentions %q", from)
			}
			s = strings.ReplaceAll(s, from, to)
		}
		return s
	}
	runCaddy(t, bin, addr, site("http://weak.test:"+port, st.weak)+"\n"+site("http://:"+port, st.main))
	checkHostAgreement(t, "caddy", addr)
}

// TestHardening8_HostsAsNginxRoutesThem: the documented nginx server block,
// twice (weak.test, and main.test as the default server). nginx strips a
// trailing dot and sends wpauthz its $host, so both agree; the spellings
// nginx refuses never reach wpauthz.
func TestHardening8_HostsAsNginxRoutesThem(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/nginx"); statErr != nil {
			missingProxy(t, "nginx not installed (apt-get install nginx-light)")
		}
		bin = "/usr/sbin/nginx"
	}
	st := newTwoSites(t)
	addr := freeport.Addr(t)
	doc := docSnippet(t, "../../docs/integrations.md", "tested against a real nginx", "```nginx")
	if !strings.Contains(doc, "proxy_set_header X-Forwarded-Host $host;") {
		t.Fatal("documented nginx block no longer sends X-Forwarded-Host $host")
	}
	i := strings.Index(doc, "server {")
	if i < 0 {
		t.Fatal("documented nginx block has no server block")
	}
	upstreams, server := doc[:i], doc[i:]
	upstreams = strings.ReplaceAll(upstreams, "wpauthz.wpauthz.svc.cluster.local:8080", st.authz)
	upstreams = strings.ReplaceAll(upstreams, "wordpress.wordpress.svc.cluster.local:80", st.main)
	block := func(listen, name, backend string) string {
		s := server
		for from, to := range map[string]string{
			"listen 80;":                    "listen " + listen + ";",
			"server_name shop.example.com;": "server_name " + name + ";",
			"proxy_pass http://wordpress;":  "proxy_pass http://" + backend + ";",
		} {
			if !strings.Contains(s, from) {
				t.Fatalf("documented nginx block no longer mentions %q", from)
			}
			s = strings.ReplaceAll(s, from, to)
		}
		return s
	}
	runNginx(t, bin, addr, upstreams+block(addr, "weak.test", st.weak)+block(addr+" default_server", "main.test", st.main))
	checkHostAgreement(t, "nginx", addr)
}
