package controller

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/test/freeport"
	"github.com/wpauthz/wpauthz/test/testbin"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

func freeAddr(t *testing.T) string { return freeport.Addr(t) }

// TestServeInCluster runs the real binary without --config-dir against the
// envtest API server: it becomes ready once its first snapshot is in,
// answers HTTP checks from a policy applied afterwards, writes status as
// the Lease holder, and stops cleanly on SIGTERM.
//
// Not parallel: the binary watches every namespace, and its status writes
// would disturb the other tests' counts.
func TestServeInCluster(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	dir := t.TempDir()
	bin := testbin.Wpauthz(t)
	user := addAdmin(t, "wpauthz")
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	idKey := filepath.Join(dir, "identity.seed")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idKey, processIdentityKey.Seed(), 0o600); err != nil {
		t.Fatal(err)
	}

	httpAddr := freeAddr(t)
	logs := &testbin.Log{}
	cmd := exec.Command(bin, "serve", "--grpc-addr", freeAddr(t), "--http-addr", httpAddr, "--identity-key", idKey,
		"--leader-election-namespace", ns, "--log-format", "text")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("wpauthz log:\n%s", logs.String())
		}
	})

	host := ns + ".example.com"
	httpStatus := func(path string) (int, error) {
		req, err := http.NewRequest("GET", "http://"+httpAddr+path, nil)
		if err != nil {
			return 0, err
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	wantHTTP := func(path string, want int) {
		t.Helper()
		eventually(t, 30*time.Second, func() error {
			got, err := httpStatus(path)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("GET %s%s: %d, want %d", host, path, got, want)
			}
			return nil
		})
	}
	wantHTTP("/readyz", 200)
	wantHTTP("/check/wp-json/wp/v2/posts", 403) // no policy for the host yet

	pol := testPolicy(ns, "site", host, "")
	create(t, pol)
	wantHTTP("/check/wp-json/wp/v2/posts", 200)
	wantHTTP("/check/wp-json/wp/v2/users/1", 404)
	wantCondition(t, pol, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	if owners := statusOwners(t, pol); len(owners) != 1 || owners[0] != DefaultName {
		t.Errorf("status written by %v, want %s", owners, DefaultName)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Fatalf("wpauthz exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("wpauthz did not stop on SIGTERM")
	}
}
