package configdir

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// waitTimeout bounds every wait for the watcher; the tests never sleep
// for a fixed time, they wait for apply calls or log records.
const waitTimeout = 15 * time.Second

// logRecorder is a slog handler that keeps the text of every record and
// announces each message on a channel.
type logRecorder struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	text slog.Handler
	msgs chan string
}

func newLogRecorder() *logRecorder {
	r := &logRecorder{msgs: make(chan string, 1000)}
	r.text = slog.NewTextHandler(&r.buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	return r
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	err := r.text.Handle(ctx, rec)
	r.mu.Unlock()
	select {
	case r.msgs <- rec.Message:
	default:
	}
	return err
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// waitLog waits for a record whose message starts with prefix.
func (r *logRecorder) waitLog(t *testing.T, prefix string) {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case m := <-r.msgs:
			if strings.HasPrefix(m, prefix) {
				return
			}
		case <-timeout:
			t.Fatalf("no log record %q; log so far:\n%s", prefix, r.String())
		}
	}
}

// watcher runs Loader.Watch in a goroutine and records apply calls.
type watcher struct {
	bundles chan policy.Bundle
	done    chan error
	cancel  context.CancelFunc
	log     *logRecorder

	mu      sync.Mutex
	applied int
	reject  func(policy.Bundle) error // optional
}

func startWatch(t *testing.T, dir string, reject func(policy.Bundle) error) *watcher {
	t.Helper()
	w := &watcher{
		bundles: make(chan policy.Bundle, 100),
		done:    make(chan error, 1),
		log:     newLogRecorder(),
		reject:  reject,
	}
	l, err := NewLoader(dir, slog.New(w.log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() {
		w.done <- l.Watch(ctx, func(b policy.Bundle) error {
			w.mu.Lock()
			w.applied++
			w.mu.Unlock()
			if w.reject != nil {
				if err := w.reject(b); err != nil {
					return err
				}
			}
			w.bundles <- b
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(waitTimeout):
			t.Error("Watch did not return after cancel")
		}
	})
	return w
}

func (w *watcher) applyCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.applied
}

// next waits for the next accepted bundle.
func (w *watcher) next(t *testing.T) policy.Bundle {
	t.Helper()
	select {
	case b := <-w.bundles:
		return b
	case err := <-w.done:
		t.Fatalf("Watch returned early: %v", err)
	case <-time.After(waitTimeout):
		t.Fatalf("apply was not called; log:\n%s", w.log.String())
	}
	return policy.Bundle{}
}

// nextWhere waits for an accepted bundle that satisfies ok.
func (w *watcher) nextWhere(t *testing.T, ok func(policy.Bundle) bool) policy.Bundle {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		if b := w.next(t); ok(b) {
			return b
		}
	}
	t.Fatalf("no matching bundle; log:\n%s", w.log.String())
	return policy.Bundle{}
}

func policyYAML(name string, hosts ...string) string {
	return `apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
metadata:
  name: ` + name + `
spec:
  hosts: [` + strings.Join(hosts, ", ") + `]
`
}

func apiKeyYAML(name string) string {
	return `apiVersion: policy.wpauthz.io/v1alpha1
kind: ApiKey
metadata:
  name: ` + name + `
spec:
  policyRef: {name: shop}
  roles: [editor]
`
}

func hosts(b policy.Bundle) []string {
	var out []string
	for _, p := range b.Policies {
		for _, h := range p.Spec.Hosts {
			out = append(out, string(h))
		}
	}
	return out
}

func hasHost(h string) func(policy.Bundle) bool {
	return func(b policy.Bundle) bool { return slices.Contains(hosts(b), h) }
}

func apiKeyNames(b policy.Bundle) []string {
	var out []string
	for _, k := range b.APIKeys {
		out = append(out, k.Name)
	}
	return out
}

func TestWatchAppliesInitialAndModifiedFolder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "a.example.com"))
	w := startWatch(t, dir, nil)

	first := w.next(t)
	if got := hosts(first); !slices.Equal(got, []string{"a.example.com"}) {
		t.Fatalf("initial hosts = %v", got)
	}
	if first.Policies[0].Spec.RestPrefix != "/wp-json" {
		t.Errorf("initial bundle is not defaulted: restPrefix %q", first.Policies[0].Spec.RestPrefix)
	}

	writeFile(t, dir, "policy.yaml", policyYAML("shop", "b.example.com"))
	b := w.nextWhere(t, hasHost("b.example.com"))
	if got := hosts(b); !slices.Equal(got, []string{"b.example.com"}) {
		t.Fatalf("reloaded hosts = %v, want [b.example.com]", got)
	}
	if b.Policies[0].Spec.DefaultAction != v1alpha1.ActionAuthenticate {
		t.Errorf("reloaded bundle is not defaulted: %q", b.Policies[0].Spec.DefaultAction)
	}
}

func TestWatchKeepsLastGoodOnBrokenFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "a.example.com"))
	w := startWatch(t, dir, nil)
	w.next(t)

	// A broken file (CEL violation) next to the good one: no apply.
	writeFile(t, dir, "keys.yaml", `apiVersion: policy.wpauthz.io/v1alpha1
kind: ApiKey
metadata: {name: broken}
spec:
  policyRef: {name: shop}
`)
	w.log.waitLog(t, "configuration not reloaded")
	if n := w.applyCount(); n != 1 {
		t.Fatalf("apply called %d times, want 1 (the broken folder must not be applied)", n)
	}
	select {
	case b := <-w.bundles:
		t.Fatalf("a broken folder was applied: %+v", b)
	default:
	}
	logged := w.log.String()
	for _, want := range []string{"invalid configuration", "keys.yaml", "kind=ApiKey", "name=broken", "field=spec", "a universal key (no user) needs at least one role"} {
		if !strings.Contains(logged, want) {
			t.Errorf("log does not mention %q:\n%s", want, logged)
		}
	}

	// Breaking the good file too changes nothing either.
	writeFile(t, dir, "policy.yaml", "apiVersion: [\n")
	w.log.waitLog(t, "configuration not reloaded")
	if n := w.applyCount(); n != 1 {
		t.Fatalf("apply called %d times, want 1", n)
	}

	// Fixing both applies the fixed folder.
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "c.example.com"))
	writeFile(t, dir, "keys.yaml", apiKeyYAML("fixed"))
	b := w.nextWhere(t, func(b policy.Bundle) bool {
		return hasHost("c.example.com")(b) && slices.Contains(apiKeyNames(b), "fixed")
	})
	if len(b.Policies) != 1 || len(b.APIKeys) != 1 {
		t.Fatalf("fixed bundle: %d policies, %d keys", len(b.Policies), len(b.APIKeys))
	}
}

func TestWatchAtomicRenameReplace(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "a.example.com"))
	w := startWatch(t, dir, nil)
	w.next(t)

	// What editors and config tools do: write a temporary file, then
	// rename it over the original.
	tmp := writeFile(t, dir, ".policy.yaml.tmp", policyYAML("shop", "renamed.example.com"))
	if err := os.Rename(tmp, filepath.Join(dir, "policy.yaml")); err != nil {
		t.Fatal(err)
	}
	b := w.nextWhere(t, hasHost("renamed.example.com"))
	if len(b.Policies) != 1 {
		t.Fatalf("got %d policies, want 1", len(b.Policies))
	}
}

func TestWatchCreateAndDeleteFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "a.example.com"))
	w := startWatch(t, dir, nil)
	w.next(t)

	writeFile(t, dir, "key.yml", apiKeyYAML("new-key"))
	w.nextWhere(t, func(b policy.Bundle) bool { return slices.Contains(apiKeyNames(b), "new-key") })

	if err := os.Remove(filepath.Join(dir, "key.yml")); err != nil {
		t.Fatal(err)
	}
	b := w.nextWhere(t, func(b policy.Bundle) bool { return len(b.APIKeys) == 0 })
	if len(b.Policies) != 1 {
		t.Fatalf("got %d policies after deleting the key file, want 1", len(b.Policies))
	}
}

// TestWatchConfigMapSymlinkSwap mimics how the kubelet updates a
// ConfigMap volume: the files are symlinks through ..data, and an update
// swaps ..data to a new timestamped folder with one atomic rename.
func TestWatchConfigMapSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, host string) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), "policy.yaml", policyYAML("shop", host))
	}
	version("..2026_01_01_00_00_00.000000001", "v1.example.com")
	if err := os.Symlink("..2026_01_01_00_00_00.000000001", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/policy.yaml", filepath.Join(dir, "policy.yaml")); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, dir, nil)
	if got := hosts(w.next(t)); !slices.Equal(got, []string{"v1.example.com"}) {
		t.Fatalf("initial hosts = %v", got)
	}

	version("..2026_01_01_00_01_00.000000002", "v2.example.com")
	if err := os.Symlink("..2026_01_01_00_01_00.000000002", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01_01_00_00_00.000000001")); err != nil {
		t.Fatal(err)
	}
	b := w.nextWhere(t, hasHost("v2.example.com"))
	if got := hosts(b); !slices.Equal(got, []string{"v2.example.com"}) {
		t.Fatalf("hosts after the swap = %v", got)
	}
}

func TestWatchSkipsUnchangedContent(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "a.example.com"))
	w := startWatch(t, dir, nil)
	w.next(t)

	// Not a resource file, and a rewrite with identical content.
	writeFile(t, dir, ".swp", "x")
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "a.example.com"))
	w.log.waitLog(t, "configuration unchanged")
	if n := w.applyCount(); n != 1 {
		t.Fatalf("apply called %d times for unchanged content, want 1", n)
	}
}

func TestWatchApplyRejectionKeepsWatching(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "a.example.com"))
	w := startWatch(t, dir, func(b policy.Bundle) error {
		if hasHost("rejected.example.com")(b) {
			return errors.New("host conflict")
		}
		return nil
	})
	w.next(t)

	writeFile(t, dir, "policy.yaml", policyYAML("shop", "rejected.example.com"))
	w.log.waitLog(t, "configuration rejected")
	if !strings.Contains(w.log.String(), "host conflict") {
		t.Errorf("the rejection reason is not logged:\n%s", w.log.String())
	}

	writeFile(t, dir, "policy.yaml", policyYAML("shop", "b.example.com"))
	w.nextWhere(t, hasHost("b.example.com"))
	if n := w.applyCount(); n != 3 {
		t.Fatalf("apply called %d times, want 3 (initial, rejected, accepted)", n)
	}
}

func TestWatchFailsWhenFirstLoadFails(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "Not_A_Host"))
	l, err := NewLoader(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	called := false
	err = l.Watch(context.Background(), func(policy.Bundle) error { called = true; return nil })
	if err == nil {
		t.Fatal("Watch of a broken folder returned nil")
	}
	if called {
		t.Error("apply was called for a broken folder")
	}
	var de *Error
	if !errors.As(err, &de) || de.Field != "spec.hosts[0]" {
		t.Errorf("Watch error %v does not carry the problem", err)
	}
}

func TestWatchFailsWhenFirstApplyFails(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "a.example.com"))
	l, err := NewLoader(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	rejected := errors.New("no thanks")
	if err := l.Watch(context.Background(), func(policy.Bundle) error { return rejected }); !errors.Is(err, rejected) {
		t.Fatalf("Watch = %v, want the apply error", err)
	}
}

func TestWatchReturnsOnCancel(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "a.example.com"))
	l, err := NewLoader(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	applied := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- l.Watch(ctx, func(policy.Bundle) error { applied <- struct{}{}; return nil })
	}()
	select {
	case <-applied:
	case <-time.After(waitTimeout):
		t.Fatal("apply was not called")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Watch returned %v after cancel, want nil", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Watch did not return after cancel")
	}
}

func TestWatchLogsNoSecretValues(t *testing.T) {
	const value = "s3cr3t-VALUE-never-logged"
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "a.example.com")+`---
apiVersion: v1
kind: Secret
metadata: {name: shop-keys}
stringData:
  k1: `+value+`
`)
	w := startWatch(t, dir, nil)
	w.next(t)
	writeFile(t, dir, "bad-secret.yaml", `apiVersion: v1
kind: Secret
metadata: {name: bad}
data:
  k1: "`+value+`"
`)
	w.log.waitLog(t, "configuration not reloaded")
	logged := w.log.String()
	if strings.Contains(logged, "VALUE") {
		t.Fatalf("the log contains a secret value:\n%s", logged)
	}
	if !strings.Contains(logged, "default/shop-keys") || !strings.Contains(logged, "data[k1]") {
		t.Errorf("the log should name the secrets and the bad key:\n%s", logged)
	}
}

func TestWatchSurvivesFolderRemoval(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conf")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "a.example.com"))
	w := startWatch(t, dir, nil)
	w.next(t)

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	w.log.waitLog(t, "config dir removed")
	if n := w.applyCount(); n != 1 {
		t.Fatalf("apply called %d times after the folder was removed, want 1", n)
	}

	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "back.example.com"))
	w.nextWhere(t, hasHost("back.example.com"))

	// The new folder is watched again.
	w.log.waitLog(t, "config dir is back")
	writeFile(t, dir, "policy.yaml", policyYAML("shop", "again.example.com"))
	w.nextWhere(t, hasHost("again.example.com"))
}
