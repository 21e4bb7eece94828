package controller

// The envtest suite: every test here runs against a real kube-apiserver
// and etcd (hack/build-envtest-binaries.sh builds them; `make test` points
// KUBEBUILDER_ASSETS at them). Each test works in namespaces of its own and
// starts its own managers, whose caches are limited to those namespaces,
// so tests do not see each other's resources and may run in parallel.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// Versions of the envtest binaries; keep in step with the Makefile.
const (
	envtestKubeVersion = "v1.37.2"
	envtestEtcdVersion = "v3.6.16"
)

var (
	testEnv    *envtest.Environment
	testCfg    *rest.Config
	testScheme *runtime.Scheme
	k8s        client.Client // uncached, as a user's kubectl
	assetsDir  string
	skipReason string
	nsCounter  atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	// controller-runtime complains once if no logger is set; tests that
	// want logs set WPAUTHZ_TEST_LOG=1.
	logf.SetLogger(testLogger())
	assetsDir = os.Getenv("KUBEBUILDER_ASSETS")
	if assetsDir == "" {
		assetsDir = filepath.Join("..", "bin", "envtest", "k8s-"+envtestKubeVersion+"-etcd-"+envtestEtcdVersion)
	}
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assetsDir, bin)); err != nil {
			skipReason = fmt.Sprintf("envtest binaries missing in %s (run hack/build-envtest-binaries.sh or `make test`)", assetsDir)
		}
	}
	if skipReason != "" {
		if os.Getenv("WPAUTHZ_REQUIRE_ENVTEST") != "" {
			fmt.Fprintln(os.Stderr, skipReason)
			return 1
		}
		return m.Run()
	}
	var err error
	if testScheme, err = NewScheme(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assetsDir,
		Scheme:                testScheme,
	}
	start := time.Now()
	if testCfg, err = testEnv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	if testing.Verbose() {
		fmt.Printf("envtest: kube-apiserver and etcd up in %s\n", time.Since(start).Round(time.Millisecond))
	}
	// No client-side throttling: the API server is ours alone.
	testCfg.QPS, testCfg.Burst = -1, 0
	if k8s, err = client.New(testCfg, client.Options{Scheme: testScheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func testLogger() logr.Logger {
	if os.Getenv("WPAUTHZ_TEST_LOG") == "" {
		return logr.Discard()
	}
	return logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func needEnv(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%s", nsCounter.Add(1), strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-")
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return name
}

// testManager is one wpauthz replica: a manager, its controllers and the
// engine they feed.
type testManager struct {
	name   string
	mgr    manager.Manager
	ctl    *Controller
	engine *authz.Engine
	cancel context.CancelFunc
	done   chan error
}

type managerOptions struct {
	name string
	// leaseNamespace holds the status-writer Lease; empty: the first namespace.
	leaseNamespace string
	identityKey    ed25519.PrivateKey
	now            func() time.Time
}

var processIdentityKey = func() ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}()

// startManager starts one replica watching namespaces and waits for its
// first snapshot. It is stopped when the test ends.
func startManager(t *testing.T, namespaces []string, o managerOptions) *testManager {
	t.Helper()
	if o.name == "" {
		o.name = "wpauthz"
	}
	if o.leaseNamespace == "" {
		o.leaseNamespace = namespaces[0]
	}
	if o.identityKey == nil {
		o.identityKey = processIdentityKey
	}
	defaultNS := map[string]cache.Config{}
	for _, ns := range namespaces {
		defaultNS[ns] = cache.Config{}
	}
	cfg := rest.CopyConfig(testCfg)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        testScheme,
		Logger:                        testLogger().WithValues("replica", o.name),
		Cache:                         cache.Options{DefaultNamespaces: defaultNS, DefaultTransform: cache.TransformStripManagedFields()},
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		LeaderElection:                true,
		LeaderElectionID:              "wpauthz-status",
		LeaderElectionNamespace:       o.leaseNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 ptr.To(4 * time.Second),
		RenewDeadline:                 ptr.To(3 * time.Second),
		RetryPeriod:                   ptr.To(250 * time.Millisecond),
		Controller:                    config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	engine := authz.New(authz.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	ctl, err := Setup(ctx, mgr, engine, Options{Compile: policy.Options{IdentityKey: o.identityKey}, Name: o.name, Now: o.now,
		StoreNamespace: o.leaseNamespace, Namespaces: namespaces})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tm := &testManager{name: o.name, mgr: mgr, ctl: ctl, engine: engine, cancel: cancel, done: make(chan error, 1)}
	go func() { tm.done <- mgr.Start(ctx) }()
	t.Cleanup(tm.stop)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := ctl.WaitForFirstSnapshot(wctx); err != nil {
		t.Fatalf("replica %s: no first snapshot: %v", o.name, err)
	}
	return tm
}

// stop stops the replica (idempotent).
func (tm *testManager) stop() {
	if tm.cancel == nil {
		return
	}
	tm.cancel()
	tm.cancel = nil
	select {
	case <-tm.done:
	case <-time.After(30 * time.Second):
		panic("manager did not stop")
	}
}

func (tm *testManager) isLeader() bool {
	select {
	case <-tm.mgr.Elected():
		return true
	default:
		return false
	}
}

// eventually polls cond every few milliseconds until it returns nil or the
// deadline passes, then fails the test with cond's last error.
func eventually(t *testing.T, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", within, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const waitFor = 20 * time.Second

// request is one check against an engine.
type request struct {
	method, host, target string
	headers              map[string]string
}

func get(host, target string, headers ...string) request {
	return req("GET", host, target, headers...)
}

func req(method, host, target string, headers ...string) request {
	h := map[string]string{}
	for i := 0; i+1 < len(headers); i += 2 {
		h[strings.ToLower(headers[i])] = headers[i+1]
	}
	return request{method: method, host: host, target: target, headers: h}
}

func (r request) String() string { return r.method + " " + r.host + r.target }

// decide returns the engine's decision for r: the HTTP status and code.
func decide(e *authz.Engine, r request) (int, string) {
	d := e.Check(context.Background(), &authz.Request{Method: r.method, Host: r.host, Target: r.target, Headers: r.headers})
	return d.Status, d.Code
}

// wantStatus waits until the engine answers r with want.
func wantStatus(t *testing.T, e *authz.Engine, r request, want int) {
	t.Helper()
	eventually(t, waitFor, func() error {
		if got, code := decide(e, r); got != want {
			return fmt.Errorf("%s: got %d %s, want %d", r, got, code, want)
		}
		return nil
	})
}

// mustStatus asserts the engine's answer now.
func mustStatus(t *testing.T, e *authz.Engine, r request, want int) {
	t.Helper()
	if got, code := decide(e, r); got != want {
		t.Fatalf("%s: got %d %s, want %d", r, got, code, want)
	}
}

// conditionsOf fetches an object and returns its observed generation,
// generation and conditions.
func conditionsOf(t *testing.T, obj client.Object) (observed, generation int64, conds []metav1.Condition, err error) {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		return 0, 0, nil, err
	}
	st := statusOf(obj)
	return *st.observedGeneration, obj.GetGeneration(), *st.conditions, nil
}

// wantCondition waits until obj's status describes its current generation
// and condition typ has status and reason.
func wantCondition(t *testing.T, obj client.Object, typ string, want metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var found *metav1.Condition
	eventually(t, waitFor, func() error {
		observed, gen, conds, err := conditionsOf(t, obj)
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(conds, typ)
		switch {
		case observed != gen:
			return fmt.Errorf("%s: observedGeneration %d, generation %d", obj.GetName(), observed, gen)
		case c == nil:
			return fmt.Errorf("%s: no %s condition", obj.GetName(), typ)
		case c.Status != want || c.Reason != reason || c.ObservedGeneration != gen:
			return fmt.Errorf("%s: %s is %s/%s (%s) for generation %d, want %s/%s", obj.GetName(), typ, c.Status, c.Reason, c.Message, c.ObservedGeneration, want, reason)
		}
		found = c
		return nil
	})
	return found
}

// update fetches obj, applies change and writes it, retrying on conflicts.
func update[T client.Object](t *testing.T, obj T, change func(T)) {
	t.Helper()
	eventually(t, waitFor, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return k8s.Update(context.Background(), obj)
	})
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

func del(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Delete(context.Background(), o); err != nil {
			t.Fatalf("deleting %T %s: %v", o, o.GetName(), err)
		}
	}
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// testPolicy is a policy for host: GET posts public, users disabled,
// everything else needs an identity; JWT (HS256, keys in jwtSecret) and
// API keys enabled.
func testPolicy(ns, name, host, jwtSecret string) *v1alpha1.WPApiPolicy {
	p := &v1alpha1.WPApiPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.WPApiPolicySpec{
			Hosts:         []v1alpha1.Host{v1alpha1.Host(host)},
			DefaultAction: v1alpha1.ActionAuthenticate,
			Rules: []v1alpha1.Rule{
				{Name: "posts", Routes: []string{"/wp/v2/posts", "/wp/v2/posts/*"}, Methods: []v1alpha1.HTTPMethod{"GET"}, Action: v1alpha1.ActionAllow},
				{Name: "users", Routes: []string{"/wp/v2/users/**"}, Action: v1alpha1.ActionDeny},
			},
			Authentication: v1alpha1.Authentication{APIKeys: &v1alpha1.APIKeyAuthentication{}},
		},
	}
	if jwtSecret != "" {
		p.Spec.Authentication.JWT = &v1alpha1.JWTAuthentication{
			Issuer: "https://" + host + "/wp-json", Algorithm: "HS256",
			KeysSecretRef: v1alpha1.SecretReference{Name: jwtSecret},
		}
	}
	return p
}

func testAPIKey(ns, name, policyName, secretName string, roles ...v1alpha1.Role) *v1alpha1.ApiKey {
	k := &v1alpha1.ApiKey{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.ApiKeySpec{PolicyRef: v1alpha1.PolicyReference{Name: policyName}, Roles: roles},
	}
	if secretName != "" {
		k.Spec.SecretRef = &v1alpha1.SecretKeySelector{Name: secretName, Key: "key"}
	}
	return k
}

var errNotYet = errors.New("not yet")
