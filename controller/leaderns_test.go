package controller

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wpauthz/wpauthz/test/testbin"
)

// TestServeOutOfClusterLeaderElectionNamespace runs the real binary out of
// cluster (a kubeconfig, no service account) against the envtest API
// server. Without --leader-election-namespace it must refuse to start with
// a message that names the flag (not a Go field of controller-runtime);
// with the flag, or with POD_NAMESPACE as the chart sets it, it becomes
// ready and holds its Lease in that namespace.
//
// Not parallel: the binary watches every namespace, and as the Lease
// holder it would write status on the other tests' resources.
func TestServeOutOfClusterLeaderElectionNamespace(t *testing.T) {
	needEnv(t)
	bin := testbin.Wpauthz(t)
	dir := t.TempDir()
	kc, err := addAdmin(t, "wpauthz").KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	// The test's own environment, minus anything that would name a
	// namespace for the binary.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POD_NAMESPACE=") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	env = append(env, "KUBECONFIG="+kubeconfig)

	t.Run("without the flag", func(t *testing.T) {
		cmd := exec.Command(bin, "serve", "--grpc-addr", freeAddr(t), "--http-addr", freeAddr(t), "--log-format", "text")
		cmd.Env = env
		out, err := runWithin(t, cmd, 30*time.Second)
		if err == nil {
			t.Fatalf("serve started out of cluster without a Lease namespace; output:\n%s", out)
		}
		last := lastLine(out)
		if !strings.Contains(last, "--leader-election-namespace") || strings.Contains(out, "LeaderElectionNamespace") {
			t.Errorf("the error does not name the flag: %q", last)
		}
	})

	t.Run("with the flag", func(t *testing.T) {
		ns := newNamespace(t)
		serveUntilReady(t, bin, env, ns, "--leader-election-namespace", ns)
	})

	t.Run("with POD_NAMESPACE", func(t *testing.T) {
		ns := newNamespace(t)
		serveUntilReady(t, bin, append(env, "POD_NAMESPACE="+ns), ns)
	})
}

// serveUntilReady starts `wpauthz serve` with extra flags, waits for
// /readyz and for the Lease in leaseNS, then stops it with SIGTERM.
func serveUntilReady(t *testing.T, bin string, env []string, leaseNS string, extra ...string) {
	t.Helper()
	httpAddr := freeAddr(t)
	logs := &testbin.Log{}
	args := append([]string{"serve", "--grpc-addr", freeAddr(t), "--http-addr", httpAddr, "--log-format", "text"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = env
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
	eventually(t, 30*time.Second, func() error {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("wpauthz exited before it was ready: %v", err)
		default:
		}
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return &statusError{resp.StatusCode}
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		var lease coordinationv1.Lease
		return k8s.Get(context.Background(), types.NamespacedName{Namespace: leaseNS, Name: "wpauthz-status"}, &lease)
	})
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

type statusError struct{ code int }

func (e *statusError) Error() string { return "GET /readyz: " + http.StatusText(e.code) }

// runWithin runs cmd to its end and returns its combined output; a process
// still running after d is killed and reported.
func runWithin(t *testing.T, cmd *exec.Cmd, d time.Duration) (string, error) {
	t.Helper()
	logs := &testbin.Log{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return logs.String(), err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s still running after %s; output:\n%s", cmd.Path, d, logs.String())
		return "", nil
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
