// Package tokenflow drives the token endpoints and Basic authentication end
// to end over real HTTP: the sample policy folder (config/samples/local,
// with its demo users in WordPress's hash formats), compiled and served by
// the same handler chain as `wpauthz serve` (checks, token service), with
// one clock for the engine and the token service so expiry is testable.
package tokenflow

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/httpauth"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/tokenservice"
	"github.com/wpauthz/wpauthz/configdir"
)

const (
	janePassword = "jane-demo-password"
	janeApp      = "abcd EFGH ijkl MNOP qrst UVWX"
	samPassword  = "sam-demo-password"
	clientSecret = "demo-client-secret-0123456789abcdef"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	t     testing.TB
	srv   *httptest.Server
	clock *clock
	store store.Store
	ip    string // the client address the token service sees
	// mariadb: the users come from a real MariaDB (newMariaDBEnv).
	mariadb bool
	// snapshot is the policy set the engine serves.
	snapshot func() *policy.Snapshot
}

// bundle loads the sample folder and adds an OAuthClient for Basic.
func bundle(t testing.TB) policy.Bundle {
	l, err := configdir.NewLoader("../../config/samples/local", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Load()
	if err != nil {
		t.Fatal(err)
	}
	b.OAuthClients = append(b.OAuthClients, v1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Name: "reporting", Namespace: "default"},
		Spec: v1alpha1.OAuthClientSpec{
			PolicyRef: v1alpha1.PolicyReference{Name: "local"}, ClientID: "reporting-app",
			SecretRef: v1alpha1.SecretKeySelector{Name: "reporting-secret", Key: "secret"},
			Grants:    []v1alpha1.GrantType{"client_credentials"}, Roles: []v1alpha1.Role{"editor"},
		},
	})
	b.Secrets = append(b.Secrets, corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "reporting-secret", Namespace: "default"},
		Data:       map[string][]byte{"secret": []byte(clientSecret)},
	})
	return b
}

func newEnv(t testing.TB, edit func(*policy.Bundle)) *env {
	t.Helper()
	return newEnvOn(t, edit, nil)
}

// newEnvOn is newEnv with the token state in st (a Memory on the test
// clock when nil).
func newEnvOn(t testing.TB, edit func(*policy.Bundle), st func(now func() time.Time) store.Store) *env {
	t.Helper()
	b := bundle(t)
	if edit != nil {
		edit(&b)
	}
	snap, problems := policy.Compile(b, policy.Options{})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	e := &env{t: t, clock: &clock{t: time.Now().Truncate(time.Second)}, ip: "192.0.2.10"}
	if st == nil {
		st = func(now func() time.Time) store.Store { return store.NewMemory(now) }
	}
	e.store = st(e.clock.now)
	engine := authz.New(authz.Options{Now: e.clock.now, Store: e.store})
	engine.Swap(snap)
	e.snapshot = engine.Snapshot
	ts := tokenservice.New(tokenservice.Options{
		Snapshot: engine.Snapshot, Store: e.store, Now: e.clock.now,
		ClientIP: func(r *http.Request) string {
			if ip := r.Header.Get("X-Test-Client"); ip != "" {
				return ip
			}
			return e.ip
		},
	})
	e.srv = httptest.NewServer(httpauth.Route(httpauth.NewHandler(engine, nil), tokenservice.Route(ts, http.NotFoundHandler())))
	t.Cleanup(e.srv.Close)
	return e
}

type resp struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (e *env) do(method, path, contentType, body string, headers map[string]string) resp {
	e.t.Helper()
	return request(e.t, e.srv.URL, "localhost", method, path, contentType, body, headers)
}

// request sends one request to base with Host host and reads the answer.
func request(t testing.TB, base, host, method, path, contentType, body string, headers map[string]string) resp {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, body: string(b)}
	_ = json.Unmarshal(b, &r.json)
	return r
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

const formType = "application/x-www-form-urlencoded"

func (e *env) login(user, pass string) resp {
	e.t.Helper()
	return e.do("POST", "/wp-json/api/v1/token", formType, form("username", user, "password", pass), nil)
}

func (e *env) mustLogin(user, pass string) (access, refresh string) {
	e.t.Helper()
	r := e.login(user, pass)
	if r.status != 200 {
		e.t.Fatalf("login %s: %d %s", user, r.status, r.body)
	}
	return r.json["access_token"].(string), r.json["refresh_token"].(string)
}

// check asks the HTTP check endpoint about a request to WordPress.
func (e *env) check(method, path string, headers map[string]string) resp {
	e.t.Helper()
	return e.do(method, "/check"+path, "", "", headers)
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func basic(user, pass string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
}

func (r resp) code() string {
	c, _ := r.json["code"].(string)
	return c
}

func expect(t testing.TB, what string, r resp, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		t.Fatalf("%s: %d %s, want %d %s", what, r.status, r.body, status, code)
	}
}
